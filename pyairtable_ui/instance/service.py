"""Instance settings an admin changes at run time: allowed models, the auto-approve rule,
the Airtable and LLM budgets; each over its env default."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from pyairtable_ui.auth.models import User
from pyairtable_ui.auth.service import require_admin
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.instance_settings import (
    AIRTABLE_BUDGET_KEY,
    AUTO_APPROVE_KEY,
    LLM_BUDGET_KEY,
    InstanceSetting,
    read_setting,
    write_setting,
)
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

ALLOWED_MODELS_KEY = "allowed_models"
MAX_MODELS = 30
MAX_MODEL_LENGTH = 200


class InvalidModelListError(UserFacingError):
    """The list of models cannot be saved; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def get_allowed_models(*, session: Session) -> list[str]:
    """The models users may pick: the admin's list, else LLM_MODEL and LLM_ALLOWED_MODELS.

    Args:
        session: The database session.

    Returns:
        At least one litellm model string; the first is the default.
    """
    row = session.get(InstanceSetting, ALLOWED_MODELS_KEY)
    if row is not None and isinstance(row.value, list) and row.value:
        return [str(model) for model in row.value]
    return get_settings().allowed_models


def set_allowed_models(*, session: Session, actor: User, models: list[str]) -> list[str]:
    """Replace the list of models the picker offers (admins only).

    Args:
        session: The database session (the caller commits).
        actor: The signed-in user; must be an active admin.
        models: litellm model strings, the default first; blanks and repeats are dropped.

    Returns:
        The list as saved.

    Raises:
        PermissionDeniedError: The actor is not an admin.
        InvalidModelListError: Empty, too many, or a malformed model string.
    """
    require_admin(actor)
    cleaned = list(dict.fromkeys(m.strip() for m in models if m.strip()))
    if not cleaned:
        raise InvalidModelListError("List at least one model, for example openai/gpt-4o-mini.")
    if len(cleaned) > MAX_MODELS:
        raise InvalidModelListError(f"List at most {MAX_MODELS} models.")
    for model in cleaned:
        if len(model) > MAX_MODEL_LENGTH or any(ch.isspace() for ch in model):
            raise InvalidModelListError(
                f"“{model[:60]}” is not a model string "
                "(no spaces; for example anthropic/claude-sonnet-4-5)."
            )
    row = session.get(InstanceSetting, ALLOWED_MODELS_KEY) or InstanceSetting(
        key=ALLOWED_MODELS_KEY
    )
    row.value = cleaned
    row.updated_at = utcnow()
    row.updated_by = actor.id
    session.add(row)
    session.flush()
    logger.info("allowed models changed by user_id=%s: %s", actor.id, cleaned)
    return cleaned


# --- the auto-approve rule --------------------------------------------------------------


@dataclass(frozen=True)
class AutoApprovePolicy:
    """The admin's rule letting small writes run without a click (off by default).

    The rule itself (which kinds, never after record text) is `actions.approval`'s;
    this is only what the admin chose.

    Attributes:
        enabled: The switch on /admin.
        max_records: The most records one auto-approved action may create or update.
        tables: Table ids or names (any base) it covers; none: it covers nothing.
    """

    enabled: bool = False
    max_records: int = 5
    tables: tuple[str, ...] = ()

    def covers_table(self, table_id: str | None, table_name: str | None) -> bool:
        """Whether the admin chose this table (by id, or by name in any case)."""
        chosen = {t.casefold() for t in self.tables}
        return bool(
            (table_id and table_id.casefold() in chosen)
            or (table_name and table_name.casefold() in chosen)
        )


class InvalidPolicyError(UserFacingError):
    """A budget or the auto-approve rule cannot be saved as given; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def get_auto_approve_policy(*, session: Session) -> AutoApprovePolicy:
    """The auto-approve rule as the admin saved it (off when never saved)."""
    value = read_setting(session, AUTO_APPROVE_KEY)
    if not isinstance(value, dict):
        return AutoApprovePolicy()
    return AutoApprovePolicy(
        enabled=bool(value.get("enabled")),
        max_records=int(value.get("max_records") or 1),
        tables=tuple(str(t) for t in value.get("tables") or []),
    )


def set_auto_approve_policy(
    *, session: Session, actor: User, enabled: bool, max_records: int, tables: list[str]
) -> AutoApprovePolicy:
    """Save the auto-approve rule (admins only).

    Args:
        session: The database session (the caller commits).
        actor: The signed-in user; must be an active admin.
        enabled: The switch.
        max_records: 1 to CONFIRM_THRESHOLD records per action.
        tables: Table ids or names; blanks and repeats dropped.

    Returns:
        The rule as saved.

    Raises:
        PermissionDeniedError: The actor is not an admin.
        InvalidPolicyError: A count out of range, or on without any table.
    """
    require_admin(actor)
    limit = get_settings().confirm_threshold
    if not 1 <= max_records <= limit:
        raise InvalidPolicyError(f"Choose between 1 and {limit} records (CONFIRM_THRESHOLD).")
    cleaned = list(dict.fromkeys(t.strip() for t in tables if t.strip()))[:MAX_MODELS]
    if enabled and not cleaned:
        raise InvalidPolicyError("Name at least one table the rule covers (its name or id).")
    value = {"enabled": enabled, "max_records": max_records, "tables": cleaned}
    write_setting(session, AUTO_APPROVE_KEY, value, by=actor.id)
    logger.info("auto-approve rule changed by user_id=%s: %s", actor.id, value)
    return get_auto_approve_policy(session=session)


# --- budgets ------------------------------------------------------------------------------

# Airtable's monthly API call allowances per plan.
AIRTABLE_PLANS: dict[str, int] = {"free": 1_000, "team": 100_000, "business": 125_000}
MAX_BUDGET_REQUESTS = 100_000_000
MAX_BUDGET_USD = 1_000_000.0


def set_airtable_budget(*, session: Session, actor: User, plan: str, requests: str) -> int | None:
    """Set the instance's monthly Airtable request budget from a plan or a number.

    Args:
        session: The database session (the caller commits).
        actor: The signed-in user; must be an active admin.
        plan: "none", "free", "team", "business" or "custom".
        requests: The number, for "custom" (as typed).

    Returns:
        The budget in requests per month (None: no budget).

    Raises:
        PermissionDeniedError: The actor is not an admin.
        InvalidPolicyError: Unknown plan, or a custom number that is not a positive integer.
    """
    require_admin(actor)
    if plan == "none":
        budget = None
    elif plan in AIRTABLE_PLANS:
        budget = AIRTABLE_PLANS[plan]
    elif plan == "custom":
        try:
            budget = int(requests.replace(",", "").replace("_", "").strip())
        except ValueError:
            budget = 0
        if not 1 <= budget <= MAX_BUDGET_REQUESTS:
            raise InvalidPolicyError("Enter the budget as a whole number of requests, like 5000.")
    else:
        raise InvalidPolicyError("Choose a plan: Free, Team, Business or a number.")
    write_setting(session, AIRTABLE_BUDGET_KEY, {"plan": plan, "requests": budget}, by=actor.id)
    logger.info("airtable budget set by user_id=%s: %s (%s)", actor.id, budget, plan)
    return budget


def get_airtable_budget(*, session: Session) -> tuple[str, int | None]:
    """The Airtable budget as saved: its plan and requests per month (("none", None) if unset)."""
    value = read_setting(session, AIRTABLE_BUDGET_KEY)
    if not isinstance(value, dict):
        return "none", None
    requests = value.get("requests")
    return str(value.get("plan") or "custom"), int(requests) if requests else None


def _usd(text: str) -> float | None:
    text = text.replace("$", "").replace(",", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_BUDGET_USD:
        raise InvalidPolicyError("Enter an amount in US dollars, like 25 or 7.50 (empty: none).")
    return round(value, 2)


@dataclass(frozen=True)
class LLMBudget:
    """Monthly LLM spend limits in USD (litellm's cost figures); None: no limit."""

    instance_usd: float | None = None
    per_user_usd: float | None = None


def get_llm_budget(*, session: Session) -> LLMBudget:
    """The LLM spend limits as the admin saved them (none when never saved)."""
    value = read_setting(session, LLM_BUDGET_KEY)
    if not isinstance(value, dict):
        return LLMBudget()
    return LLMBudget(instance_usd=value.get("instance_usd"), per_user_usd=value.get("per_user_usd"))


def set_llm_budget(
    *, session: Session, actor: User, instance_usd: str, per_user_usd: str
) -> LLMBudget:
    """Set the monthly LLM spend limits for the instance and for each user (admins only).

    Args:
        session: The database session (the caller commits).
        actor: The signed-in user; must be an active admin.
        instance_usd: The instance's limit as typed ("" for none).
        per_user_usd: Each user's limit as typed ("" for none).

    Returns:
        The limits as saved.

    Raises:
        PermissionDeniedError: The actor is not an admin.
        InvalidPolicyError: Not an amount.
    """
    require_admin(actor)
    value = {"instance_usd": _usd(instance_usd), "per_user_usd": _usd(per_user_usd)}
    write_setting(session, LLM_BUDGET_KEY, value, by=actor.id)
    logger.info("llm budget set by user_id=%s: %s", actor.id, value)
    return get_llm_budget(session=session)
