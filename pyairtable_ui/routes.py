"""Page paths and HTTP route paths, in one place so links never drift.

With the two helpers every sign-in redirect uses, for the Reflex states and the HTTP
routes alike (this module imports nothing of the app).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

LOGIN = "/auth/login"
REGISTER = "/auth/register"
VERIFY = "/auth/verify"
RESET = "/auth/reset"
ONBOARDING = "/onboarding"
CHAT = "/chat"
HISTORY = "/history"
SCHEDULES = "/schedules"
SETTINGS = "/settings"
ADMIN = "/admin"
ADMIN_ANALYTICS = "/admin/analytics"
AUTOMATIONS = "/automations"

HEALTH = "/health"
METRICS = "/metrics"
SESSION_COOKIE_ROUTE = "/_auth/session"
LOGOUT_ROUTE = "/_auth/logout"
# An export written for the signed-in user: /_files/export/<name>.
EXPORT_ROUTE = "/_files/export"


def safe_next_path(raw: str | None, default: str = CHAT) -> str:
    """A path of this app to go to after sign-in; anything else falls back to `default`.

    Only a same-site path with its query survives: an absolute or scheme-relative URL
    (`https://x`, `//x`), a backslash (`/\\x`, which browsers read as `//x`), a control
    character (browsers drop tabs and newlines, so `/\t/x` would become `//x`) or a
    path back into sign-in itself (a loop) is refused.
    """
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path.startswith("/auth/"):
        return default
    return raw


def return_path(path: str, query: str = "") -> str:
    """Where a page is, to come back to after sign-in: its path and query (`/chat?c=12`).

    The trailing slash Reflex's router adds is dropped (`/chat/` -> `/chat`).
    """
    clean = path.rstrip("/") or "/"
    return f"{clean}?{query}" if query else clean


def login_redirect(next_path: str) -> str:
    """The login page, with where to go back to once signed in."""
    return f"{LOGIN}?{urlencode({'next': next_path})}"


def chat_conversation(conversation_id: int) -> str:
    """The chat page opened on one conversation."""
    return f"{CHAT}?c={conversation_id}"


def schedule_question(question: str, base_id: str, model: str) -> str:
    """The schedules page with a new schedule filled in from a chat question."""
    return f"{SCHEDULES}?{urlencode({'prompt': question, 'base': base_id, 'model': model})}"
