"""Errors of the account layer, each carrying a message a person can read and act on.

Handlers show `error.message` as is; log lines carry the technical details separately.
"""

from __future__ import annotations

from pyairtable_ui.core.errors import UserFacingError


class AuthError(UserFacingError):
    """Base class: something about an account, a session or a link went wrong."""

    default_message = "Something went wrong with your account. Try again."


class InvalidEmailError(AuthError):
    """The text given is not shaped like an email address."""

    default_message = "Enter an email address like name@example.com."


class WeakPasswordError(AuthError):
    """The new password breaks one or more of the password rules.

    Attributes:
        problems: One plain sentence per broken rule, for a list under the field.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


class EmailTakenError(AuthError):
    """An account with this email already exists."""

    default_message = "An account with this email already exists. Sign in or reset your password."


class InvalidCredentialsError(AuthError):
    """Sign-in failed. Deliberately the same for unknown email, wrong password, disabled account."""

    default_message = "Email or password is incorrect."


class WrongPasswordError(AuthError):
    """The current password given to change the password is wrong (user is signed in)."""

    default_message = "Your current password is not correct."


class UserNotFoundError(AuthError):
    """An admin acted on an account id that does not exist."""

    default_message = "This account does not exist any more."


class PermissionDeniedError(AuthError):
    """The acting user may not do this (e.g. a member using an admin helper)."""

    default_message = "Only an admin can do this."


class LastAdminError(AuthError):
    """The change would leave the instance without an active admin."""

    default_message = (
        "This is the last active admin. Make another account admin first, "
        "so someone can still manage the instance."
    )


class InvalidProfileError(AuthError):
    """A profile value (name, base, model) cannot be saved as given."""


class TokenError(AuthError):
    """Base class for one-time links and tickets that cannot be used."""


class TokenInvalidError(TokenError):
    """The link is unknown, meant for something else, or its account is disabled."""

    default_message = "This link is not valid. Check that you opened the whole link from the email."


class TokenExpiredError(TokenError):
    """The link was real but is too old."""

    default_message = "This link has expired. Ask for a new one."


class TokenUsedError(TokenError):
    """The link was real but has been used already (links work once)."""

    default_message = "This link has already been used. Ask for a new one if you still need it."


class RegistrationClosedError(AuthError):
    """The instance takes new accounts by invitation only, and none was given."""

    default_message = (
        "This instance is open by invitation only. Ask your admin for an invitation "
        "and open the link in it."
    )


class InviteUnusableError(AuthError):
    """The invitation is unknown, revoked, expired or used (deliberately one message)."""

    default_message = (
        "This invitation link cannot be used: it may have expired, been revoked or "
        "already been used. Ask your admin for a new one."
    )


class InviteForAnotherEmailError(AuthError):
    """The invitation was made out to another address than the one typed."""

    default_message = "This invitation is for another email address: use the one it was sent to."


class InvalidInviteError(AuthError):
    """An admin's invitation cannot be made as asked; `message` says why."""
