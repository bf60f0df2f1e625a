"""One app process's scheduler, for the two-process test (`python -m` this module).

It launches the engine on DATABASE_URL for a while and notes each run it answers (the
answer itself is a stub: the test is about who runs which tick, not about the turn).

Usage: python -m tests.unit.schedules.engine_process OUT_FILE SECONDS [SCHEDULE_ID]
With SCHEDULE_ID it also creates that schedule's timer once started.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from sqlmodel import Session

from pyairtable_ui.core.db import get_engine
from pyairtable_ui.schedules import engine
from pyairtable_ui.schedules.models import Schedule


def main() -> None:
    out, seconds = sys.argv[1], float(sys.argv[2])

    def answer(run_id: int) -> dict[str, Any]:
        with open(out, "a", encoding="utf-8") as notes:
            notes.write(f"{os.getpid()} {run_id}\n")
        return {
            "answered": True,
            "answer": "noted",
            "error": None,
            "conversation_id": None,
            "proposed_actions": 0,
        }

    engine._answer = answer  # type: ignore[assignment]
    engine.launch()
    if len(sys.argv) > 3:
        with Session(get_engine()) as session:
            schedule = session.get(Schedule, int(sys.argv[3]))
            assert schedule is not None
        engine.put(schedule)
    time.sleep(seconds)
    engine.shutdown()


if __name__ == "__main__":
    main()
