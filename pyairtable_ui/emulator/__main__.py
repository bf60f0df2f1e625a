"""Run the Airtable emulator until stopped.

Usage (from the repository root)::

    python -m pyairtable_ui.emulator --port 8787 --seed pyairtable_ui/emulator/seeds/demo.json \
        [--host 127.0.0.1] [--rate-limit 5] [--penalty-seconds 30] [--verbose]

Prints ``Airtable emulator listening on http://HOST:PORT`` once it accepts connections; stops
cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .seeds import DEMO_SEED_PATH
from .server import AirtableEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m pyairtable_ui.emulator", description="Run the Airtable Web API emulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 = any free)")
    parser.add_argument(
        "--seed", default=str(DEMO_SEED_PATH), help="JSON seed file (default: the demo seed)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument(
        "--rate-limit", type=int, default=5, help="requests per second per base (0 = off)"
    )
    parser.add_argument(
        "--penalty-seconds",
        type=float,
        default=30.0,
        help="how long a base stays blocked after 429",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the emulator and block until interrupted."""
    args = parse_args(argv)
    emulator = AirtableEmulator(
        args.seed,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        penalty_seconds=args.penalty_seconds,
        verbose=args.verbose,
    ).start()
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"Airtable emulator listening on {emulator.url}", flush=True)
    try:
        # A timeout keeps the main thread responsive to signals.
        while not stopped.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("Airtable emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
