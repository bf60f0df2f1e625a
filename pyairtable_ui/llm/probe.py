""" "Test model" on /admin: one tiny request per model, timed, or the provider's error.

Each model gets the same call a turn makes (`open_reply_stream`, same base and key),
with a one-line prompt and no tools, so what works here works in the chat. The
answer text is not shown: only how long it took. An error is shown as the chat would
show it, with the provider's own words after it (secrets masked, see `errors`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TypedDict

from pyairtable_ui.core.settings import Settings, get_settings
from pyairtable_ui.llm.client import LLMCallError, ModelCall, open_reply_stream

logger = logging.getLogger(__name__)

# A test that takes longer than this says so rather than holding the admin's page for a
# minute; a model this slow to start an answer would make the chat feel broken anyway.
PROBE_TIMEOUT_SECONDS = 20.0
PROBE_MESSAGES = [{"role": "user", "content": "Reply with the single word OK."}]


class ModelTestRow(TypedDict):
    """One model's result, as the admin page lists it.

    `outcome` is "answered in 840 ms" or the error message; `detail` is the
    provider's own words for an error ("" otherwise).
    """

    model: str
    ok: bool
    outcome: str
    detail: str


async def _probe(call: ModelCall) -> ModelTestRow:
    started = time.monotonic()
    try:
        async with open_reply_stream(call, messages=PROBE_MESSAGES, tools=[]) as stream:
            async for _text in stream:
                pass
    except LLMCallError as exc:
        logger.info("model test failed model=%s: %s", call.model, exc.failure.detail)
        return ModelTestRow(
            model=call.model, ok=False, outcome=exc.message, detail=exc.failure.detail
        )
    elapsed_ms = int((time.monotonic() - started) * 1000)
    logger.info("model test passed model=%s in %d ms", call.model, elapsed_ms)
    return ModelTestRow(
        model=call.model, ok=True, outcome=f"answered in {elapsed_ms} ms", detail=""
    )


async def probe_models(
    models: list[str], *, settings: Settings | None = None
) -> list[ModelTestRow]:
    """Send one tiny request to each model, all at once, and report each outcome.

    Args:
        models: The litellm model strings to try (the admin's allowed list).
        settings: Override the process settings (tests).

    Returns:
        One row per model, in the order given. Never raises for a provider's failure.
    """
    settings = settings or get_settings()
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    timeout = min(settings.llm_timeout_seconds, PROBE_TIMEOUT_SECONDS)
    calls = [
        ModelCall(model=model, api_base=settings.llm_api_base, api_key=key, timeout=timeout)
        for model in models
    ]
    return list(await asyncio.gather(*(_probe(call) for call in calls)))
