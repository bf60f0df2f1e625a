"""Read tools against the emulator: filters, honest totals, linked names, aggregates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyairtable_ui.airtable.aggregate_cache import InProcessAggregateCache
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, BASE_PROJECTS_ID, TABLE_ITEMS_ID
from pyairtable_ui.tools import ToolContext, ToolRegistry

SEED = build_seed()


def seed_records(table: str) -> list[dict[str, Any]]:
    for base in SEED["bases"]:
        for t in base["tables"]:
            if t["name"] == table:
                return t["records"]
    raise KeyError(table)


def names_where(table: str, predicate) -> set[str]:
    return {r["fields"]["Name"] for r in seed_records(table) if predicate(r["fields"])}


async def search(registry: ToolRegistry, ctx: ToolContext, **args: Any) -> dict[str, Any]:
    result = await registry.call("search_records", {"limit": 100, **args}, ctx)
    assert not result.is_error, result.content
    return json.loads(result.content)


FILTER_CASES = [
    # (table, filter, which seed records should match)
    (
        "Contacts",
        {"field": "Role", "op": "eq", "value": "Engineer"},
        lambda f: f["Role"] == "Engineer",
    ),
    (
        "Contacts",
        {"field": "Role", "op": "neq", "value": "Engineer"},
        lambda f: f["Role"] != "Engineer",
    ),
    ("Contacts", {"field": "Score", "op": "gt", "value": 6}, lambda f: f.get("Score", 0) > 6),
    ("Contacts", {"field": "Score", "op": "gte", "value": 6}, lambda f: f.get("Score", 0) >= 6),
    (
        "Contacts",
        {"field": "Score", "op": "lt", "value": "5"},
        lambda f: "Score" in f and f["Score"] < 5,
    ),
    (
        "Contacts",
        {"field": "Score", "op": "lte", "value": 5},
        lambda f: "Score" in f and f["Score"] <= 5,
    ),
    (
        "Contacts",
        {"field": "Name", "op": "contains", "value": "AN"},
        lambda f: "an" in f["Name"].lower(),
    ),
    (
        "Contacts",
        {"field": "Name", "op": "not_contains", "value": "an"},
        lambda f: "an" not in f["Name"].lower(),
    ),
    (
        "Contacts",
        {"field": "Name", "op": "starts_with", "value": "c"},
        lambda f: f["Name"].lower().startswith("c"),
    ),
    ("Contacts", {"field": "Score", "op": "is_empty"}, lambda f: "Score" not in f),
    ("Contacts", {"field": "Tags", "op": "is_not_empty"}, lambda f: bool(f.get("Tags"))),
    (
        "Contacts",
        {"field": "Role", "op": "in", "value": ["Sales", "Executive"]},
        lambda f: f["Role"] in ("Sales", "Executive"),
    ),
    (
        "Contacts",
        {"field": "Tags", "op": "eq", "value": "Lead"},
        lambda f: "Lead" in f.get("Tags", []),
    ),
    (
        "Contacts",
        {"field": "Tags", "op": "neq", "value": "Lead"},
        lambda f: "Lead" not in f.get("Tags", []),
    ),
    (
        "Contacts",
        {"field": "Company", "op": "contains", "value": "globex"},
        lambda f: f.get("Company") == ["recCompany0000002"],
    ),
    ("Companies", {"field": "Active", "op": "eq", "value": True}, lambda f: f["Active"]),
    ("Companies", {"field": "Active", "op": "eq", "value": False}, lambda f: not f["Active"]),
    (
        "Companies",
        {"field": "Founded", "op": "gt", "value": "2005-11-20"},
        lambda f: f["Founded"] > "2005-11-20",
    ),
    (
        "Companies",
        {"field": "Founded", "op": "gte", "value": "2005-11-20"},
        lambda f: f["Founded"] >= "2005-11-20",
    ),
    (
        "Companies",
        {"field": "Founded", "op": "lt", "value": "1998-07-01"},
        lambda f: f["Founded"] < "1998-07-01",
    ),
    (
        "Companies",
        {"field": "Founded", "op": "eq", "value": "1998-07-01"},
        lambda f: f["Founded"] == "1998-07-01",
    ),
    ("Deals", {"field": "Amount", "op": "eq", "value": 12000}, lambda f: f["Amount"] == 12000),
    (
        "Deals",
        {"field": "Close Date", "op": "lte", "value": "2024-02-01"},
        lambda f: f["Close Date"] <= "2024-02-01",
    ),
]


@pytest.mark.parametrize(("table", "condition", "expected"), FILTER_CASES)
async def test_each_filter_operator_matches_the_seed(registry, ctx, table, condition, expected):
    page = await search(registry, ctx, table=table, filters=[condition], fields=["Name"])
    assert {r["fields"]["Name"] for r in page["records"]} == names_where(table, expected)
    assert page["total"] == len(page["records"]) and page["more_available"] is False


async def test_filters_combine_with_all_or_any(registry, ctx):
    filters = [
        {"field": "Role", "op": "eq", "value": "Engineer"},
        {"field": "Score", "op": "gte", "value": 8},
    ]
    both = await search(registry, ctx, table="Contacts", filters=filters)
    either = await search(registry, ctx, table="Contacts", filters=filters, match="any")
    assert {r["fields"]["Name"] for r in both["records"]} == {"Alice Anders"}
    assert {r["fields"]["Name"] for r in either["records"]} == names_where(
        "Contacts", lambda f: f["Role"] == "Engineer" or f.get("Score", 0) >= 8
    )


async def test_quotes_in_values_cannot_break_out_of_the_formula(registry, ctx):
    page = await search(
        registry,
        ctx,
        table="Contacts",
        filters=[{"field": "Name", "op": "eq", "value": "x' , TRUE(), '"}],
    )
    assert page["total"] == 0


async def test_sort_fields_and_view(registry, ctx):
    page = await search(
        registry,
        ctx,
        table="deals",
        sort=[{"field": "amount", "direction": "desc"}],
        fields=["Name", "Amount"],
        view="open deals",
    )
    assert [r["fields"]["Name"] for r in page["records"]] == [
        "Umbrella platform",
        "Acme expansion",
        "Globex pilot",
    ]
    assert set(page["records"][0]["fields"]) == {"Name", "Amount"}
    bad_view = await registry.call("search_records", {"table": "Deals", "view": "Nope"}, ctx)
    assert bad_view.is_error and '"Open deals"' in bad_view.content


def item_requests(emulator) -> int:
    """List requests the emulator answered for the Items table (the schema's not counted)."""
    return sum(
        1
        for r in emulator.stats()["requests"]
        if r["path"] == f"/v0/{BASE_PROJECTS_ID}/{TABLE_ITEMS_ID}"
    )


async def test_totals_are_honest_beyond_one_hundred(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    ctx = make_ctx(make_client(emulator), base_id=BASE_PROJECTS_ID)
    first = await search(registry, ctx, table="Items", limit=20, fields=["Name"])
    # Not counted unless asked: a page costs one request, and says only "at least".
    assert "total" not in first and first["total_at_least"] == 20 and first["returned"] == 20
    assert item_requests(emulator) == 1
    assert first["more_available"] is True and first["next_offset"]
    assert "offset=next_offset" in first["how_to_continue"]
    assert "count_total=true" in first["how_to_continue"]

    counted = await search(registry, ctx, table="Items", limit=20, count_total=True)
    assert counted["total"] == 250 and counted["returned"] == 20
    assert item_requests(emulator) == 1 + 1 + 3  # the page, then 3 light pages of 100

    second = await search(
        registry, ctx, table="Items", limit=20, fields=["Name"], offset=first["next_offset"]
    )
    assert second["returned"] == 20 and "total" not in second
    page = await search(registry, ctx, table="Items", limit=100)
    page = await search(registry, ctx, table="Items", limit=100, offset=page["next_offset"])
    last = await search(
        registry, ctx, table="Items", limit=100, offset=page["next_offset"], count_total=True
    )
    # Asked for, so counted on any page, the last one too.
    assert last["returned"] == 50 and not last["more_available"] and last["total"] == 250
    first_ids = {r["id"] for r in first["records"]}
    assert first_ids.isdisjoint(r["id"] for r in second["records"])

    group_a = await search(
        registry,
        ctx,
        table="Items",
        limit=100,
        filters=[{"field": "Group", "op": "eq", "value": "A"}],
    )
    assert group_a["total"] == 62 and group_a["returned"] == 62 and not group_a["more_available"]


async def test_paging_through_every_match_costs_one_request_per_page(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=1000))
    ctx = make_ctx(make_client(emulator), base_id=BASE_PROJECTS_ID)
    page = await search(registry, ctx, table="Items", limit=100)
    seen = {r["id"] for r in page["records"]}
    while page["more_available"]:
        page = await search(registry, ctx, table="Items", limit=100, offset=page["next_offset"])
        seen |= {r["id"] for r in page["records"]}

    assert len(seen) == 1000
    assert item_requests(emulator) == 10  # counting on the first page made it 20


async def test_a_count_beyond_ten_pages_says_at_least(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=1050))
    ctx = make_ctx(make_client(emulator), base_id=BASE_PROJECTS_ID)
    page = await search(registry, ctx, table="Items", limit=5, count_total=True)
    assert "total" not in page and page["total_at_least"] == 1000
    assert item_requests(emulator) == 1 + 10


async def test_linked_records_are_shown_by_primary_value(registry, ctx, airtable_emulator):
    page = await search(
        registry, ctx, table="Contacts", fields=["Name", "Company"], sort=[{"field": "Name"}]
    )
    alice = page["records"][0]
    assert alice["fields"]["Company"] == ["Acme Corp (recCompany0000001)"]
    # One extra List request for the linked table, remembered for the rest of the turn.
    lookups = [r for r in airtable_emulator.stats()["requests"] if "tblEmuCompanies01" in r["path"]]
    assert len(lookups) == 1
    await registry.call("get_record", {"table": "Contacts", "record_id": "recContact0000003"}, ctx)
    lookups = [r for r in airtable_emulator.stats()["requests"] if "tblEmuCompanies01" in r["path"]]
    assert len(lookups) == 1
    assert ctx.read_record_text is True


async def test_get_record_shows_every_field(registry, ctx):
    result = await registry.call(
        "get_record", {"table": "Deals", "record_id": "recDeal0000000002"}, ctx
    )
    record = json.loads(result.content)
    assert record["fields"]["Company"] == ["Acme Corp (recCompany0000001)"]
    assert record["fields"]["Owner"] == "Alice Admin"  # a collaborator by name
    missing = await registry.call(
        "get_record", {"table": "Deals", "record_id": "recNope0000000000"}, ctx
    )
    assert missing.is_error and "404" in missing.content


async def test_aggregates_read_every_page(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    ctx = make_ctx(make_client(emulator), base_id=BASE_PROJECTS_ID)

    async def aggregate(**args: Any) -> dict[str, Any]:
        result = await registry.call("aggregate", {"table": "Items", **args}, ctx)
        assert not result.is_error, result.content
        return json.loads(result.content)

    assert (await aggregate(op="sum", field="Index"))["value"] == sum(range(1, 251))
    assert (await aggregate(op="avg", field="Index"))["value"] == pytest.approx(125.5)
    assert (await aggregate(op="min", field="Index"))["value"] == 1
    assert (await aggregate(op="max", field="Index"))["value"] == 250
    even = await aggregate(op="count", filters=[{"field": "Even", "op": "eq", "value": True}])
    assert even["value"] == 125 and even["records_matched"] == 125
    grouped = await aggregate(op="sum", field="Index", group_by="Group")
    expected = {g: sum(i for i in range(1, 251) if "ABCD"[i % 4] == g) for g in "ABCD"}
    assert {g["group"]: g["value"] for g in grouped["groups"]} == expected
    assert grouped["groups"][0]["value"] == max(expected.values())  # largest first


async def test_aggregate_groups_linked_records_by_name(registry, ctx):
    result = await registry.call(
        "aggregate", {"table": "Deals", "op": "sum", "field": "Amount", "group_by": "Company"}, ctx
    )
    groups = {g["group"]: g["value"] for g in json.loads(result.content)["groups"]}
    assert groups["Acme Corp"] == 42000 and groups["Umbrella Health"] == 55000
    tags = await registry.call(
        "aggregate", {"table": "Contacts", "op": "count", "group_by": "Tags"}, ctx
    )
    counted = {g["group"]: g["value"] for g in json.loads(tags.content)["groups"]}
    assert counted["Newsletter"] == 3 and counted["(empty)"] == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            {"table": "Deals", "filters": [{"field": "Name", "op": "gt", "value": 3}]},
            "compares numbers or dates",
        ),
        (
            {"table": "Deals", "filters": [{"field": "Amount", "op": "eq", "value": "lots"}]},
            "not a number",
        ),
        (
            {
                "table": "Deals",
                "filters": [{"field": "Close Date", "op": "lt", "value": "next week"}],
            },
            "YYYY-MM-DD",
        ),
        (
            {"table": "Deals", "filters": [{"field": "Stage", "op": "in", "value": []}]},
            "non-empty list",
        ),
        (
            {"table": "Deals", "filters": [{"field": "Stage", "op": "contains", "value": ["a"]}]},
            "use op in",
        ),
    ],
)
async def test_filter_values_that_do_not_fit_the_field(registry, ctx, args, says):
    result = await registry.call("search_records", args, ctx)
    assert result.is_error and says in result.content


async def test_aggregate_needs_a_field_except_for_count(registry, ctx):
    result = await registry.call("aggregate", {"table": "Deals", "op": "sum"}, ctx)
    assert result.is_error and "needs a field" in result.content


async def test_list_tables_and_describe_table(registry, ctx):
    names = await registry.call("list_tables", {}, ctx)
    assert "- Deals [Name]" in names.content
    fields = await registry.call("list_tables", {"detail": "fields", "name_contains": "deal"}, ctx)
    assert "Stage: select[" in fields.content and "Contacts" not in fields.content
    none = await registry.call("list_tables", {"name_contains": "Dealz"}, ctx)
    assert 'Did you mean "Deals"' in none.content
    described = await registry.call("describe_table", {"table": "tblEmuDeals000001"}, ctx)
    assert "Table Deals (id tblEmuDeals000001)" in described.content
    assert described.display and described.display["kind"] == "table"


async def test_display_is_small_and_structured(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    ctx = make_ctx(make_client(emulator), base_id=BASE_PROJECTS_ID)
    result = await registry.call("search_records", {"table": "Items", "limit": 100}, ctx)
    display = result.display
    assert display is not None and display["kind"] == "records"
    assert len(display["rows"]) == 50 and display["total"] is None and display["more_available"]
    counted = await registry.call(
        "search_records", {"table": "Items", "limit": 100, "count_total": True}, ctx
    )
    assert counted.display is not None and counted.display["total"] == 250
    assert display["columns"] == ["Name", "Index", "Group", "Even"]


def test_crm_is_the_default_base(ctx):
    assert ctx.base_id == BASE_CRM_ID


async def aggregate_in_turn(registry, ctx: ToolContext, **args: Any) -> dict[str, Any]:
    result = await registry.call("aggregate", {"table": "Items", **args}, ctx)
    assert not result.is_error, result.content
    return json.loads(result.content)


async def test_a_repeated_aggregate_is_answered_without_reading_again(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    client = make_client(emulator)
    first = await aggregate_in_turn(
        registry, make_ctx(client, base_id=BASE_PROJECTS_ID), op="sum", field="Index"
    )
    assert first["value"] == sum(range(1, 251)) and item_requests(emulator) == 3

    # The next turn (a new context) asks the same: no request, the same answer, its age told.
    again = await aggregate_in_turn(
        registry, make_ctx(client, base_id=BASE_PROJECTS_ID), op="sum", field="Index"
    )
    assert item_requests(emulator) == 3
    assert again["value"] == first["value"] and again["computed_seconds_ago"] >= 0
    assert "computed_seconds_ago" not in first

    # Any other question, or another user, reads again.
    ctx = make_ctx(client, base_id=BASE_PROJECTS_ID)
    await aggregate_in_turn(registry, ctx, op="max", field="Index")
    await aggregate_in_turn(
        registry,
        ctx,
        op="sum",
        field="Index",
        filters=[{"field": "Group", "op": "eq", "value": "A"}],
    )
    await aggregate_in_turn(registry, ctx, op="sum", field="Index", group_by="Group")
    other = make_ctx(client, base_id=BASE_PROJECTS_ID, user_id=2)
    await aggregate_in_turn(registry, other, op="sum", field="Index")
    assert item_requests(emulator) == 3 + 3 + 1 + 3 + 3  # Group A: 62 records, one page


async def test_a_cached_aggregate_still_marks_the_turn_as_having_read_base_text(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    # Group names are text from the base: safe-writes must know, cached or not.
    emulator = airtable_emulator_factory(build_seed(big_table_records=40))
    client = make_client(emulator)
    first_turn = make_ctx(client, base_id=BASE_PROJECTS_ID)
    await aggregate_in_turn(registry, first_turn, op="count", group_by="Group")
    assert first_turn.read_record_text is True
    second_turn = make_ctx(client, base_id=BASE_PROJECTS_ID)
    requests = item_requests(emulator)
    await aggregate_in_turn(registry, second_turn, op="count", group_by="Group")
    assert item_requests(emulator) == requests and second_turn.read_record_text is True

    number_turn = make_ctx(client, base_id=BASE_PROJECTS_ID)
    await aggregate_in_turn(registry, number_turn, op="sum", field="Index")
    await aggregate_in_turn(
        registry, make_ctx(client, base_id=BASE_PROJECTS_ID), op="sum", field="Index"
    )
    assert number_turn.read_record_text is False


async def test_a_cached_aggregate_expires(
    registry, airtable_emulator_factory, make_client, make_ctx
):
    now = [1000.0]
    cache = InProcessAggregateCache(clock=lambda: now[0])
    emulator = airtable_emulator_factory(build_seed(big_table_records=40))
    client = make_client(emulator)

    async def count_in_a_new_turn() -> None:
        ctx = make_ctx(client, base_id=BASE_PROJECTS_ID)
        ctx.aggregate_cache = cache
        await aggregate_in_turn(registry, ctx, op="count")

    await count_in_a_new_turn()
    now[0] += 59
    await count_in_a_new_turn()
    assert item_requests(emulator) == 1
    now[0] += 2  # AGGREGATE_CACHE_SECONDS (60) have passed
    await count_in_a_new_turn()
    assert item_requests(emulator) == 2
