"""The month's use against the budgets: the admins' 80% banner and the Settings figures.

Loaded by a handler that checks who asks (`signed_in_user_id`): everyone sees the
instance's Airtable figure and their own LLM spend; only admins get the banner.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from pyairtable_ui.analytics import flows
from pyairtable_ui.state.auth import signed_in_user_id


class BudgetState(rx.State):
    """This month's Airtable requests and LLM spend, in words."""

    airtable: str = ""
    airtable_percent: int = 0
    # Set for admins at 80% of the Airtable budget and above: the banner on every page.
    warning: str = ""
    llm_mine: str = ""
    llm_instance: str = ""

    @rx.event
    async def load(self):
        """Read the month's figures for the signed-in user."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return
        view = await asyncio.to_thread(flows.budget_view, user_id=user_id)
        self.airtable, self.airtable_percent = view.airtable, view.airtable_percent
        self.warning = view.airtable_warning
        self.llm_mine, self.llm_instance = view.llm_mine, view.llm_instance
