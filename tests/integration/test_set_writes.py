"""Set-based writes in Chromium: the model sends filters, the user reviews every matching row.

update_matching_records / delete_matching_records resolve the matching records when
they propose, so the review dialog, the confirmation, the execution and the undo are
those of update_records / delete_records; these tests walk that path end to end.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from tests.fakes.llm import ToolCall
from tests.integration.test_safe_writes import chat, item_id, names, propose

__all__ = ["chat"]  # the safe-writes fixture, shared


def groups(airtable) -> dict[str, str]:
    return {
        r["id"]: r["fields"].get("Group", "")
        for r in airtable.state.records(BASE_PROJECTS_ID, "Items")
    }


def test_update_matching_reviews_every_match_then_undo_restores_them(
    chat: Page, llm, airtable
) -> None:
    before = groups(airtable)
    # Items 4, 8, ..., 40 are in group A: ten matches.
    matching = [item_id(i) for i in range(4, 41, 4)]
    assert all(before[rid] == "A" for rid in matching)
    propose(
        chat,
        llm,
        ToolCall(
            "update_matching_records",
            {
                "table": "Items",
                "filters": [
                    {"field": "Index", "op": "lte", "value": 40},
                    {"field": "Group", "op": "eq", "value": "A"},
                ],
                "fields": {"Group": "C"},
            },
        ),
        "Move the first forty items of group A to C",
    )
    expect(chat.get_by_role("dialog")).to_contain_text(
        "Set Group to C on 10 records in Items where Index is at most 40 and Group is A"
    )
    rows = chat.locator(".review-row")
    expect(rows).to_have_count(len(matching))
    for i in range(4, 41, 4):
        row = rows.filter(has_text=f"Item {i:04d}")
        expect(row).to_contain_text(re.compile(r"Group:\s*A\s*→\s*C"))
    assert groups(airtable) == before, "nothing is written before the confirmation"

    chat.get_by_role("button", name="Confirm 10 records").click()
    expect(chat.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    after = groups(airtable)
    assert {rid: after[rid] for rid in matching} == dict.fromkeys(matching, "C")
    assert {rid: v for rid, v in after.items() if rid not in matching} == {
        rid: v for rid, v in before.items() if rid not in matching
    }

    chat.get_by_role("button", name="Undo…").click()
    expect(chat.locator(".undo-row")).to_have_count(len(matching))
    chat.get_by_role("button", name="Undo this action").click()
    expect(chat.locator("#action-status")).to_have_attribute(
        "data-status", "undone", timeout=30_000
    )
    assert groups(airtable) == before


def test_delete_matching_needs_the_typed_count_and_undo_brings_them_back(
    chat: Page, llm, airtable
) -> None:
    before = names(airtable, "Items")
    # Items 1, 5 and 9 are in group B.
    matching = {item_id(i): f"Item {i:04d}" for i in (1, 5, 9)}
    propose(
        chat,
        llm,
        ToolCall(
            "delete_matching_records",
            {
                "table": "Items",
                "filters": [
                    {"field": "Group", "op": "eq", "value": "B"},
                    {"field": "Index", "op": "lt", "value": 12},
                ],
            },
        ),
        "Delete the group B items below 12",
    )
    rows = chat.locator(".review-row")
    expect(rows).to_have_count(3)
    for name in matching.values():
        expect(rows.filter(has_text=name)).to_have_count(1)
    chat.get_by_label("Type the number of records to confirm").fill("3")
    chat.get_by_role("button", name="Confirm 3 records").click()
    expect(chat.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    left = names(airtable, "Items")
    assert set(left) == set(before) - set(matching)

    chat.get_by_role("button", name="Undo…").click()
    chat.get_by_role("button", name="Undo this action").click()
    expect(chat.locator("#action-status")).to_have_attribute(
        "data-status", "undone", timeout=30_000
    )
    # Airtable gives restored records new ids; their contents come back.
    assert sorted(names(airtable, "Items").values()) == sorted(before.values())
