"""One root for the errors a user reads: a page that catches it shows any layer's message."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pyairtable_ui
from pyairtable_ui.actions.base import ActionNotFoundError
from pyairtable_ui.core.crypto import SecretDecryptionError
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.llm.client import LLMCallError
from pyairtable_ui.llm.errors import LLMFailure

# The packages below the pages, which import no Reflex: where errors are raised.
SERVICE_PACKAGES = (
    "account",
    "actions",
    "airtable",
    "auth",
    "chat",
    "core",
    "instance",
    "llm",
    "tools",
)

# Exceptions that are never shown to a user as they are (see core/errors.py).
NOT_SHOWN = {
    "pyairtable_ui.airtable.errors.ToolCancelled",  # Stop was pressed: a signal
    "pyairtable_ui.auth.oidc.OIDCError",  # the login page shows the text for its code
    "pyairtable_ui.core.settings.SettingsError",  # the operator's, at start-up
    "pyairtable_ui.tools.registry.ToolInputError",  # the model's, in a tool result
}


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in SERVICE_PACKAGES:
        module = importlib.import_module(f"pyairtable_ui.{package}")
        names = [module.__name__] + [
            info.name
            for info in pkgutil.walk_packages(module.__path__, prefix=f"{module.__name__}.")
        ]
        for name in names:
            for _, value in inspect.getmembers(importlib.import_module(name), inspect.isclass):
                if issubclass(value, BaseException) and value.__module__.startswith(
                    pyairtable_ui.__name__ + "."
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_error_of_the_services_derives_from_the_one_root() -> None:
    outside = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _exception_classes()
        if not issubclass(cls, UserFacingError)
        and not any(f"{base.__module__}.{base.__qualname__}" in NOT_SHOWN for base in cls.__mro__)
    )
    assert outside == [], "derive these from core.errors.UserFacingError: " + ", ".join(outside)


def test_the_message_is_the_default_or_the_given_one_and_str_may_say_more() -> None:
    assert UserFacingError().message == "Something went wrong. Try again."
    assert SecretDecryptionError().message.startswith("Your saved Airtable connection")
    assert (
        str(ActionNotFoundError(7))
        == ActionNotFoundError(7).message
        == ("Action #7 was not found.")
    )
    failure = LLMFailure(message="The model is busy. Try again.", detail="RateLimitError 429")
    failed = LLMCallError(failure, retry_after=None, showed_output=False)
    assert failed.message == "The model is busy. Try again."
    assert str(failed) == "RateLimitError 429"
