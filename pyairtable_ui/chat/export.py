"""A conversation as a Markdown file: the questions, the answers and the steps between.

A plain text file the person downloads, so nothing in it is escaped for HTML: the
answers are already Markdown, the questions are kept as typed. Tool results are
left out (they are Airtable payloads, often large); each step is one line naming
the tool and how it ended, as the conversation shows it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from pyairtable_ui.chat.models import Conversation, Message, MessageRole, MessageStatus

_SLUG_CHARS = 50
_TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def conversation_markdown(
    conversation: Conversation, messages: Iterable[Message], *, exported_at: datetime
) -> str:
    """The conversation as Markdown, oldest message first.

    Args:
        conversation: Its title, base and model head the file.
        messages: Its messages, oldest first.
        exported_at: When it was exported (UTC), said under the title.

    Returns:
        The file's text, ending with a newline.
    """
    about = [f"Exported {exported_at.strftime(_TIME_FORMAT)}"]
    if conversation.base_id:
        about.append(f"base {conversation.base_id}")
    if conversation.model:
        about.append(f"model {conversation.model}")
    parts = [f"# {_one_line(conversation.title)}", " · ".join(about)]
    for message in messages:
        block = _message_block(message)
        if block:
            parts.append(block)
    return "\n\n".join(parts) + "\n"


def export_filename(conversation: Conversation) -> str:
    """`conversation-12-which-tasks-are-overdue.md`: its id and its title, ASCII only."""
    ascii_title = (
        unicodedata.normalize("NFKD", conversation.title).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:_SLUG_CHARS].strip("-")
    return f"conversation-{conversation.id or 0}{'-' + slug if slug else ''}.md"


def _message_block(message: Message) -> str:
    when = message.created_at.strftime(_TIME_FORMAT)
    if message.role == MessageRole.USER:
        return f"## Question ({when})\n\n{message.content}"
    if message.role == MessageRole.TOOL:
        name = message.tool_name or "tool"
        return f"- Step: `{name}` ({_step_status(message.status)})"
    if message.status == MessageStatus.FAILED:
        said = f"{message.content}\n\n" if message.content else ""
        return f"## Answer, failed ({when})\n\n{said}> {_one_line(message.error or 'No answer.')}"
    if not message.content:
        return ""  # a message that only called tools: its steps follow
    heading = "Answer, stopped" if message.status == MessageStatus.STOPPED else "Answer"
    return f"## {heading} ({when})\n\n{message.content}"


def _step_status(status: str) -> str:
    return {"complete": "done", "running": "not finished", "streaming": "not finished"}.get(
        status, status
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
