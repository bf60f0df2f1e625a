"""What every module of safe writes shares: the errors, the limits, the plan hash.

This module imports nothing else of `pyairtable_ui.actions`, so any of them can
import it without a cycle. The package's map is in `service`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings

BATCH_SIZE = 10  # Airtable's limit of records per write request

# Schema changes Airtable's API cannot reverse (it has no delete for tables or fields).
IRREVERSIBLE_OPS = ("create_table", "create_field")


class ActionError(UserFacingError):
    """An action cannot be found or cannot do that now; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ActionNotFoundError(ActionError, LookupError):
    """No action with that id belongs to this user."""

    def __init__(self, action_id: int) -> None:
        super().__init__(f"Action #{action_id} was not found.")


class ActionStateError(ActionError):
    """The action cannot do that from where it stands; `message` says why."""


class ConfirmationError(ActionError):
    """The confirmation the action needs was not given (e.g. the count was not typed)."""


class ActionPermissionError(ActionError):
    """The user may not do that (e.g. see other users' actions without being an admin)."""


def plan_hash(plan: dict[str, Any]) -> str:
    """A stable, keyed hash of a stored plan, so execution can prove it runs what was approved.

    Keyed with SECRET_KEY (HMAC-SHA256): a plan edited in the database cannot be
    given a matching hash without the app's secret. It hashes the plan as stored
    (`plan.plan_json`), so a plan approved by an earlier version of the app keeps
    its hash.

    Args:
        plan: The plan as stored (any JSON; key order does not matter).

    Returns:
        64 hex digits.
    """
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = get_settings().secret_key.get_secret_value().encode("utf-8")
    return hmac.new(key, b"action-plan:" + text.encode("utf-8"), hashlib.sha256).hexdigest()
