"""Example questions come from the base's own schema: its tables, fields and options."""

from __future__ import annotations

from typing import Any

import pytest

from pyairtable_ui.airtable.schema import BaseSchema
from pyairtable_ui.chat.examples import MAX_EXAMPLES, example_prompts
from pyairtable_ui.emulator.seeds import DEMO_SEED_PATH, build_seed
from pyairtable_ui.emulator.state import EmulatorState

DEMO_CRM = "appDemoSalesCrm01"
DEMO_ROADMAP = "appDemoRoadmap001"


@pytest.fixture(scope="module")
def demo() -> EmulatorState:
    return EmulatorState(DEMO_SEED_PATH)


def schema_of(state: EmulatorState, base_id: str) -> BaseSchema:
    """The base as Airtable's metadata API describes it (what the cache holds)."""
    return BaseSchema.from_api(base_id, state.base_schema(base_id), 0.0)


def names(schema: BaseSchema) -> tuple[set[str], set[str], set[str]]:
    tables = {t.name for t in schema.tables}
    fields = {f.name for t in schema.tables for f in t.fields}
    choices = {c for t in schema.tables for f in t.fields for c in f.choices}
    return tables, fields, choices


def test_the_roadmap_base_is_asked_about_its_projects_and_tasks_not_deals(
    demo: EmulatorState,
) -> None:
    prompts = example_prompts(schema_of(demo, DEMO_ROADMAP))

    assert prompts == [
        "How many Projects are there for each Status?",
        "Show the 5 Tasks with the latest Due.",
        "What is the total Budget of Projects by Status?",
        "Which Tasks have Status “In progress”?",
    ]
    assert not any("deal" in p.lower() for p in prompts)


def test_the_crm_base_gets_questions_about_four_different_tables(demo: EmulatorState) -> None:
    schema = schema_of(demo, DEMO_CRM)
    prompts = example_prompts(schema)

    assert len(prompts) == MAX_EXAMPLES
    assert "What is the total Amount of Deals by Stage?" in prompts
    tables, _, _ = names(schema)
    named = [next(t for t in tables if f" {t} " in f" {p} ") for p in prompts]
    assert sorted(named) == ["Activities", "Companies", "Contacts", "Deals"]


@pytest.mark.parametrize(
    ("seed", "base_id"),
    [
        (DEMO_SEED_PATH, DEMO_CRM),
        (DEMO_SEED_PATH, DEMO_ROADMAP),
        (build_seed(), "appEmulatorBase01"),
        (build_seed(), "appEmulatorBase02"),
    ],
)
def test_every_example_names_a_real_table_and_only_real_fields_and_options(
    seed: Any, base_id: str
) -> None:
    schema = schema_of(EmulatorState(seed), base_id)
    tables, fields, choices = names(schema)

    prompts = example_prompts(schema)

    assert 1 <= len(prompts) <= MAX_EXAMPLES
    assert len(set(prompts)) == len(prompts)
    for prompt in prompts:
        assert any(f" {t} " in f" {prompt} " or f" {t}?" in prompt for t in tables), prompt
        for quoted in prompt.split("“")[1:]:
            assert quoted.split("”")[0] in choices, prompt
    # What the questions are about is the base's, never a canned word.
    words = " ".join(prompts)
    assert any(f in words for f in fields)


def table(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"tbl{name[:10]}",
        "name": name,
        "primaryFieldId": fields[0]["id"],
        "fields": fields,
    }


def test_a_base_of_text_fields_is_offered_a_look_at_its_records() -> None:
    notes = table("Notes", [{"id": "fld1", "name": "Title", "type": "singleLineText"}])
    schema = BaseSchema.from_api("appX", {"tables": [notes]}, 0.0)

    assert example_prompts(schema) == ["Show me 5 records from Notes."]


def test_names_too_long_for_a_button_and_empty_bases_give_no_example() -> None:
    long = table("T" * 80, [{"id": "fld1", "name": "Name", "type": "singleLineText"}])
    assert example_prompts(BaseSchema.from_api("appX", {"tables": [long]}, 0.0)) == []
    assert example_prompts(BaseSchema.from_api("appX", {"tables": []}, 0.0)) == []
    assert example_prompts(BaseSchema.from_api("appX", {}, 0.0)) == []


def test_the_limit_is_kept(demo: EmulatorState) -> None:
    schema = schema_of(demo, DEMO_CRM)
    assert len(example_prompts(schema, limit=2)) == 2
    assert example_prompts(schema, limit=0) == []
