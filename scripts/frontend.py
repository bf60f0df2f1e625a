"""The page is built once (scripts/build.sh) and every start serves that build as it is.

`reflex run --env prod` builds the page again at every start, and each build names its
assets differently: two replicas (or one after a restart) would serve pages whose
scripts the other does not have. So the build is stamped with a key of what it was
built from, and the app is started from that build without building:

    python scripts/frontend.py key             # prints the key of the current source
    python scripts/frontend.py current         # exit 0 if .web/build matches it
    python scripts/frontend.py stamp KEY       # after a successful build (build.sh)
    python scripts/frontend.py serve --host H --port P [--loglevel L]

The key covers the files the page is compiled from and the settings baked into it:
the backend address the page connects to (REFLEX_API_URL, derived from PUBLIC_URL in
rxconfig.py) and ANSWER_IMAGE_HOSTS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the page is compiled from; Python caches and the build itself are not.
SOURCES = ("pyairtable_ui", "assets", "rxconfig.py", "requirements.txt", "constraints.txt")
STAMP_NAME = "source.key"
# Backend processes with Redis when WEB_WORKERS is unset; each idles at about 250 MB.
DEFAULT_WORKERS = 2


def _source_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(files)


def build_key() -> str:
    """The key of the source and build-time settings (the same in any folder)."""
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from reflex_base import constants
    from reflex_base.config import get_config

    from pyairtable_ui.core.settings import get_settings

    get_config()  # rxconfig.py sets the backend address (api_url) the page is built with
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    baked = {
        "endpoints": {endpoint.name: endpoint.get_url() for endpoint in constants.Endpoint},
        "answer_image_hosts": get_settings().answer_image_hosts,
    }
    digest.update(json.dumps(baked, sort_keys=True).encode())
    return digest.hexdigest()


def _build_dir() -> Path:
    from reflex_base import constants
    from reflex_base.environment import environment

    web = environment.REFLEX_WEB_WORKDIR.get()
    return (web if web.is_absolute() else ROOT / web) / constants.Dirs.BUILD_DIR


def build_is_current() -> bool:
    """Whether the build folder holds a finished build of the current source."""
    key = build_key()
    stamp = _build_dir() / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == key


def worker_count() -> int:
    """How many backend processes to start: WEB_WORKERS with Redis, else one.

    Reflex's own default is 2 x cores + 1 (5 on 2 cores, 1.6 GB idle). Without Redis the
    state of every open page lives in the one process's memory, so there is only one.
    """
    from pyairtable_ui.core.settings import get_settings

    wanted = os.environ.get("WEB_WORKERS", "").strip()
    if not get_settings().redis_url:
        if wanted not in ("", "1"):
            print("WEB_WORKERS is ignored without REDIS_URL: one process holds the state.")
        return 1
    if not wanted:
        return DEFAULT_WORKERS
    if not wanted.isdigit() or int(wanted) < 1:
        sys.exit(f"WEB_WORKERS must be a whole number of processes, 1 or more (got {wanted!r}).")
    return int(wanted)


def serve(host: str, port: int, loglevel: str) -> None:
    """Serve the built page, API and websocket on one port, as `reflex run --env prod
    --single-port` does after its build, without compiling or building anything."""
    if not build_is_current():
        sys.exit(
            "The page in the build folder was not built from this source and these "
            "settings (PUBLIC_URL, REFLEX_API_URL, ANSWER_IMAGE_HOSTS). Run scripts/build.sh."
        )
    import atexit

    from reflex.istate.manager import reset_disk_state_manager
    from reflex.utils import exec, processes
    from reflex_base import constants
    from reflex_base.config import get_config
    from reflex_base.environment import environment
    from reflex_base.utils import console

    workers = worker_count()
    # Reflex starts Granian, which reads its worker count here.
    os.environ["GRANIAN_WORKERS"] = str(workers)
    print(f"Serving the built page with {workers} backend process(es) on {host}:{port}.")
    level = constants.LogLevel(loglevel)
    console.set_log_level(level)
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    # The backend's own compile would only rewrite .web sources nobody builds again.
    environment.REFLEX_SKIP_COMPILE.set(True)
    get_config()._set_persistent(frontend_port=port, backend_port=port)
    reset_disk_state_manager()
    atexit.register(processes.atexit_handler)
    exec.notify_app_running()
    exec.run_backend_prod(host, port, level.subprocess_level(), mount_frontend_compiled_app=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("key")
    commands.add_parser("current")
    stamp = commands.add_parser("stamp")
    stamp.add_argument("key")
    run = commands.add_parser("serve")
    run.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens on all
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--loglevel", default="info")
    args = parser.parse_args()
    if args.command == "key":
        print(build_key())
    elif args.command == "current":
        sys.exit(0 if build_is_current() else 1)
    elif args.command == "stamp":
        build_key()  # loads the config, so the build folder is the one Reflex used
        (_build_dir() / STAMP_NAME).write_text(args.key + "\n")
    else:
        serve(args.host, args.port, args.loglevel)


if __name__ == "__main__":
    main()
