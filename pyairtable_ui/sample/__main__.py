"""Run the sample server for one data folder (started by `pyairtable_ui.sample.manager`).

Usage::

    SAMPLE_CONTROL_KEY=... python -m pyairtable_ui.sample FOLDER

Binds a free port on 127.0.0.1, then writes ``FOLDER/server.json`` (url, pid, key; readable
by this account only) for the app's workers to find it. Stops on SIGTERM or SIGINT, and on
its own when the process that started it is gone (a worker restarted by its supervisor),
so no server outlives the app; the next worker that needs it starts a new one.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pyairtable_ui.sample.host import SampleHost
from pyairtable_ui.sample.manager import CONTROL_KEY_VARIABLE, write_server_record


def main(argv: list[str]) -> int:
    """Serve until stopped or orphaned."""
    key = os.environ.get(CONTROL_KEY_VARIABLE, "")
    if len(argv) != 2 or not key:
        print(f"usage: {CONTROL_KEY_VARIABLE}=... python -m pyairtable_ui.sample FOLDER")
        return 2
    folder = Path(argv[1])
    parent = os.getppid()
    host = SampleHost(folder, key=key).start()
    write_server_record(folder, url=host.url, pid=os.getpid(), key=key)
    stopped = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopped.wait(1.0):
            if os.getppid() != parent:
                break
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
