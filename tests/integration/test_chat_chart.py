"""A grouped aggregate in Chromium: a bar per group under its step, and a table of the same.

The scripted model asks for the open hours per project; the groups come from the
emulator's data through the real tool, so the page is checked against what the
model was given, not against numbers written into the test.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply, ToolCall
from tests.integration.test_chat import MODEL, ask, chat, tool_results

__all__ = ["chat"]  # the fixture, shared with test_chat


def test_a_grouped_aggregate_is_drawn_as_bars_with_a_table_to_switch_to(chat: Page, llm) -> None:
    llm.queue(
        ToolCall(
            "aggregate",
            {"table": "Tasks", "op": "sum", "field": "Estimate", "group_by": "Project"},
        ),
        Reply(content="Hours per project are charted above."),
        model=MODEL,
    )
    ask(chat, "How many hours per project?")
    expect(chat.locator(".assistant-message").last).to_contain_text("charted above")
    groups = tool_results(llm)[-1]["groups"]
    assert len(groups) >= 2, groups  # the seed's tasks belong to several projects

    chart = chat.locator(".tool-step + .step-chart")
    expect(chart).to_have_count(1)
    expect(chart).to_contain_text("sum of Estimate by Project")
    expect(chart.locator(".recharts-bar-rectangle")).to_have_count(len(groups))

    chart.get_by_role("tab", name="Table").click()
    rows = chart.locator("tbody tr")
    expect(rows).to_have_count(len(groups))
    for row, group in zip(rows.all(), groups, strict=True):
        expect(row.locator("td").nth(0)).to_have_text(group["group"])
        expect(row.locator("td").nth(1)).to_have_text(str(group["value"]))
    expect(chart.locator(".recharts-bar-rectangle")).to_have_count(0)

    chat.reload()  # the stored step draws the same chart
    expect(chat.locator(".step-chart .recharts-bar-rectangle")).to_have_count(len(groups))


def test_group_names_from_the_base_are_drawn_as_text_never_run(chat: Page, llm, airtable) -> None:
    payload = '<img src=x onerror="window.__xss=1"><b>x</b>'
    airtable.state.update_record(
        "appEmulatorBase02", "Tasks", "recTask0000000001", {"Name": payload}
    )
    llm.queue(
        ToolCall("aggregate", {"table": "Tasks", "op": "count", "group_by": "Name"}),
        Reply(content="One task per name."),
        model=MODEL,
    )
    ask(chat, "How many tasks per name?")
    expect(chat.locator(".assistant-message").last).to_contain_text("One task per name")
    chart = chat.locator(".step-chart")
    expect(chart.locator(".recharts-bar-rectangle")).to_have_count(
        len(tool_results(llm)[-1]["groups"])
    )
    chart.get_by_role("tab", name="Table").click()
    expect(chart.locator("tbody")).to_contain_text('<img src=x onerror="window.__xss=1">')
    assert chart.locator("img, b, script").count() == 0
    assert chat.evaluate("window.__xss") is None
