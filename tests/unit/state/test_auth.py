"""Sign-out clears every page's state, including pages added later."""

from __future__ import annotations

import reflex as rx

import pyairtable_ui.pyairtable_ui  # noqa: F401  (registers every page and its state)
from pyairtable_ui.state.auth import _app_state_classes


def _every_app_state(parent: type) -> set[type]:
    found = set()
    for substate in parent.get_substates():
        if substate.__module__.startswith("pyairtable_ui."):
            found.add(substate)
        found |= _every_app_state(substate)
    return found


def test_every_state_the_app_defines_is_cleared_on_sign_out() -> None:
    cleared = set(_app_state_classes(rx.State))
    names = {state.__name__ for state in cleared}
    assert {"AuthState", "ChatState", "ActionsState", "AdminState", "HistoryState"} <= names
    assert {"SettingsState", "OnboardingState", "LoginState"} <= names
    assert _every_app_state(rx.State) <= cleared
    # Reflex's own bookkeeping states are left alone.
    assert all(state.__module__.startswith("pyairtable_ui.") for state in cleared)
