"""Import in Chromium: a 500-row CSV into an existing table, reviewed, approved, undone.

The file is uploaded on /automations, mapped to the Projects table's fields (a date, a
single select and a link by the linked record's name), checked, and proposed as one
action; the review dialog's typed count approves it; the emulator then holds the 500
records with their links resolved, and undo removes every one of them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from playwright.sync_api import Page, expect

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from tests.integration.accounts import new_account, onboard
from tests.support.seeds import app_tokens

TASKS = ["Design mockups", "Build landing page", "Write copy", "Pick framework"]
STATUSES = ["Planned", "Active", "Done"]
ROWS = 500


def projects(airtable) -> dict[str, dict]:
    return {r["id"]: r["fields"] for r in airtable.state.records(BASE_PROJECTS_ID, "Projects")}


def write_csv(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Name", "Status", "Due", "Tasks"])
        for i in range(1, ROWS + 1):
            writer.writerow(
                [f"Imported {i:04d}", STATUSES[i % 3], f"2025-{i % 12 + 1:02d}-15", TASKS[i % 4]]
            )
    return path


def test_import_500_rows_with_links_review_approve_then_undo(
    app_server, mailbox, page: Page, airtable, unique_email, tmp_path
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(airtable).full, "Emulator Projects")
    before = projects(airtable)
    page.get_by_role("link", name="Automations").click()
    page.wait_for_url("**/automations")
    expect(page.get_by_role("combobox", name="Base")).to_contain_text("Emulator Projects")

    page.locator("#import_file input[type=file]").set_input_files(
        str(write_csv(tmp_path / "projects.csv"))
    )
    page.get_by_role("button", name="Upload and read").click()
    expect(page.get_by_text(f"{ROWS} rows, 4 columns.")).to_be_visible(timeout=20_000)
    page.get_by_role("combobox", name="Import into table").click()
    page.get_by_role("option", name="Projects").click()
    for column in ("Name", "Status", "Due", "Tasks"):
        expect(page.get_by_role("combobox", name=f"Map column {column}")).to_contain_text(
            column, timeout=20_000
        )

    page.get_by_role("button", name="Check rows").click()
    expect(page.locator("#import-counts")).to_have_text(
        f"{ROWS} rows ready to write.", timeout=20_000
    )
    first = page.locator(".import-preview-row").first
    expect(first).to_contain_text("Imported 0001")
    expect(first).to_contain_text("Active")
    expect(first).to_contain_text("2025-02-15")
    assert projects(airtable) == before, "nothing is written before the approval"

    page.get_by_role("button", name="Propose import").click()
    expect(page.get_by_text("Review it to write it.")).to_be_visible(timeout=30_000)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(
        f"Import projects.csv: Create {ROWS} records in Projects", timeout=30_000
    )
    expect(page.locator(".review-row")).to_have_count(ROWS, timeout=30_000)
    page.get_by_label("Type the number of records to confirm").fill(str(ROWS))
    # Five hundred rows make a heavy page: do not wait on the click, wait for the result.
    page.get_by_role("button", name=f"Confirm {ROWS} records").click(no_wait_after=True)
    # 50 batches at Airtable's 5 requests a second.
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=90_000)

    after = projects(airtable)
    imported = {f["Name"]: f for f in after.values() if str(f.get("Name")).startswith("Imported")}
    assert len(imported) == ROWS
    tasks = {
        r["fields"]["Name"]: r["id"] for r in airtable.state.records(BASE_PROJECTS_ID, "Tasks")
    }
    assert imported["Imported 0001"]["Tasks"] == [tasks["Build landing page"]]
    assert imported["Imported 0002"]["Status"] == "Done"
    assert imported["Imported 0003"]["Due"] == "2025-04-15"
    assert all(len(f["Tasks"]) == 1 for f in imported.values())

    page.get_by_role("button", name="Undo…").click()
    page.get_by_role("button", name="Undo this action").click(no_wait_after=True)
    expect(page.locator("#action-status")).to_have_attribute(
        "data-status", "undone", timeout=90_000
    )
    assert projects(airtable) == before
