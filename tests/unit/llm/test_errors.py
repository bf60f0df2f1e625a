"""Provider failures as the user reads them: clear, actionable, and never showing a key."""

from __future__ import annotations

import httpx
import litellm
import pytest

from pyairtable_ui.llm.errors import describe_llm_error, redact_secrets, retry_after_seconds
from tests.unit.chat.conftest import API_KEY

MODEL = "openai/scripted-errors"


def test_redaction_masks_the_given_key_and_anything_shaped_like_one():
    text = f"Key {API_KEY} refused; also sk-proj-abcdef123456 and Bearer abc.def.ghi123"

    masked = redact_secrets(text, API_KEY)

    assert API_KEY not in masked
    assert "sk-proj-abcdef123456" not in masked
    assert "abc.def.ghi123" not in masked
    assert masked.count("[redacted]") == 3


def test_long_provider_messages_are_trimmed():
    exc = litellm.BadRequestError(message="x" * 2000, model=MODEL, llm_provider="openai")

    failure = describe_llm_error(exc, model=MODEL, api_base=None, timeout=30)

    assert len(failure.message) < 400
    assert failure.message.endswith("…")


def test_anything_else_names_the_class():
    failure = describe_llm_error(KeyError("choices"), model=MODEL, api_base=None, timeout=30)

    assert failure.message == "The model call failed: KeyError. Try again."
    assert not failure.retryable


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retry-after-ms": "250"}, 0.25), ({"retry-after": "3"}, 3.0), ({}, None)],
)
def test_retry_after_is_read_from_the_provider_headers(headers, seconds):
    response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "http://x"))
    exc = litellm.RateLimitError(
        message="slow down", model=MODEL, llm_provider="openai", response=response
    )

    assert retry_after_seconds(exc) == seconds
