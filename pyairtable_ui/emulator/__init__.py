"""A local HTTP emulator of the Airtable Web API: the sample base's engine and the tests' Airtable.

The product reaches it only through :mod:`pyairtable_ui.sample` (an import contract says so).

Start it in-process::

    from pyairtable_ui.emulator import AirtableEmulator
    from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_FULL, build_seed

    with AirtableEmulator(build_seed(), rate_limit=0) as emulator:
        table = pyairtable.Api(TOKEN_FULL, endpoint_url=emulator.url).table(BASE_CRM_ID, "Deals")
        table.all(formula="{Stage} = 'Won'")

or as a process (from the repository root)::

    python -m pyairtable_ui.emulator --port 8787 --seed pyairtable_ui/emulator/seeds/demo.json

Pytest fixtures live in ``tests/fakes/airtable_fixtures.py``.
"""

from .errors import ApiError
from .seeds import DEMO_SEED_PATH, build_seed
from .server import AirtableEmulator
from .state import EmulatorState, SeedError, load_seed

__all__ = [
    "DEMO_SEED_PATH",
    "AirtableEmulator",
    "ApiError",
    "EmulatorState",
    "SeedError",
    "build_seed",
    "load_seed",
]
