"""Airtable-shaped API errors raised by the emulator's state and server layers.

Every error the emulator returns goes through :class:`ApiError`, so the HTTP layer only has to
serialise ``status`` and ``body``. The helpers below produce the exact bodies real Airtable uses
for each situation (see ``https://airtable.com/developers/web/api/errors``).
"""

from __future__ import annotations

from typing import Any

FORBIDDEN_MESSAGE = (
    "Invalid permissions, or the requested model was not found. Check that both your user and "
    "your token have the required permissions, and that the model names and/or ids are correct."
)


class ApiError(Exception):
    """An error response: HTTP status plus Airtable's JSON error body."""

    def __init__(self, status: int, error_type: str, message: str | None = None) -> None:
        """Build an error.

        Args:
            status: HTTP status code.
            error_type: Airtable's ``error.type`` string, e.g. ``UNKNOWN_FIELD_NAME``.
            message: Human-readable ``error.message``; omitted from the body when ``None``.
        """
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body Airtable sends for this error."""
        # Real Airtable answers unknown routes with a bare string, not an object.
        if self.error_type == "NOT_FOUND" and self.message is None:
            return {"error": "NOT_FOUND"}
        error: dict[str, Any] = {"type": self.error_type}
        if self.message is not None:
            error["message"] = self.message
        return {"error": error}


def not_found() -> ApiError:
    """404 for an unknown route (``{"error": "NOT_FOUND"}``)."""
    return ApiError(404, "NOT_FOUND")


def record_not_found() -> ApiError:
    """404 for a record id that does not exist in the table."""
    return ApiError(404, "MODEL_ID_NOT_FOUND", "Record not found")


def authentication_required() -> ApiError:
    """401 for a missing or unknown token."""
    return ApiError(401, "AUTHENTICATION_REQUIRED", "Authentication required")


def forbidden() -> ApiError:
    """403 for a base/table the token may not see, or a missing scope."""
    return ApiError(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", FORBIDDEN_MESSAGE)


def invalid_request(message: str | None = None) -> ApiError:
    """422 ``INVALID_REQUEST_UNKNOWN`` for malformed parameters or bodies."""
    return ApiError(
        422,
        "INVALID_REQUEST_UNKNOWN",
        message or "Invalid request: parameter validation failed. Check your request data.",
    )


def unknown_field(name: str) -> ApiError:
    """422 ``UNKNOWN_FIELD_NAME``."""
    return ApiError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')


def invalid_value(field_name: str, detail: str | None = None) -> ApiError:
    """422 ``INVALID_VALUE_FOR_COLUMN``."""
    message = f'Field "{field_name}" cannot accept the provided value'
    if detail:
        message += f": {detail}"
    return ApiError(422, "INVALID_VALUE_FOR_COLUMN", message)


def computed_field(field_name: str) -> ApiError:
    """422 for a write to a formula/rollup/lookup/... field (message as Airtable sends it)."""
    return ApiError(
        422,
        "INVALID_VALUE_FOR_COLUMN",
        f'Field "{field_name}" cannot accept a value because the field is computed',
    )


def invalid_choice(option: str) -> ApiError:
    """422 for an unknown select option without ``typecast`` (Airtable's odd quoting kept)."""
    return ApiError(
        422,
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        f'Insufficient permissions to create new select option ""{option}""',
    )


def invalid_formula(detail: str) -> ApiError:
    """422 ``INVALID_FILTER_BY_FORMULA`` naming the problem."""
    return ApiError(
        422,
        "INVALID_FILTER_BY_FORMULA",
        f"The formula for filtering records is invalid: {detail}",
    )


def rate_limited() -> ApiError:
    """429 ``RATE_LIMIT_REACHED``."""
    return ApiError(
        429,
        "RATE_LIMIT_REACHED",
        "Rate limit exceeded. Please try again later",
    )
