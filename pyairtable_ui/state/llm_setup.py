"""Whether the chat can answer at all: the model provider's settings, for the /chat banner."""

from __future__ import annotations

import reflex as rx

from pyairtable_ui.llm.setup import llm_setup
from pyairtable_ui.state.auth import signed_in_user_id


class LLMSetupState(rx.State):
    """What to set when no provider is configured ("" when one is)."""

    hint: str = ""

    @rx.event
    async def check(self):
        """Read the settings once the page shows; only for a signed-in user."""
        if await signed_in_user_id(self) is None:
            self.hint = ""
            return
        self.hint = llm_setup().hint
