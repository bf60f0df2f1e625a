"""Every way an Airtable call can fail, as one exception family with two messages.

`AirtableError` carries a sentence for the person using the app and one for the
model (which names Airtable's error type and message so it can fix its
arguments). The client raises these instead of pyairtable's `requests.HTTPError`,
so tools and the action executor only ever catch one family. No message ever
contains the token: it lives in a request header, which is never quoted here.
"""

from __future__ import annotations

from typing import Any

import requests

from pyairtable_ui.core.errors import UserFacingError


class ToolCancelled(Exception):
    """The user pressed Stop: the running tool ends before its next Airtable request."""

    def __init__(self, message: str = "Stopped by the user.") -> None:
        self.message = message
        super().__init__(message)


class AirtableError(UserFacingError):
    """Airtable refused or could not answer a request.

    Attributes:
        message: What the person reads, with what to do about it.
        message_for_model: What the model reads: Airtable's type and message and
            what to change in its arguments.
        status: HTTP status, or None when no answer came (timeout, refused).
        type: Airtable's error type (e.g. ``UNKNOWN_FIELD_NAME``) or our own
            (``TIMEOUT``, ``CONNECTION_ERROR``).
    """

    def __init__(
        self,
        message: str,
        message_for_model: str | None = None,
        *,
        status: int | None = None,
        type: str = "ERROR",
    ) -> None:
        super().__init__(message)
        self.message_for_model = message_for_model or message
        self.status = status
        self.type = type

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, type={self.type!r})"


class AirtableAuthError(AirtableError):
    """401: the token was rejected (revoked, expired, cut short)."""


class AirtablePermissionError(AirtableError):
    """403: no access to the base or table, or the token lacks a scope."""


class AirtableNotFoundError(AirtableError):
    """404: the base, table or record does not exist (or is no longer visible)."""


class AirtableInvalidRequestError(AirtableError):
    """422 (or another 4xx): the request itself is wrong; the model can fix it."""


class AirtableRateLimitError(AirtableError):
    """429 that outlasted every retry."""


class AirtableServerError(AirtableError):
    """5xx that outlasted every retry."""


class AirtableUnavailableError(AirtableError):
    """No answer at all: timeout, connection refused, DNS failure."""


# Error types that mean our cached schema may be stale (a field or table renamed or gone).
SCHEMA_ERROR_TYPES = frozenset(
    {
        "UNKNOWN_FIELD_NAME",
        "INVALID_FIELD_NAME",
        "TABLE_NOT_FOUND",
        "MODEL_NOT_FOUND",
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
        "NOT_FOUND",
    }
)


def airtable_error_body(response: requests.Response) -> tuple[str, str]:
    """Airtable's error type and message from a response body, when it has them.

    Airtable sends ``{"error": {"type": ..., "message": ...}}`` or, for unknown
    routes, ``{"error": "NOT_FOUND"}``; proxies may send HTML.

    Args:
        response: The failed response.

    Returns:
        (type, message); empty strings when the body says nothing usable.
    """
    try:
        body: Any = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error, ""
    if isinstance(error, dict):
        return str(error.get("type") or ""), str(error.get("message") or "")
    return "", ""


def error_from_response(
    response: requests.Response, *, what: str, retries_exhausted: bool = False
) -> AirtableError:
    """The `AirtableError` for a failed response.

    Args:
        response: The final response (after retries).
        what: What was being done, in words, e.g. "list records of tblX in appY".
        retries_exhausted: Whether the client already retried (429 and 5xx).

    Returns:
        The error to raise.
    """
    status = response.status_code
    error_type, airtable_message = airtable_error_body(response)
    detail = f"{error_type}: {airtable_message}" if airtable_message else error_type
    detail = detail or f"HTTP {status}"
    if status == 401:
        return AirtableAuthError(
            "Airtable rejected the connected token (it may have been revoked or have "
            "expired). Reconnect Airtable in Settings.",
            f"Airtable rejected the token (401 {detail}). Nothing you change in the "
            "arguments will help: tell the user to reconnect Airtable in Settings.",
            status=status,
            type=error_type or "AUTHENTICATION_REQUIRED",
        )
    if status == 403:
        # Airtable answers 403 both for "no access" and for a base or table that is gone.
        return AirtablePermissionError(
            "Airtable refused access: the base or table may have been deleted, the token "
            "may have lost access to it, or the token lacks a scope (data.records:write to "
            "change records, schema.bases:write for new tables and fields). Check the "
            "token's bases and scopes in Airtable.",
            f"Airtable refused {what} (403 {detail}). Check the table and field names "
            "with list_tables; if they are right, the base may have been deleted or the "
            "user's token lacks access or a scope for this: tell the user.",
            status=status,
            type=error_type or "INVALID_PERMISSIONS",
        )
    if status == 404:
        return AirtableNotFoundError(
            "Airtable could not find it: the base, table or record may have been deleted, "
            "or the token lost access to it.",
            f"Not found while trying to {what} (404 {detail}). The base, table or record "
            "may have been deleted or the token lost access. Check ids with list_tables "
            "or search_records before retrying.",
            status=status,
            type=error_type or "NOT_FOUND",
        )
    if status == 429:
        return AirtableRateLimitError(
            "Airtable is limiting requests to this base right now. Try again in a minute.",
            f"Airtable rate limit (429) persisted after retries while trying to {what}. "
            "Do not retry at once; tell the user to try again in a minute.",
            status=status,
            type=error_type or "RATE_LIMIT_REACHED",
        )
    if status >= 500:
        tried = " after several tries" if retries_exhausted else ""
        return AirtableServerError(
            f"Airtable had a problem answering (HTTP {status}){tried}. Try again in a minute.",
            f"Airtable failed with HTTP {status}{tried} while trying to {what} ({detail}). "
            "This is not caused by your arguments; tell the user Airtable is having trouble.",
            status=status,
            type=error_type or "SERVER_ERROR",
        )
    # 422 and any other 4xx: the request is wrong; Airtable's message tells how.
    return AirtableInvalidRequestError(
        f"Airtable refused the request: {airtable_message or detail}",
        f"Airtable refused {what} ({status} {detail}). Fix the arguments and try again.",
        status=status,
        type=error_type or "INVALID_REQUEST",
    )


def error_from_exception(exc: requests.RequestException, *, what: str) -> AirtableError:
    """The `AirtableError` for a request that got no answer.

    Args:
        exc: What `requests` raised (timeout, connection error, ...).
        what: What was being done, in words.

    Returns:
        The error to raise.
    """
    if isinstance(exc, requests.Timeout):
        return AirtableUnavailableError(
            "Airtable did not answer in time. Try again in a minute.",
            f"Airtable timed out while trying to {what}. Not caused by your arguments; "
            "try once more later or tell the user.",
            type="TIMEOUT",
        )
    return AirtableUnavailableError(
        "Airtable could not be reached. Check the network (or AIRTABLE_API_URL) and try again.",
        f"Airtable could not be reached while trying to {what} ({type(exc).__name__}). "
        "Not caused by your arguments; tell the user.",
        type="CONNECTION_ERROR",
    )


def error_from_bad_body(exc: ValueError, *, what: str) -> AirtableError:
    """The `AirtableError` for an answer that is not Airtable's JSON.

    Args:
        exc: The decoding or validation error.
        what: What was being done, in words.

    Returns:
        The error to raise.
    """
    return AirtableServerError(
        "The server did not answer like Airtable. Check AIRTABLE_API_URL.",
        f"Airtable's answer could not be read while trying to {what} ({type(exc).__name__}).",
        type="BAD_RESPONSE",
    )
