"""Instance settings an admin changes at run time (allowed models), over env defaults."""

from __future__ import annotations

import logging

from sqlmodel import Session

from pyairtable_ui.auth.errors import PermissionDeniedError
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.instance_settings import InstanceSetting
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
    if not (actor.is_admin and actor.is_active):
        raise PermissionDeniedError()
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
