"""Runs one action in a process of its own, so a test can kill it with SIGKILL midway.

python -m tests.unit.actions.worker DATABASE_URL USER_ID ACTION_ID AIRTABLE_URL
"""

from __future__ import annotations

import sys

# Every table the actions' foreign keys point at must be known, as in the app.
import pyairtable_ui.models  # noqa: F401
from pyairtable_ui.actions.execution import execute_action
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.limiter import InProcessRequestPacer
from pyairtable_ui.core.db import make_engine, session_factory_for
from pyairtable_ui.emulator.seeds import TOKEN_FULL
from tests.unit.airtable.conftest import FAST_RETRIES


def main(database_url: str, user_id: str, action_id: str, airtable_url: str) -> None:
    client = AirtableClient(
        TOKEN_FULL,
        api_url=airtable_url,
        limiter=InProcessRequestPacer(1000),
        retry_policy=FAST_RETRIES,
        counter=None,
    )
    execute_action(
        session_factory=session_factory_for(make_engine(database_url)),
        user_id=int(user_id),
        action_id=int(action_id),
        client=client,
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
