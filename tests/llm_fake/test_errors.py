"""Errors, timeouts, cancellation and dropped streams, as litellm reports them."""

from __future__ import annotations

import asyncio
import time

import litellm
import pytest

from tests.fakes.llm import Reply, ScriptedLLM
from tests.llm_fake.helpers import collect, complete, text_of

STATUS_TO_EXCEPTION = [
    (400, litellm.BadRequestError),
    (401, litellm.AuthenticationError),
    (404, litellm.NotFoundError),
    (429, litellm.RateLimitError),
    (500, litellm.InternalServerError),
    (502, litellm.BadGatewayError),
    (503, litellm.ServiceUnavailableError),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("status", "exception"), STATUS_TO_EXCEPTION)
async def test_error_status_maps_to_litellm_exception(
    scripted_llm: ScriptedLLM, status: int, exception: type[Exception], stream: bool
) -> None:
    scripted_llm.queue(Reply(error=status))

    with pytest.raises(exception) as raised:
        response = await complete(scripted_llm, stream=stream)
        await collect(response)

    assert raised.value.status_code == status  # type: ignore[attr-defined]


async def test_error_message_and_code_reach_the_client(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(error=(429, "Slow down, scripted.", "rate_limit_exceeded")))

    with pytest.raises(litellm.RateLimitError, match=r"Slow down, scripted\."):
        await complete(scripted_llm)


async def test_context_window_error_is_recognised(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        Reply(
            error={
                "status": 400,
                "message": "This model's maximum context length is 8192 tokens.",
                "code": "context_length_exceeded",
            }
        )
    )

    with pytest.raises(litellm.ContextWindowExceededError):
        await complete(scripted_llm)


async def test_401_with_custom_message_becomes_bad_request(scripted_llm: ScriptedLLM) -> None:
    # litellm quirk pinned here: an OpenAI body with type invalid_request_error
    # maps to BadRequestError unless the message says "Incorrect API key
    # provided", whatever the status. Real OpenAI 401s for a missing key hit it.
    scripted_llm.queue(Reply(error=(401, "You didn't provide an API key.")))

    with pytest.raises(litellm.BadRequestError) as raised:
        await complete(scripted_llm)

    assert raised.value.status_code == 401


async def test_sdk_retries_consume_repeated_errors(scripted_llm: ScriptedLLM) -> None:
    # The OpenAI SDK under litellm retries a 429 twice by default; `repeat`
    # answers each attempt and retry-after-ms keeps the test fast.
    scripted_llm.queue(Reply(error=429, repeat=3, headers={"retry-after-ms": "10"}))

    with pytest.raises(litellm.RateLimitError):
        await complete(scripted_llm, max_retries=2)

    assert len(scripted_llm.requests) == 3
    assert scripted_llm.pending() == 0


async def test_sdk_retry_recovers_after_one_error(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(error=503, headers={"retry-after-ms": "10"}), "Recovered.")

    response = await complete(scripted_llm, max_retries=2)

    assert response.choices[0].message.content == "Recovered."
    retry_counts = [r["headers"].get("x-stainless-retry-count") for r in scripted_llm.requests]
    assert retry_counts == ["0", "1"]


async def test_hang_trips_the_client_timeout(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(hang=True))
    started = time.monotonic()

    with pytest.raises(litellm.Timeout):
        await complete(scripted_llm, timeout=0.3)

    assert time.monotonic() - started < 5
    # The server notices the client left and is ready for the next request.
    await asyncio.to_thread(
        scripted_llm.wait_for, lambda rs: rs[0]["outcome"] == "client_disconnected"
    )
    scripted_llm.queue("Back.")
    assert (await complete(scripted_llm)).choices[0].message.content == "Back."


async def test_delay_before_longer_than_timeout_also_times_out(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(content="too late", delay_before=5))

    with pytest.raises(litellm.Timeout):
        await complete(scripted_llm, timeout=0.3)


async def test_cancelled_stream_leaves_server_healthy(scripted_llm: ScriptedLLM) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    scripted_llm.queue(Reply(content=words, chunk_delay=0.05), "Next answer.")
    received: list[str] = []
    a_few_chunks_in = asyncio.Event()

    async def read_stream() -> None:
        async for chunk in await complete(scripted_llm, stream=True):
            received.append(chunk.choices[0].delta.content or "")
            if len(received) >= 4:
                a_few_chunks_in.set()

    task = asyncio.create_task(read_stream())
    await asyncio.wait_for(a_few_chunks_in.wait(), timeout=5)
    task.cancel()  # the user presses Stop mid-answer
    with pytest.raises(asyncio.CancelledError):
        await task

    records = await asyncio.to_thread(
        scripted_llm.wait_for, lambda rs: rs[0]["outcome"] == "client_disconnected"
    )
    assert records[0]["outcome"] == "client_disconnected"
    assert len("".join(received)) < len(words)
    chunks = await collect(await complete(scripted_llm, stream=True))
    assert text_of(chunks) == "Next answer."


async def test_dropped_connection_mid_stream_raises(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(content="one two three four five six", disconnect_after=3))
    received: list[str] = []

    # litellm reports a truncated stream as MidStreamFallbackError, a
    # subclass of ServiceUnavailableError.
    with pytest.raises(litellm.ServiceUnavailableError):
        async for chunk in await complete(scripted_llm, stream=True):
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "one two "
