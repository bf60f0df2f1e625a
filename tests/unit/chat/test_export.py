"""A conversation as a Markdown file: what it says, and that nothing in it is escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from pyairtable_ui.chat.export import conversation_markdown, export_filename
from pyairtable_ui.chat.models import Conversation, Message

AT = datetime(2025, 3, 4, 15, 6, tzinfo=UTC)


def message(role: str, content: str = "", **kwargs) -> Message:
    return Message(conversation_id=1, role=role, content=content, created_at=AT, **kwargs)


def test_the_file_holds_the_questions_answers_and_steps_in_order() -> None:
    conversation = Conversation(
        id=12, user_id=1, title="Open   tasks\n", base_id="appA", model="openai/gpt"
    )
    payload = '<img src=x onerror="alert(1)"> & **bold**'
    messages = [
        message("user", "Which tasks are open?\nOnly mine."),
        message("assistant", "", tool_calls=[{"id": "c1"}]),
        message("tool", '{"records": []}', tool_name="search_records", status="complete"),
        message("assistant", f"Two: {payload}"),
        message("user", "And stopped?"),
        message("assistant", "Half an ans", status="stopped"),
        message("user", "Once more"),
        message("assistant", "Par", status="failed", error="The model\nwas unreachable."),
    ]

    text = conversation_markdown(conversation, messages, exported_at=AT)

    assert text.startswith("# Open tasks\n\nExported 2025-03-04 15:06 UTC · base appA")
    assert text.endswith("\n") and "model openai/gpt" in text
    expected_order = [
        "## Question (2025-03-04 15:06 UTC)\n\nWhich tasks are open?\nOnly mine.",
        "- Step: `search_records` (done)",
        f"## Answer (2025-03-04 15:06 UTC)\n\nTwo: {payload}",
        "## Question (2025-03-04 15:06 UTC)\n\nAnd stopped?",
        "## Answer, stopped (2025-03-04 15:06 UTC)\n\nHalf an ans",
        "## Answer, failed (2025-03-04 15:06 UTC)\n\nPar\n\n> The model was unreachable.",
    ]
    positions = [text.index(part) for part in expected_order]
    assert positions == sorted(positions)
    assert '{"records": []}' not in text, "tool payloads stay out"
    assert "&lt;" not in text and "&amp;" not in text, "a text file: nothing is escaped"


def test_the_file_name_is_the_id_and_an_ascii_title() -> None:
    def named(title: str, id_: int = 7) -> str:
        return export_filename(Conversation(id=id_, user_id=1, title=title))

    assert named("Which tasks are overdue?") == "conversation-7-which-tasks-are-overdue.md"
    assert named("Tâches d'été / 2025") == "conversation-7-taches-d-ete-2025.md"
    assert named("../../etc/passwd") == "conversation-7-etc-passwd.md"
    assert named("日本語") == "conversation-7.md"
    assert len(named("word " * 100)) <= len("conversation-7-") + 50 + len(".md")
