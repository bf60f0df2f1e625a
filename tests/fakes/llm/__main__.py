"""Run the scripted LLM as a process: ``python -m tests.fakes.llm --port PORT``.

Run from the repository root. It serves until SIGINT or SIGTERM. The first
line on stdout is ``scripted-llm listening on <url> ...`` so a parent process
(e.g. a test starting it with ``--port 0``) can read the port back.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from tests.fakes.llm.server import ScriptedLLM
from tests.fakes.llm.tour import tour_reply


def load_script(path: Path) -> tuple[list[Any], str | None]:
    """Read a script file.

    Args:
        path: JSON file holding a list of replies, or an object
            ``{"replies": [...], "model": optional}`` (the ``/_script/queue``
            body).

    Returns:
        The replies (in ``Reply.from_dict`` form) and the model they are for.

    Raises:
        ValueError: When the file is not one of those shapes.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and isinstance(data.get("replies"), list):
        return data["replies"], data.get("model")
    raise ValueError(f"{path}: expected a JSON list of replies or {{'replies': [...]}}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve, and return the exit status.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        0 after a clean stop.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.llm",
        description="Scripted OpenAI-compatible LLM (a test double; not a real model).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--script", type=Path, help="JSON file of replies to preload")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="answer a canned, clearly labelled demo text when nothing is queued",
    )
    parser.add_argument(
        "--tour",
        action="store_true",
        help="answer the sample base's example questions with real tool calls (make demo)",
    )
    parser.add_argument("--verbose", action="store_true", help="log each HTTP request")
    args = parser.parse_args(argv)

    llm = ScriptedLLM(
        args.host,
        args.port,
        demo=args.demo,
        verbose=args.verbose,
        responder=tour_reply if args.tour else None,
    )
    if args.script is not None:
        try:
            replies, model = load_script(args.script)
            llm.queue(*replies, model=model)
        except (OSError, ValueError) as exc:
            parser.error(f"--script: {exc}")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    llm.start()
    mode = " (tour mode)" if args.tour else " (demo mode)" if args.demo else ""
    print(
        f"scripted-llm listening on {llm.url} (api_base {llm.api_base}){mode}; "
        f"{llm.pending()} reply(ies) preloaded",
        flush=True,
    )
    try:
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    finally:
        llm.stop()
    print("scripted-llm stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
