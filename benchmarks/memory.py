"""Memory and CPU of importing the app, against Reflex itself measured in the same run.

Target (PRODUCT.md §6): "Memory per worker within 1.5x a bare Reflex app."

Every figure comes from a fresh Python process (``python -c``) that imports one thing and
reports its resident set (``VmRSS``), its peak (``VmHWM``) and the CPU seconds it spent:

* ``import reflex``: the package alone. Reflex loads its parts lazily, so this is
  little more than the interpreter; it is the floor, not the target's reference;
* a bare Reflex app: ``rx.App()`` with one page, what "a bare Reflex app" costs a worker
  (the verdict's reference);
* the app: ``pyairtable_ui.pyairtable_ui``, the module ``rxconfig`` names, as every
  process that imports the app loads it (a worker, the page build, ``manage``, tests);
* the app and litellm: what a worker holds once it has made its first model call.

Below the table, the packages that are only needed for some requests (litellm and the
OpenAI SDK, the password estimator zxcvbn) are listed with whether importing the app
loaded them. The median of ``--runs`` processes is printed (default 3).

Run: ``python -m benchmarks.memory [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ROOT,
    app_settings_env,
    exit_cleanly_on_sigterm,
    offline_defaults,
    print_table,
    verdict,
)

TARGET_RATIO = 1.5
# Loaded only by some requests (a model call, setting a password); importing the app
# should not load them. (Alembic is not among them: every worker migrates at start.)
OPTIONAL = (
    "litellm",
    "openai",
    "zxcvbn",
    "alembic",
    "pyairtable",
    "joserfc",
    "authlib.integrations.httpx_client",
    "cryptography.fernet",
)

_REPORT = """
import json, resource, sys
OPTIONAL = __OPTIONAL__
def _kb(key):
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1])
    return 0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    'rss_kb': _kb('VmRSS'), 'peak_kb': _kb('VmHWM'),
    'cpu_s': usage.ru_utime + usage.ru_stime,
    'loaded': [m for m in OPTIONAL if m in sys.modules],
}))
"""

PROBES = {
    "import reflex": "import reflex",
    "bare Reflex app (1 page)": (
        "import reflex as rx\napp = rx.App()\napp.add_page(lambda: rx.text('hello'), route='/')\n"
    ),
    "the app (pyairtable_ui.pyairtable_ui)": "import pyairtable_ui.pyairtable_ui",
    "the app + litellm (after a model call)": (
        "import pyairtable_ui.pyairtable_ui\n"
        "from pyairtable_ui.llm.loading import litellm_module\n"
        "litellm_module()\n"
    ),
}


def measure(code: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter and return what it reports about itself."""
    done = subprocess.run(
        [sys.executable, "-c", code + "\n" + _REPORT.replace("__OPTIONAL__", repr(OPTIONAL))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per probe (median)")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    offline_defaults()
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        # Importing the app reads its settings; nothing is migrated or served.
        app_settings_env(
            database_url=f"sqlite:///{Path(tmp) / 'app.db'}", airtable_url="http://127.0.0.1:9"
        )
        env = dict(os.environ)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in PROBES}
        # Interleaved, so a burst of load on the shared cores does not hit one probe only.
        for _ in range(max(1, args.runs)):
            for name, code in PROBES.items():
                results[name].append(measure(code, env))

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in results[name])

    floor = median("import reflex", "rss_kb")
    bare = median("bare Reflex app (1 page)", "rss_kb")
    rows = []
    for name in PROBES:
        rss = median(name, "rss_kb")
        rows.append(
            [
                name,
                rss / 1024,
                median(name, "peak_kb") / 1024,
                median(name, "cpu_s"),
                f"{rss / floor:.1f}x",
                f"{rss / bare:.2f}x",
            ]
        )
    print_table(
        f"Fresh process after importing (median of {max(1, args.runs)})",
        ["process", "RSS MB", "peak MB", "CPU s", "/ reflex", "/ bare app"],
        rows,
    )
    app_name = "the app (pyairtable_ui.pyairtable_ui)"
    loaded = results[app_name][0]["loaded"]
    print(
        "\n  optional packages loaded by importing the app: "
        + (", ".join(loaded) if loaded else "none")
        + f" (of {', '.join(OPTIONAL)})"
    )
    print(f"\n  ({time.monotonic() - started:.1f} s)")

    app_rss = median(app_name, "rss_kb")
    worker_rss = median("the app + litellm (after a model call)", "rss_kb")
    ratio = app_rss / bare
    verdict(
        ratio <= TARGET_RATIO,
        f"importing the app: {app_rss / 1024:.0f} MB = {ratio:.2f}x a bare Reflex app "
        f"({bare / 1024:.0f} MB; target <= {TARGET_RATIO}x), {app_rss / floor:.1f}x "
        f"`import reflex`; with litellm loaded {worker_rss / 1024:.0f} MB "
        f"({worker_rss / bare:.2f}x).",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
