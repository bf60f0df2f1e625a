"""The demo seed, seed loading, large-table pagination and throughput."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyairtable import Api

from pyairtable_ui.emulator import AirtableEmulator, SeedError, load_seed
from pyairtable_ui.emulator.ids import is_id
from pyairtable_ui.emulator.seeds import (
    BASE_PROJECTS_ID,
    DEMO_SEED_PATH,
    SMALL_SEED,
    TOKEN_FULL,
    build_seed,
    make_demo,
)
from pyairtable_ui.emulator.state import EmulatorState, ListQuery
from tests.fakes.airtable_fixtures import DEMO_READ_TOKEN, DEMO_TOKEN, EmulatorFactory, emulator_api

DEMO_COUNTS = {
    ("Acme Sales CRM", "Companies"): 60,
    ("Acme Sales CRM", "Contacts"): 300,
    ("Acme Sales CRM", "Deals"): 250,
    ("Acme Sales CRM", "Activities"): 400,
    ("Product Roadmap", "Projects"): 15,
    ("Product Roadmap", "Tasks"): 200,
}


def test_demo_seed_loads_with_every_table(demo_airtable: AirtableEmulator):
    api = emulator_api(demo_airtable, DEMO_TOKEN)
    counts = {}
    for base in api.bases():
        for table in base.tables():
            counts[(base.name, table.name)] = len(table.all())
    assert counts == DEMO_COUNTS
    assert sum(counts.values()) >= 1000


def test_demo_links_are_consistent_both_ways(demo_airtable: AirtableEmulator):
    api = emulator_api(demo_airtable, DEMO_TOKEN)
    companies = api.table("appDemoSalesCrm01", "Companies").all()
    contacts = {r["id"]: r for r in api.table("appDemoSalesCrm01", "Contacts").all()}
    for company in companies:
        linked = company["fields"].get("Contacts", [])
        assert company["fields"]["Contact Count"] == len(linked)
        for contact_id in linked:
            assert contacts[contact_id]["fields"]["Company"] == [company["id"]]
    unlinked = [c for c in contacts.values() if "Company" not in c["fields"]]
    assert len(unlinked) == 15


def test_demo_views_formulas_and_read_token(demo_airtable: AirtableEmulator):
    reader = emulator_api(demo_airtable, DEMO_READ_TOKEN)
    deals = reader.table("appDemoSalesCrm01", "Deals")
    open_deals = deals.all(view="Open pipeline")
    assert open_deals and all(
        r["fields"]["Stage"] not in ("Closed Won", "Closed Lost") for r in open_deals
    )
    dates = [r["fields"]["Close Date"] for r in open_deals]
    assert dates == sorted(dates)
    won = deals.all(formula="{Stage} = 'Closed Won'")
    assert all(r["fields"]["Won Amount"] == r["fields"]["Amount"] for r in won)
    schema = reader.base("appDemoRoadmap001").schema()
    assert schema.table("Projects").field("Hours Estimated").type == "rollup"


def test_demo_file_is_up_to_date_and_generation_is_deterministic():
    assert make_demo.render(make_demo.build_demo_seed()) == DEMO_SEED_PATH.read_text("utf-8")
    assert make_demo.main(["--check"]) == 0


def test_every_id_in_the_seeds_has_airtable_shape():
    for seed in (load_seed(DEMO_SEED_PATH), load_seed(SMALL_SEED)):
        for base in seed["bases"]:
            assert is_id(base["id"], "app")
            for table in base["tables"]:
                assert is_id(table["id"], "tbl")
                assert all(is_id(f["id"], "fld") for f in table["fields"])
                assert all(is_id(v["id"], "viw") for v in table["views"])
                for record in table["records"]:
                    assert is_id(record["id"], "rec")
                    assert re.fullmatch(
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdTime"]
                    )
        for token in seed["tokens"]:
            assert is_id(token["user_id"], "usr")


def test_seed_without_ids_options_views_or_times_is_completed(tmp_path: Path):
    seed = {
        "tokens": [{"token": "patMinimalMinimal.1", "bases": ["appMinimalMinima1"]}],
        "bases": [
            {
                "id": "appMinimalMinima1",
                "name": "Minimal",
                "tables": [
                    {
                        "name": "People",
                        "fields": [
                            {"name": "Name"},
                            {"name": "Team", "type": "singleSelect"},
                            {"name": "Boss", "type": "multipleRecordLinks",
                             "options": {"linkedTableId": "People"}},
                        ],
                        "records": [
                            {"fields": {"Name": "Ann", "Team": "Red"}},
                            {"fields": {"Name": "Ben", "Team": "Blue", "Boss": ["Ann"]}},
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    first, second = load_seed(path), load_seed(seed)
    assert first == second  # ids are derived from names, so loading is repeatable
    with AirtableEmulator(path, rate_limit=0) as emulator:
        api = emulator_api(emulator, "patMinimalMinimal.1")
        records = api.table("appMinimalMinima1", "People").all()
        assert records[1]["fields"]["Boss"] == [records[0]["id"]]  # link given by name
        assert records[0]["createdTime"] == "2024-01-01T00:00:00.000Z"
        schema = api.base("appMinimalMinima1").schema().table("People")
        assert [c.name for c in schema.field("Team").options.choices] == ["Red", "Blue"]
        assert [v.name for v in schema.views] == ["Grid view"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s["bases"][0]["tables"][0]["fields"][6]["options"].update(linkedTableId="X"),
         "unknown table"),
        (lambda s: s["bases"][0]["tables"][1]["records"][0]["fields"].update(Company=["Nobody"]),
         "no record named"),
        (lambda s: s["bases"][0]["tables"][1]["records"][0]["fields"].update(Nope=1),
         "no field 'Nope'"),
        (lambda s: s["bases"][0]["tables"][1]["fields"][8]["options"].update(formula="{Zip}"),
         "Unknown field names: Zip"),
    ],
)  # fmt: skip
def test_broken_seeds_are_reported(change, problem: str):
    seed = build_seed()
    change(seed)
    with pytest.raises(SeedError) as caught:
        EmulatorState(seed)
    assert problem in str(caught.value)


@pytest.fixture
def big_emulator(airtable_emulator_factory: EmulatorFactory) -> AirtableEmulator:
    return airtable_emulator_factory(build_seed(big_table_records=1000))


def test_thousand_records_paginate_in_ten_pages_of_one_hundred(big_emulator: AirtableEmulator):
    table = Api(TOKEN_FULL, endpoint_url=big_emulator.url).table(BASE_PROJECTS_ID, "Items")
    records = table.all()
    assert [r["fields"]["Name"] for r in records] == [f"Item {i:04d}" for i in range(1, 1001)]
    stats = big_emulator.stats()
    assert stats["by_endpoint"] == {"GET /v0/{baseId}/{tableIdOrName}": 10}
    assert ["offset=" in r["query"] for r in stats["requests"]] == [False] + [True] * 9
    pages = list(table.iterate())
    assert [len(page) for page in pages] == [100] * 10


def test_filter_over_a_thousand_records_runs_server_side(big_emulator: AirtableEmulator):
    # How fast the emulator is (it must outrun Airtable's limits so it never distorts the
    # throughput figures) is printed by `python -m benchmarks.emulator_speed`, not timed here.
    query = ListQuery(
        formula="AND({Group} = 'B', {Even} = FALSE(), MOD({Index}, 3) = 0, FIND('9', {Name}))",
        sort=[("Index", "desc")],
    )
    result = big_emulator.state.list_records(BASE_PROJECTS_ID, "Items", query)
    indexes = [r["fields"]["Index"] for r in result["records"]]
    assert result["records"][0]["fields"]["Name"] == "Item 0993"
    assert indexes == sorted(indexes, reverse=True)
    assert indexes and all(i % 4 == 1 and i % 3 == 0 and "9" in f"{i:04d}" for i in indexes)


def test_bulk_writes_and_reads_of_a_thousand_records(big_emulator: AirtableEmulator):
    table = emulator_api(big_emulator, TOKEN_FULL).table(BASE_PROJECTS_ID, "Items")
    ids = [r["id"] for r in table.all(fields=["Name"])]
    table.batch_update([{"id": rid, "fields": {"Index": -1}} for rid in ids])  # 100 PATCHes
    records = table.all()
    assert len(records) == 1000
    assert {r["fields"]["Index"] for r in records} == {-1}
