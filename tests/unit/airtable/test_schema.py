"""Base schemas: cached per base across turns, refreshed on demand, told compactly."""

from __future__ import annotations

import json
import time

import pytest

from pyairtable_ui.airtable.errors import AirtablePermissionError
from pyairtable_ui.airtable.schema import (
    BaseSchema,
    InProcessSchemaCache,
    RedisSchemaCache,
    UnknownFieldError,
    UnknownTableError,
    estimate_tokens,
    get_base_schema,
    invalidate,
    render_schema,
    render_table,
    schema_for_prompt,
)
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_CRM_ONLY, TOKEN_NO_BASES
from pyairtable_ui.tools import build_registry
from tests.unit.conftest import REDIS_URL

SCHEMA_ENDPOINT = "GET /v0/meta/bases/{baseId}/tables"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def schema_fetches(emulator) -> int:
    return emulator.stats()["by_endpoint"].get(SCHEMA_ENDPOINT, 0)


def test_schema_is_fetched_once_across_turns(airtable_emulator, make_client, schema_cache):
    first_turn, second_turn = make_client(airtable_emulator), make_client(airtable_emulator)

    one = get_base_schema(first_turn, BASE_CRM_ID, cache=schema_cache, ttl=300)
    two = get_base_schema(second_turn, BASE_CRM_ID, cache=schema_cache, ttl=300)

    assert schema_fetches(airtable_emulator) == 1
    assert (
        [t.name for t in two.tables]
        == [t.name for t in one.tables]
        == [
            "Companies",
            "Contacts",
            "Deals",
        ]
    )
    assert second_turn.calls == 0


def test_schema_is_fetched_again_after_invalidate_or_expiry(airtable_emulator, make_client):
    clock = FakeClock()
    cache = InProcessSchemaCache(clock=clock)
    client = make_client(airtable_emulator)
    get_base_schema(client, BASE_CRM_ID, cache=cache, ttl=60)
    invalidate(BASE_CRM_ID, cache=cache)
    get_base_schema(client, BASE_CRM_ID, cache=cache, ttl=60)
    assert schema_fetches(airtable_emulator) == 2

    clock.now += 59
    get_base_schema(client, BASE_CRM_ID, cache=cache, ttl=60)
    assert schema_fetches(airtable_emulator) == 2
    clock.now += 2
    get_base_schema(client, BASE_CRM_ID, cache=cache, ttl=60)
    assert schema_fetches(airtable_emulator) == 3

    get_base_schema(client, BASE_CRM_ID, cache=cache, ttl=60, force=True)
    assert schema_fetches(airtable_emulator) == 4


def test_zero_ttl_never_caches(airtable_emulator, make_client, schema_cache):
    client = make_client(airtable_emulator)
    get_base_schema(client, BASE_CRM_ID, cache=schema_cache, ttl=0)
    get_base_schema(client, BASE_CRM_ID, cache=schema_cache, ttl=0)
    assert schema_fetches(airtable_emulator) == 2


def test_another_token_must_prove_access_before_using_the_cache(
    airtable_emulator, make_client, schema_cache
):
    get_base_schema(make_client(airtable_emulator), BASE_CRM_ID, cache=schema_cache, ttl=300)
    # A token without access to the base does not get the cached schema.
    with pytest.raises(AirtablePermissionError):
        get_base_schema(
            make_client(airtable_emulator, token=TOKEN_NO_BASES),
            BASE_CRM_ID,
            cache=schema_cache,
            ttl=300,
        )
    # A token with access fetches once, then shares the entry like the first.
    for _ in range(2):
        get_base_schema(
            make_client(airtable_emulator, token=TOKEN_CRM_ONLY),
            BASE_CRM_ID,
            cache=schema_cache,
            ttl=300,
        )
    assert schema_fetches(airtable_emulator) == 3
    entry = schema_cache.get(BASE_CRM_ID)
    assert entry is not None and len(entry["seen_by"]) == 2
    assert TOKEN_CRM_ONLY not in json.dumps(entry)


def test_redis_cache_is_shared_by_processes(
    airtable_emulator, make_client, redis_server, redis_prefix
):
    import redis

    first = RedisSchemaCache(redis.Redis.from_url(REDIS_URL), prefix=redis_prefix)
    second = RedisSchemaCache(redis.Redis.from_url(REDIS_URL), prefix=redis_prefix)
    get_base_schema(make_client(airtable_emulator), BASE_CRM_ID, cache=first, ttl=30)
    schema = get_base_schema(make_client(airtable_emulator), BASE_CRM_ID, cache=second, ttl=30)
    assert schema_fetches(airtable_emulator) == 1
    assert schema.table("Deals").field("Stage").choices[:2] == ["Lead", "Qualified"]
    ttl = redis_server.pttl(redis_prefix + BASE_CRM_ID)
    assert 0 < ttl <= 30_000
    # Only the schema is stored: no record values.
    assert "Acme Corp" not in redis_server.get(redis_prefix + BASE_CRM_ID).decode()
    invalidate(BASE_CRM_ID, cache=second)
    assert first.get(BASE_CRM_ID) is None


def test_names_resolve_in_any_case_and_unknown_names_suggest(client, schema_cache):
    schema = get_base_schema(client, BASE_CRM_ID, cache=schema_cache, ttl=300)
    contacts = schema.table("  contacts ")
    assert contacts.id == schema.table(contacts.id).id
    assert contacts.field("last  contacted").name == "Last Contacted"
    assert contacts.primary_field.name == "Name"

    with pytest.raises(UnknownTableError) as table_error:
        schema.table("Contcts")
    assert 'Did you mean "Contacts"?' in table_error.value.message
    with pytest.raises(UnknownFieldError) as field_error:
        contacts.field("Emial")
    assert 'Did you mean "Email"' in field_error.value.message
    assert '"Phone"' in field_error.value.message  # small tables list every field


def test_compact_rendering_shows_types_options_and_links(client, schema_cache):
    schema = get_base_schema(client, BASE_CRM_ID, cache=schema_cache, ttl=300)
    text = render_schema(schema, detail="fields")
    assert "Stage: select[Lead|Qualified|Proposal|Won|Lost]" in text
    assert "Company: link→Companies" in text
    assert "Pipeline Value: rollup→number (read-only)" in text
    names = render_schema(schema, detail="names")
    assert "- Contacts [Name]" in names and "Email" not in names
    full = render_table(schema, schema.table("Contacts"))
    assert "(id fldContacts000006)" in full and "Views: Grid view (grid), VIPs (grid)" in full


# --- the context budget (PRODUCT.md §6) -----------------------------------------------


def generated_base(tables: int, fields_per_table: int = 12, options: int = 12) -> BaseSchema:
    """A base shaped like real ones: text, numbers, dates, selects with many options, links."""
    kinds = [
        ("singleLineText", None),
        ("number", {"precision": 2}),
        ("currency", {"precision": 2, "symbol": "$"}),
        ("date", {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}),
        ("checkbox", {"icon": "check", "color": "greenBright"}),
        ("email", None),
        ("multilineText", None),
    ]
    table_list = []
    for t in range(tables):
        table_id = f"tbl{t:014d}"
        fields = []
        for f in range(fields_per_table):
            field_id = f"fld{t:07d}{f:07d}"
            name = f"Field {f} of table {t}" if f else f"Name {t}"
            if f == 3:
                choices = [
                    {"id": f"sel{t:07d}{c:07d}", "name": f"Option {c}", "color": "blueLight2"}
                    for c in range(options)
                ]
                fields.append(
                    {
                        "id": field_id,
                        "name": name,
                        "type": "singleSelect",
                        "options": {"choices": choices},
                    }
                )
            elif f == 4:
                fields.append(
                    {
                        "id": field_id,
                        "name": name,
                        "type": "multipleRecordLinks",
                        "options": {
                            "linkedTableId": f"tbl{(t + 1) % tables:014d}",
                            "isReversed": False,
                            "prefersSingleRecordLink": False,
                            "inverseLinkFieldId": f"fld{(t + 1) % tables:07d}{4:07d}",
                        },
                    }
                )
            else:
                kind, opts = kinds[f % len(kinds)]
                spec = {"id": field_id, "name": name, "type": kind, "description": ""}
                if opts:
                    spec["options"] = opts
                fields.append(spec)
        table_list.append(
            {
                "id": table_id,
                "name": f"Table {t}",
                "primaryFieldId": fields[0]["id"],
                "fields": fields,
                "views": [{"id": f"viw{t:014d}", "name": "Grid view", "type": "grid"}],
            }
        )
    return BaseSchema.from_api("appGenerated00000", {"tables": table_list}, time.time())


def test_compact_schema_for_a_20_table_base_is_much_smaller_than_raw_json(capsys):
    schema = generated_base(20)
    raw = estimate_tokens(json.dumps(schema.raw, separators=(",", ":")))
    fields = estimate_tokens(render_schema(schema, detail="fields"))
    names = estimate_tokens(render_schema(schema, detail="names"))
    tools = estimate_tokens(json.dumps(build_registry().schemas(), separators=(",", ":")))
    with capsys.disabled():
        print(
            f"\n20-table base (12 fields, 12-option select each), ~4 chars/token: raw JSON "
            f"{raw} tokens; compact fields {fields} ({raw / fields:.1f}x smaller); names "
            f"{names} ({raw / names:.0f}x smaller); tool schemas {tools}; per turn "
            f"tools+fields {tools + fields}"
        )
    assert fields * 4 < raw
    assert names * 20 < raw
    assert "+4 more" in render_schema(schema, detail="fields")  # long option lists are cut


def test_a_300_table_base_does_not_flood_the_prompt():
    schema = generated_base(300, fields_per_table=8)
    text = schema_for_prompt(schema, budget_tokens=1500)
    assert estimate_tokens(text) <= 1500
    assert "call list_tables" in text
    small = schema_for_prompt(generated_base(5), budget_tokens=1500)
    assert "select[" in small  # small bases get field detail
