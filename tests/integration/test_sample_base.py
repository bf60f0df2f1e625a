"""A newcomer without Airtable: the sample base, a tool-backed answer, a reviewed write, undo.

One app of its own whose AIRTABLE_API_URL points at a port nobody listens on (a machine
that cannot reach Airtable), with `make demo`'s model: the scripted server answering the
sample's example questions with real tool calls. Two users get private samples; the
reset in Settings puts one back as it came. The samples' files are read to check what
the sample server holds.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from pyairtable_ui.sample.tour import SAMPLE_QUESTIONS
from tests.fakes.llm import ScriptedLLM
from tests.fakes.llm.tour import DEAL_TO_WIN, tour_reply
from tests.integration.accounts import new_account
from tests.support.app_server import RunningApp, separate_web_dir

NEGOTIATION, _PER_STAGE, MARK_WON = SAMPLE_QUESTIONS


@pytest.fixture(scope="module")
def sample_app(tmp_path_factory, app_server, mailbox) -> Iterator[RunningApp]:
    """The production app, Airtable unreachable, the demo model, samples in its folder.

    `app_server` is requested so that .web exists (it is copied) and stays untouched.
    """
    run_dir = tmp_path_factory.mktemp("sample-app")
    with ScriptedLLM(responder=tour_reply) as llm:
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": f"sqlite:///{run_dir / 'app.db'}",
            "AIRTABLE_API_URL": "http://127.0.0.1:9",  # nothing listens: Airtable is out of reach
            "AIRTABLE_SAMPLE_DIR": str(run_dir / "sample"),
            "REGISTRATION": "open",  # two newcomers register, with no invitation
            "LLM_MODEL": "openai/demo-scripted",
            "LLM_API_BASE": llm.api_base,
            "LLM_API_KEY": "demo-not-a-key",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mailbox.port),
            "SMTP_STARTTLS": "false",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "REFLEX_WEB_WORKDIR": str(separate_web_dir(run_dir / "web")),
        }
        app = RunningApp(env, run_dir / "app.log").start()
        yield app
        app.stop()


def deal_stage(app: RunningApp, email: str) -> str:
    """What the user's sample holds for the deal the tour marks won (its saved file)."""
    engine = sa.create_engine(app.env["DATABASE_URL"])
    with engine.connect() as connection:
        base_id = connection.execute(
            sa.text("SELECT default_base_id FROM users WHERE email = :email"), {"email": email}
        ).scalar_one()
    engine.dispose()
    for path in Path(app.env["AIRTABLE_SAMPLE_DIR"]).glob("sample-*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for base in data["seed"]["bases"]:
            if base["id"] == base_id:
                deals = next(t for t in base["tables"] if t["name"] == "Deals")
                [deal] = [r for r in deals["records"] if r["fields"]["Name"] == DEAL_TO_WIN]
                return str(deal["fields"]["Stage"])
    raise AssertionError(f"no sample holds {base_id}")


def start_on_sample(page: Page, app: RunningApp, mailbox, email: str) -> None:
    """Register, then "Try with a sample base" and skip the tour: ends on /chat."""
    new_account(page, app.url, mailbox, email)
    page.get_by_role("button", name="Try with a sample base").click()
    page.get_by_role("button", name="Skip the tour").click()
    page.wait_for_url("**/chat**")
    expect(page.get_by_role("combobox", name="Base")).to_have_text("Acme Sales CRM (Sample)")


def ask(page: Page, question: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(question)
    box.press("Enter")


def test_a_newcomer_without_airtable_asks_reviews_and_undoes_on_a_private_sample(
    sample_app: RunningApp, page: Page, browser: Browser, mailbox
) -> None:
    ana = f"ana-{secrets.token_hex(3)}@example.com"
    new_account(page, sample_app.url, mailbox, ana)
    # Airtable itself is out of reach: the token path says so, the sample path works.
    page.get_by_label("Personal access token").fill("pat" + "A" * 14 + "." + "0" * 64)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.get_by_text("Airtable could not be reached")).to_be_visible()
    page.get_by_role("button", name="Try with a sample base").click()
    page.get_by_role("button", name="Skip the tour").click()
    page.wait_for_url("**/chat**")
    expect(page.get_by_role("combobox", name="Base")).to_have_text("Acme Sales CRM (Sample)")
    expect(page.get_by_role("combobox", name="Model")).to_have_text("Demo model: scripted answers")

    # One click on an example question: a filtered read through the tools.
    page.get_by_role("button", name=NEGOTIATION).click()
    answer = page.locator(".assistant-message").last
    expect(answer).to_contain_text("34 deals are in the Negotiation stage", timeout=60_000)
    expect(page.locator(".tool-step").filter(has_text="search_records")).to_be_visible()

    # A proposed update: nothing changes before the review; approve, then undo.
    ask(page, MARK_WON)
    card = page.locator("#conversation .proposal-card")
    expect(card).to_have_count(1, timeout=30_000)
    expect(card.locator(".proposal-state")).to_have_text("Waiting for your review")
    assert deal_stage(sample_app, ana) == "Negotiation"
    card.get_by_role("button", name="Review").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".review-row")).to_have_count(1, timeout=30_000)
    dialog.get_by_role("button", name="Confirm 1 record").click()
    expect(page.locator("#action-status")).to_have_text("Applied", timeout=30_000)
    assert deal_stage(sample_app, ana) == "Closed Won"

    # Another user's sample is their own: unchanged by Ana's write.
    ben_context = browser.new_context(viewport={"width": 1280, "height": 800})
    ben_page = ben_context.new_page()
    ben = f"ben-{secrets.token_hex(3)}@example.com"
    start_on_sample(ben_page, sample_app, mailbox, ben)
    assert deal_stage(sample_app, ben) == "Negotiation"
    ben_context.close()

    dialog.get_by_role("button", name="Undo…").click()
    dialog.get_by_role("button", name="Undo this action").click()
    expect(page.locator("#action-status")).to_have_text("Undone", timeout=30_000)
    assert deal_stage(sample_app, ana) == "Negotiation"
    dialog.get_by_role("button", name="Close").click()

    # The history marks the sample's actions.
    page.goto(f"{sample_app.url}/history")
    expect(page.get_by_text("Sample", exact=True).first).to_be_visible()

    # Changed again, then reset from Settings: the sample is back as it came.
    page.goto(f"{sample_app.url}/chat")
    ask(page, MARK_WON)
    card = page.locator("#conversation .proposal-card").last
    expect(card.locator(".proposal-state")).to_have_text("Waiting for your review", timeout=30_000)
    card.get_by_role("button", name="Review").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm 1 record").click()
    expect(page.locator("#action-status")).to_have_text("Applied", timeout=30_000)
    assert deal_stage(sample_app, ana) == "Closed Won"

    page.goto(f"{sample_app.url}/settings")
    expect(page.get_by_text("Resetting it puts every table back as it came")).to_be_visible()
    page.get_by_role("button", name="Reset the sample base").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Reset it").click()
    expect(page.get_by_text("The sample base is back as it came.")).to_be_visible()
    assert deal_stage(sample_app, ana) == "Negotiation"
