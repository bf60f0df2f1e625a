"""What the sample base shows a newcomer: its mark and the example questions of the chat.

No emulator here, so pages can import it. The demo model (`make demo`, the scripted
server's ``--tour``) answers exactly these questions with real tool calls: a read with a
filter, an aggregate, and a proposed update that goes through the review.
"""

from __future__ import annotations

# After the base names of a sample (the sample server names its bases so).
SAMPLE_MARK = " (Sample)"
# A sample's base ids start so ("app" + 14 characters, as Airtable's): the history, which
# keeps base ids only, still knows a sample's actions after the user connected Airtable.
SAMPLE_BASE_ID_PREFIX = "appSample"

# The sample's questions are about its CRM: they are offered on a sample base with this table.
SAMPLE_QUESTIONS_TABLE = "Deals"
SAMPLE_QUESTIONS: tuple[str, ...] = (
    "Which deals are in negotiation?",
    "How many deals are in each stage?",
    "Mark the Ember Foods - Integrations deal as Closed Won",
)


def is_sample_base_id(base_id: str) -> bool:
    """Whether a base id is one the sample server gave (see SAMPLE_BASE_ID_PREFIX)."""
    return base_id.startswith(SAMPLE_BASE_ID_PREFIX)
