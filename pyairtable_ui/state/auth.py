"""Who is asking: the signed-in user, resolved on the server from the HttpOnly cookie.

A page guard is a redirect, not protection. Every handler that touches user
data calls `require_user_id()`, which re-checks the session row, so a revoked
or expired session stops working in open tabs too.

Whatever a signed-in user loaded into this tab's state (conversations, history,
the admin's user list…) goes when the user does: sign-out, and any check that
finds the session revoked, expired or belonging to someone else, reset every
substate of the app (`clear_private_state`), and sign-out also gives the tab a
new Reflex client token. `SignedOutStateMiddleware` makes the same check before
a page's first snapshot (the hydrate), which is sent before any on_load guard.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState

from pyairtable_ui import routes
from pyairtable_ui.api.session_cookie import session_token_from_cookie_header
from pyairtable_ui.auth import flows
from pyairtable_ui.auth.flows import SignedInUser
from pyairtable_ui.auth.models import OnboardingStep
from pyairtable_ui.routes import login_redirect, return_path, safe_next_path

# How long a positive check is trusted before the session row is read again.
RECHECK_SECONDS = 15.0

# The sessionStorage key in which Reflex's frontend keeps this tab's client token.
REFLEX_TOKEN_KEY = "token"  # noqa: S105 (a storage key, not a secret)

# The root state's events that send the whole state tree to the page.
HYDRATE_EVENTS = frozenset(
    f"{rx.State.get_name()}.{name}" for name in ("hydrate", "hydrate_and_load")
)

logger = logging.getLogger(__name__)


class NotSignedInError(Exception):
    """The session is missing, expired or revoked."""


def current_path(url_path: str) -> str:
    """A page path without the trailing slash Reflex's router adds (`/chat/` -> `/chat`)."""
    return url_path.rstrip("/") or "/"


def navigate_js(path: str) -> str:
    """JavaScript for a full page load of `path`, so the websocket reconnects with new cookies."""
    return f"window.location.replace({json.dumps(safe_next_path(path))})"


def _app_state_classes(parent: type[BaseState]) -> list[type[BaseState]]:
    # Every substate the app defines, at any depth; Reflex's own internal states are left alone.
    found: list[type[BaseState]] = []
    for substate in sorted(parent.get_substates(), key=lambda cls: cls.get_full_name()):
        if substate.__module__.split(".")[0] == __name__.split(".")[0]:
            found.append(substate)
        found.extend(_app_state_classes(substate))
    return found


async def clear_private_state(state: rx.State) -> None:
    """Reset every substate of the app in this tab's state tree to its defaults.

    Used when the user of the tab goes away (sign-out, a revoked or expired
    session), so the next snapshot sent to the page holds nothing of theirs. It
    walks the state classes rather than a list, so a page added later is cleared
    too.

    Args:
        state: Any state of the tab's tree (a handler's `self`).
    """
    for state_class in _app_state_classes(rx.State):
        substate = await state.get_state(state_class)
        # `reset` does not reach into substates that were not loaded; each is visited anyway.
        substate.reset()


async def signed_in_user_id(state: rx.State) -> int | None:
    """The user asking, checked on the server, for any page's handler; None if signed out.

    Args:
        state: The handler's state (it reaches AuthState through `get_state`).

    Returns:
        The user id, or None when the session is missing, expired or revoked.
    """
    auth = await state.get_state(AuthState)
    try:
        return await auth.require_user_id()
    except NotSignedInError:
        return None


class AuthState(rx.State):
    """The signed-in user of this tab, as far as the page needs to know."""

    signed_in: bool = False
    user_email: str = ""
    user_name: str = ""
    is_admin: bool = False
    onboarding_step: str = ""

    _user_id: int | None = None
    _session_id: int | None = None
    _checked_at: float = 0.0

    async def _load_user(self, *, force: bool = False) -> SignedInUser | None:
        if not force and self._user_id is not None:
            if time.monotonic() - self._checked_at < RECHECK_SECONDS:
                return None  # still trusted; caller uses _user_id
        token = session_token_from_cookie_header(self.router.headers.cookie)
        user = await flows.signed_in_user(token)
        if self._user_id is not None and (user is None or user.id != self._user_id):
            # The tab still holds what the previous user loaded: drop all of it.
            await clear_private_state(self)
        if user is None:
            self._forget()
            return None
        self._user_id = user.id
        self._session_id = user.session_id
        self._checked_at = time.monotonic()
        self.signed_in = True
        self.user_email = user.email
        self.user_name = user.display_name or user.email.split("@")[0]
        self.is_admin = user.is_admin
        self.onboarding_step = user.onboarding_step
        return user

    def _forget(self) -> None:
        self._user_id = None
        self._session_id = None
        self._checked_at = 0.0
        self.signed_in = False
        self.user_email = ""
        self.user_name = ""
        self.is_admin = False
        self.onboarding_step = ""

    async def require_user_id(self) -> int:
        """The signed-in user's id, checked against the session row.

        Returns:
            The user id.

        Raises:
            NotSignedInError: When the session is gone; callers redirect to login.
        """
        await self._load_user()
        if self._user_id is None:
            raise NotSignedInError
        return self._user_id

    async def require_session_id(self) -> int:
        """The id of this browser's session row (to keep it when signing out others).

        Raises:
            NotSignedInError: When the session is gone.
        """
        await self.require_user_id()
        assert self._session_id is not None
        return self._session_id

    async def refresh_user(self) -> None:
        """Read the user again now (after a change to profile or onboarding)."""
        await self._load_user(force=True)

    def _here(self) -> str:
        """This page with its query, to come back to after sign-in (`/chat?c=12`)."""
        return return_path(self.router.url.path, self.router.url.query)

    @rx.event
    async def guard_private_page(self):
        """On load of a private page: send a signed-out visitor to login."""
        await self._load_user(force=True)
        if not self.signed_in:
            return rx.redirect(login_redirect(self._here()), replace=True)
        if self.onboarding_step != OnboardingStep.DONE and current_path(
            self.router.url.path
        ) not in (
            routes.ONBOARDING,
            routes.SETTINGS,
        ):
            return rx.redirect(routes.ONBOARDING, replace=True)
        return None

    @rx.event
    async def guard_admin_page(self):
        """On load of an admin page: members are sent to the chat."""
        await self._load_user(force=True)
        if not self.signed_in:
            return rx.redirect(login_redirect(self._here()), replace=True)
        if not self.is_admin:
            return rx.redirect(routes.CHAT, replace=True)
        return None

    @rx.event
    async def check_session(self) -> None:
        """On load of a page for anyone (the 404): learn who is here, send nobody away."""
        await self._load_user(force=True)

    @rx.event
    async def skip_if_signed_in(self):
        """On load of login/register: a signed-in visitor goes on to the app."""
        await self._load_user(force=True)
        if self.signed_in:
            wanted = self.router.url.query_parameters.get("next")
            return rx.redirect(safe_next_path(wanted), replace=True)
        return None

    async def drop_stale_user(self) -> None:
        """Clear the tab's state if its user is no longer the one the cookie signs in.

        Called before a page's snapshot is sent. A database that cannot be read
        counts as signed out: the tab loses its data rather than showing it unchecked.
        """
        if self._user_id is None:
            return
        token = session_token_from_cookie_header(self.router.headers.cookie)
        try:
            user = await flows.signed_in_user(token)
        except Exception:  # fail closed; the page's own checks report the outage
            logger.warning("could not check the session before a page load", exc_info=True)
            user = None
        if user is None or user.id != self._user_id:
            await clear_private_state(self)

    @rx.event
    async def logout(self):
        """Sign this tab out: clear its state, revoke the session, reload under a new token.

        The session is revoked over HTTP, which also clears the HttpOnly cookie.
        """
        await clear_private_state(self)
        return rx.call_script(
            # Without the old token the reloaded page starts a new, empty state tree.
            f"window.sessionStorage.removeItem({json.dumps(REFLEX_TOKEN_KEY)});"
            f"fetch({json.dumps(routes.LOGOUT_ROUTE)},"
            " {method: 'POST', credentials: 'same-origin'})"
            f".finally(() => {navigate_js(routes.LOGIN)})"
        )


class SignedOutStateMiddleware(Middleware):
    """Before a page's snapshot is sent, drop a previous user's data from the tab's state.

    The snapshot (hydrate) goes out before any on_load guard runs, so a tab whose
    session was revoked, expired or replaced elsewhere would otherwise receive
    what the previous user had loaded.
    """

    async def preprocess(self, app: rx.App, state: BaseState, event: Any) -> None:
        """Check the tab's user against its cookie on hydrate events; never answers itself."""
        if event.name in HYDRATE_EVENTS:
            auth = await state.get_state(AuthState)
            await auth.drop_stale_user()
        return None
