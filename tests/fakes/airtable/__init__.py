"""A local HTTP emulator of the Airtable Web API for tests and benchmarks.

Start it in-process::

    from tests.fakes.airtable import AirtableEmulator
    from tests.fakes.airtable.seeds import BASE_CRM_ID, TOKEN_FULL, build_seed

    with AirtableEmulator(build_seed(), rate_limit=0) as emulator:
        table = pyairtable.Api(TOKEN_FULL, endpoint_url=emulator.url).table(BASE_CRM_ID, "Deals")
        table.all(formula="{Stage} = 'Won'")

or as a process (from the repository root)::

    python -m tests.fakes.airtable --port 8787 --seed tests/fakes/airtable/seeds/demo.json

Pytest fixtures live in :mod:`tests.fakes.airtable.fixtures`.
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
