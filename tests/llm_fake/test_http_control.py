"""The HTTP control endpoints and the command-line server."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import litellm
import pytest

from tests.fakes.llm import DEMO_TEXT, ScriptedLLM
from tests.llm_fake.helpers import TOOLS, collect, complete, text_of

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_queue_over_http_then_read_requests(scripted_llm: ScriptedLLM) -> None:
    script = {
        "replies": [
            {"tool_calls": [{"name": "list_records", "arguments": {"base_id": "b", "table": "T"}}]},
            {"content": "All done here.", "chunk_delay": 0.01},
        ]
    }
    async with httpx.AsyncClient(base_url=scripted_llm.url) as http:
        queued = await http.post("/_script/queue", json=script)
        assert queued.status_code == 200
        assert queued.json()["queued"] == 2

        first = await complete(scripted_llm, tools=TOOLS)
        second = await collect(await complete(scripted_llm, stream=True))

        sent = (await http.get("/_script/requests")).json()["requests"]

    assert first.choices[0].message.tool_calls[0].function.name == "list_records"
    assert text_of(second) == "All done here."
    assert [r["stream"] for r in sent] == [False, True]
    assert sent[0]["tools"] == TOOLS


async def test_error_and_model_queue_over_http(scripted_llm: ScriptedLLM) -> None:
    async with httpx.AsyncClient(base_url=scripted_llm.url) as http:
        await http.post(
            "/_script/queue",
            json={"model": "m1", "replies": [{"error": {"status": 401}}]},
        )
        with pytest.raises(litellm.AuthenticationError):
            await complete(scripted_llm, model="openai/m1")


async def test_clear_over_http(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue("a", "b")
    await complete(scripted_llm)
    async with httpx.AsyncClient(base_url=scripted_llm.url) as http:
        cleared = await http.post("/_script/clear")
        listed = await http.get("/_script/requests")
    assert cleared.status_code == 200
    assert listed.json() == {"requests": []}
    assert scripted_llm.pending() == 0


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        json.dumps({"replies": [{"contnet": "typo"}]}).encode(),
        json.dumps({"replies": [{"tool_calls": [{"arguments": {}}]}]}).encode(),
        json.dumps({"replies": "nope"}).encode(),
    ],
    ids=["not-json", "unknown-key", "tool-without-name", "not-a-list"],
)
async def test_bad_script_is_refused_loudly(scripted_llm: ScriptedLLM, bad: bytes) -> None:
    async with httpx.AsyncClient(base_url=scripted_llm.url) as http:
        answer = await http.post("/_script/queue", content=bad)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("Bad script")
    assert scripted_llm.pending() == 0


async def test_models_and_unknown_paths(scripted_llm: ScriptedLLM) -> None:
    async with httpx.AsyncClient(base_url=scripted_llm.url) as http:
        models = await http.get("/v1/models")
        missing = await http.get("/v1/nothing-here")
    assert "scripted-test" in [m["id"] for m in models.json()["data"]]
    assert missing.status_code == 404
    assert "error" in missing.json()


@pytest.fixture
def cli_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Run ``python -m tests.fakes.llm`` with a preloaded script; yield its URL."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"content": "Preloaded from a file."}]))
    args = [sys.executable, "-m", "tests.fakes.llm", "--port", "0", "--script", str(script)]
    args += getattr(request, "param", [])
    proc = subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "the CLI server did not start in time"
        line = proc.stdout.readline()
        assert line.startswith("scripted-llm listening on "), line
        yield line.split()[3]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()  # type: ignore[union-attr]


@pytest.mark.parametrize("cli_server", [["--demo"]], indirect=True)
async def test_cli_serves_the_script_then_demo_text(cli_server: str) -> None:
    async def ask() -> str:
        answer = await litellm.acompletion(
            model="openai/scripted-test",
            api_base=f"{cli_server}/v1",
            api_key="sk-test",
            messages=[{"role": "user", "content": "hello"}],
            max_retries=0,
        )
        return answer.choices[0].message.content

    assert await ask() == "Preloaded from a file."
    assert await ask() == DEMO_TEXT
    async with httpx.AsyncClient(base_url=cli_server) as http:
        sent = (await http.get("/_script/requests")).json()["requests"]
    assert [r["served"] for r in sent] == ["scripted", "demo"]
    assert sent[0]["messages"] == [{"role": "user", "content": "hello"}]


def test_stop_releases_a_hung_request() -> None:
    llm = ScriptedLLM().start()
    llm.queue({"hang": True})
    started = time.monotonic()
    with httpx.Client() as http:
        errors: list[BaseException] = []

        def call() -> None:
            try:
                http.post(
                    llm.api_base + "/chat/completions",
                    json={"model": "m", "messages": []},
                    timeout=10,
                )
            except httpx.HTTPError as exc:
                errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        llm.wait_for_requests(1)
        llm.stop()
        caller.join(timeout=5)
    assert not caller.is_alive()
    assert errors, "a hung request should end without an answer when the server stops"
    llm.wait_for(lambda rs: rs[0]["outcome"] == "server_stopped", timeout=2)
    assert time.monotonic() - started < 5
