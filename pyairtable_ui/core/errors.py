"""The one root of every error a person using the app reads.

Each domain raises its own classes (`AuthError`, `AirtableError`, `ActionError`, ...);
they all derive from `UserFacingError`, so code that shows an error catches this one
class and shows `error.message`, whichever layer raised it. The message says what went
wrong and what to do; the details (ids, provider answers, tracebacks) go to the log.

Errors that are never shown as they are stay outside this root: a tool's complaint to
the model (`tools.registry.ToolInputError`), a sign-in redirect's reason code
(`auth.oidc.OIDCError`), a missing session (`state.auth.NotSignedInError`) and the
operator's start-up problems (`core.settings.SettingsError`).
"""

from __future__ import annotations


class UserFacingError(Exception):
    """Something went wrong that the user should read about.

    Subclasses set `default_message` for the sentence they usually carry.

    Attributes:
        message: What the user reads, in plain words, saying what to do next.
    """

    default_message = "Something went wrong. Try again."

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        """Carry the user's message, and the log's details when they differ.

        Args:
            message: What the user reads; `default_message` when not given.
            detail: What `str(error)` (and so a log line or a traceback) shows, when it
                must say more than the message; the message otherwise.
        """
        self.message = message or self.default_message
        super().__init__(detail or self.message)
