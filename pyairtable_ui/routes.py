"""Page paths and HTTP route paths, in one place so links never drift."""

LOGIN = "/auth/login"
REGISTER = "/auth/register"
VERIFY = "/auth/verify"
RESET = "/auth/reset"
ONBOARDING = "/onboarding"
CHAT = "/chat"
HISTORY = "/history"
SETTINGS = "/settings"
ADMIN = "/admin"

HEALTH = "/health"
METRICS = "/metrics"
SESSION_COOKIE_ROUTE = "/_auth/session"
LOGOUT_ROUTE = "/_auth/logout"

PUBLIC_PAGES = frozenset({LOGIN, REGISTER, VERIFY, RESET})
