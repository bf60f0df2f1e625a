"""Turn what litellm raises into a sentence a user can act on, and a log line for us.

litellm maps every provider's failures onto the OpenAI exception classes, but not
always onto the obvious one: a refused connection arrives as `InternalServerError`
("Connection error."), a read timeout mid-stream as `MidStreamFallbackError`, and a
401 with an unusual body as `BadRequestError` carrying `status_code == 401`. So the
mapping looks at the class, the status and the chain of underlying exceptions.

No message built here contains the API key: provider text is passed through
`redact_secrets` first, which also masks anything shaped like a key.

litellm (and the OpenAI SDK under it) is imported only when an error is described:
by then the failed model call has loaded it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from pyairtable_ui.llm.loading import litellm_module

# Provider messages shown to users are cut to this length: enough for "why", not a dump.
MAX_PROVIDER_MESSAGE_CHARS = 300
# The longest Retry-After we wait for inside a turn; longer waits are the user's call.
MAX_RETRY_AFTER_SECONDS = 10.0

# Things shaped like credentials: "sk-...", "sk-proj-...", "pat....", "Bearer ...".
_KEY_PATTERN = re.compile(
    r"(?:\b(?:sk|pk|rk|pat|key|api[-_]?key)[-_.][A-Za-z0-9_\-.]{6,})|(?:Bearer\s+[A-Za-z0-9_\-.]{6,})",
    re.IGNORECASE,
)
# litellm prefixes messages with its own class chain; users need only the provider's words.
_LITELLM_PREFIX = re.compile(
    r"^(?:litellm\.\w+:\s*|\w+Error:\s*|\w+Exception\s*-\s*|OpenAIException\s*-\s*)+"
)


@dataclass(frozen=True)
class LLMFailure:
    """A failed model call, described twice.

    Attributes:
        message: What the user sees in the chat, saying what to do next.
        detail: For the log: class, status and the provider's text (secrets masked).
        retryable: Whether trying the same call again soon may succeed (429, 5xx).
    """

    message: str
    detail: str
    retryable: bool = False


def redact_secrets(text: str, *secrets: str | None) -> str:
    """Mask the given secrets and anything shaped like an API key in `text`.

    Args:
        text: Text that may echo a credential (provider error messages often do).
        *secrets: Exact values to mask, e.g. the configured API key.

    Returns:
        The text with every secret replaced by `[redacted]`.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


def describe_llm_error(
    exc: BaseException,
    *,
    model: str,
    api_base: str | None,
    timeout: float,
    api_key: str | None = None,
) -> LLMFailure:
    """Describe a failed model call (the request or its stream) for user and log.

    Args:
        exc: What the call or the stream iteration raised.
        model: The litellm model string that was called.
        api_base: The provider address, when one is configured.
        timeout: The timeout the call ran with, in seconds.
        api_key: The key used, so it can be masked if a provider echoes it.

    Returns:
        The user message, the log detail and whether a retry may help.
    """
    litellm = litellm_module()
    provider_text = _provider_message(exc, api_key)
    status = getattr(exc, "status_code", None)
    detail = redact_secrets(
        f"{type(exc).__name__} (status {status}) from model {model}: {provider_text}", api_key
    )
    where = redact_secrets(api_base, api_key) if api_base else "its default address"

    def failure(message: str, retryable: bool = False) -> LLMFailure:
        return LLMFailure(message=message, detail=detail, retryable=retryable)

    # Order matters: several of these classes subclass each other (see module docstring).
    if _is_timeout(exc):
        return failure(f"The model did not answer within {timeout:g} seconds. Try again.")
    if isinstance(exc, litellm.ContextWindowExceededError):
        return failure(
            "This conversation is too long for the model. Start a new conversation "
            "or pick a model with a larger context window."
        )
    if isinstance(exc, litellm.ContentPolicyViolationError):
        return failure(
            "The LLM provider refused this request under its content policy. "
            "Rephrase the question and try again."
        )
    if _is_missing_key(exc):
        return failure(
            f"No API key is set for the model {model}. An admin should set LLM_API_KEY "
            "(see the README's LLM settings)."
        )
    if isinstance(exc, litellm.AuthenticationError) or status in (401, "401"):
        return failure("The LLM provider rejected the API key. An admin should check LLM_API_KEY.")
    if isinstance(exc, litellm.PermissionDeniedError) or status in (403, "403"):
        return failure(
            f"The LLM provider refused access to the model {model}. Pick another model, "
            "or an admin should check the API key's permissions."
        )
    if isinstance(exc, litellm.NotFoundError) or _is_unknown_provider(exc):
        return failure(f"The model {model} is not available from the provider. Pick another model.")
    if isinstance(exc, litellm.RateLimitError):
        return failure(
            "The LLM provider is rate limiting us. Wait a moment and try again.", retryable=True
        )
    if _is_connection_failure(exc):
        return failure(f"Cannot reach the LLM provider at {where}. Try again in a moment.")
    if isinstance(exc, litellm.exceptions.MidStreamFallbackError):
        return failure("The connection to the LLM provider broke off mid-answer. Try again.")
    if isinstance(
        exc,
        (
            litellm.ServiceUnavailableError,
            litellm.InternalServerError,
            litellm.BadGatewayError,
        ),
    ):
        return failure(
            "The LLM provider had a problem answering. Try again in a moment.", retryable=True
        )
    if isinstance(exc, (litellm.BadRequestError, litellm.UnprocessableEntityError)):
        shown = provider_text or "no details given"
        return failure(f"The LLM provider refused the request: {shown}")
    return failure(f"The model call failed: {type(exc).__name__}. Try again.")


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a provider asked for (Retry-After / retry-after-ms headers), if any.

    Args:
        exc: A litellm exception that may carry the provider's response headers.

    Returns:
        Seconds to wait, or None when the provider did not say.
    """
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after") is not None:
            return max(0.0, float(headers["retry-after"]))
    except (TypeError, ValueError):
        # An HTTP-date Retry-After: not worth parsing for a wait we cap at seconds anyway.
        return None
    return None


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (cause, context, litellm's original_exception)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 12:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (
            current.__cause__,
            current.__context__,
            getattr(current, "original_exception", None),
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _is_timeout(exc: BaseException) -> bool:
    import openai  # loaded with litellm

    litellm = litellm_module()
    timeout_types = (litellm.Timeout, openai.APITimeoutError, httpx.TimeoutException, TimeoutError)
    for linked in _exception_chain(exc):
        if isinstance(linked, timeout_types) and not isinstance(linked, asyncio.CancelledError):
            return True
        text = str(linked).lower()
        # litellm reports a read timeout mid-stream only in words (MidStreamFallbackError).
        if "timeout on reading data" in text or "request timed out" in text:
            return True
    return False


def _is_connection_failure(exc: BaseException) -> bool:
    import openai  # loaded with litellm

    litellm = litellm_module()
    for linked in _exception_chain(exc):
        if isinstance(linked, (httpx.ConnectError, ConnectionError)):
            return True
        if isinstance(linked, openai.APIConnectionError) and not isinstance(
            linked, openai.APITimeoutError
        ):
            # litellm wraps every mid-stream failure as APIConnectionError; only a
            # failure before any answer means the provider could not be reached.
            if not isinstance(exc, litellm.exceptions.MidStreamFallbackError):
                return True
        if str(linked).strip().endswith("Connection error."):
            return True
    return False


def _is_missing_key(exc: BaseException) -> bool:
    # The OpenAI SDK refuses to send a request without a key; litellm wraps that refusal
    # as a server error ("Missing credentials"), which would read as the provider's fault.
    for linked in _exception_chain(exc):
        text = str(linked)
        if "Missing credentials" in text or "api_key client option must be set" in text:
            return True
    return False


def _is_unknown_provider(exc: BaseException) -> bool:
    # litellm refuses a model string without a provider it knows, before any request.
    return isinstance(exc, litellm_module().BadRequestError) and "LLM Provider NOT provided" in str(
        exc
    )


def _provider_message(exc: BaseException, api_key: str | None) -> str:
    """The provider's own words, without litellm's class prefixes, masked and trimmed."""
    raw = getattr(exc, "message", None) or str(exc)
    text = _LITELLM_PREFIX.sub("", str(raw).strip()).strip()
    text = " ".join(text.split())
    text = redact_secrets(text, api_key)
    if len(text) > MAX_PROVIDER_MESSAGE_CHARS:
        text = text[: MAX_PROVIDER_MESSAGE_CHARS - 1].rstrip() + "…"
    return text
