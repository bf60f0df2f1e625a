"""The tool tests share the Airtable layer's fixtures (redis_server comes from tests/unit)."""

from tests.unit.airtable.conftest import (
    aggregate_cache,
    airtable_emulator,
    airtable_emulator_factory,
    client,
    ctx,
    make_client,
    make_ctx,
    other_user_id,
    redis_prefix,
    registry,
    schema_cache,
    session_factory,
    user_id,
    write_ctx,
)

__all__ = [
    "aggregate_cache",
    "airtable_emulator",
    "airtable_emulator_factory",
    "client",
    "ctx",
    "make_client",
    "make_ctx",
    "other_user_id",
    "redis_prefix",
    "registry",
    "schema_cache",
    "session_factory",
    "user_id",
    "write_ctx",
]
