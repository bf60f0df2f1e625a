"""The demo model of `make demo`: answers the sample base's example questions with real tools.

A responder for `ScriptedLLM` (``python -m tests.fakes.llm --tour``): it reads the
conversation the app sends and, for each question of
`pyairtable_ui.sample.tour.SAMPLE_QUESTIONS`, first calls the tool a real model would
(a filtered search, an aggregate, a set-based update that the app turns into a review),
then, once the tool's result is in the conversation, answers in words. Anything else gets
a plain statement that this is a scripted demo, not a model. Nothing here is read by the
app: it is a stand-in for a provider, like the rest of this package.
"""

from __future__ import annotations

import json
from typing import Any

from pyairtable_ui.sample.tour import SAMPLE_QUESTIONS
from tests.fakes.llm.script import Reply, ToolCall

NEGOTIATION, PER_STAGE, MARK_WON = SAMPLE_QUESTIONS
DEAL_TO_WIN = "Ember Foods - Integrations"

_CALLS: dict[str, ToolCall] = {
    NEGOTIATION: ToolCall(
        "search_records",
        {
            "table": "Deals",
            "filters": [{"field": "Stage", "op": "eq", "value": "Negotiation"}],
            "fields": ["Name", "Amount", "Close Date"],
            "sort": [{"field": "Amount", "direction": "desc"}],
            "limit": 10,
            "count_total": True,
        },
    ),
    PER_STAGE: ToolCall("aggregate", {"table": "Deals", "op": "count", "group_by": "Stage"}),
    MARK_WON: ToolCall(
        "update_matching_records",
        {
            "table": "Deals",
            "filters": [{"field": "Name", "op": "eq", "value": DEAL_TO_WIN}],
            "fields": {"Stage": "Closed Won"},
        },
    ),
}

_ANSWERS = {
    NEGOTIATION: (
        "These are the deals in the Negotiation stage, biggest first, read from your "
        "sample base just now (the table above; the search's total is in its step)."
    ),
    PER_STAGE: (
        "Here is the number of deals in each stage, counted over every deal in the base "
        "(the chart and table above)."
    ),
    MARK_WON: (
        f"I proposed setting Stage to Closed Won on “{DEAL_TO_WIN}”. Nothing has changed "
        "yet: review the change above and approve or reject it. Once applied, it can be "
        "undone from the conversation's actions or the History page."
    ),
}

UNKNOWN = (
    "This is the demo model: scripted answers, not a real model. It answers only the "
    "example questions shown in the chat: "
    + "; ".join(f"“{question}”" for question in SAMPLE_QUESTIONS)
    + ". To ask anything else, configure a real model (LLM_MODEL, see the README)."
)


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI's content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _normal(text: str) -> str:
    return " ".join(text.replace("“", "").replace("”", "").split()).rstrip("?.! ").casefold()


def tour_reply(messages: list[dict[str, Any]]) -> Reply:
    """The demo's next reply for a conversation (the app's request ``messages``).

    Args:
        messages: The chat-completions messages, oldest first.

    Returns:
        A tool call for an example question not yet answered, its answer once the tool's
        result came back, or the demo's explanation for anything else.
    """
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    if last_user < 0:
        return Reply(content=UNKNOWN)
    asked = _normal(_text(messages[last_user].get("content")))
    question = next((q for q in SAMPLE_QUESTIONS if _normal(q) == asked), None)
    if question is None:
        return Reply(content=UNKNOWN)
    results = [m for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    if not results:
        return Reply(tool_calls=[_CALLS[question]])
    outcome = _text(results[-1].get("content"))
    try:
        parsed = json.loads(outcome)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("error"):
        return Reply(content=f"The tool answered with a problem: {parsed['error']}")
    return Reply(content=_answer(question, parsed if isinstance(parsed, dict) else {}))


def _answer(question: str, result: dict[str, Any]) -> str:
    """The words after the tool's result, with its figures when it has them."""
    if question == NEGOTIATION and isinstance(result.get("total"), int):
        return (
            f"{result['total']} deals are in the Negotiation stage. The "
            f"{result.get('returned', 10)} biggest are in the table above, read from your "
            "sample base just now."
        )
    groups = result.get("groups")
    if question == PER_STAGE and isinstance(groups, list):
        counts = ", ".join(
            f"{group.get('group')}: {group.get('value')}"
            for group in groups
            if isinstance(group, dict)
        )
        return (
            f"Of {result.get('records_matched')} deals, by stage: {counts}. The chart above "
            "shows the same counts."
        )
    return _ANSWERS[question]
