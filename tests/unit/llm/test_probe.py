""" "Test model" on /admin: a time from a model that answers, a clear error otherwise."""

from __future__ import annotations

from pyairtable_ui.core.settings import Settings
from pyairtable_ui.llm.probe import probe_models
from tests.fakes.llm import Reply, ScriptedLLM
from tests.support.app_server import free_port
from tests.unit.chat.conftest import API_KEY


def _settings(api_base: str, api_key: str | None = API_KEY) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, llm_model="openai/scripted", llm_api_base=api_base, llm_api_key=api_key
    )


async def test_each_model_answers_with_its_time(scripted_llm: ScriptedLLM) -> None:
    rows = await probe_models(
        ["openai/scripted", "openai/scripted-large"], settings=_settings(scripted_llm.api_base)
    )

    assert [row["model"] for row in rows] == ["openai/scripted", "openai/scripted-large"]
    assert all(row["ok"] for row in rows)
    assert all(row["outcome"].startswith("answered in ") for row in rows)
    assert all(row["outcome"].endswith(" ms") for row in rows)
    assert len(scripted_llm.requests) == 2
    assert scripted_llm.requests[0]["messages"][-1]["content"] == "Reply with the single word OK."


async def test_a_dead_port_is_named_as_unreachable() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"

    [row] = await probe_models(["openai/scripted"], settings=_settings(base))

    assert not row["ok"]
    assert row["outcome"] == f"Cannot reach the LLM provider at {base}. Try again in a moment."
    assert API_KEY not in row["outcome"] + row["detail"]


async def test_the_providers_refusal_is_shown_without_the_key(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(error=(401, f"Incorrect API key provided: {API_KEY}")))

    [row] = await probe_models(["openai/scripted"], settings=_settings(scripted_llm.api_base))

    assert not row["ok"]
    assert "rejected the API key" in row["outcome"]
    assert API_KEY not in row["outcome"] + row["detail"]


async def test_no_key_at_all_says_which_setting_is_missing(scripted_llm, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    [row] = await probe_models(
        ["openai/scripted"], settings=_settings(scripted_llm.api_base, api_key=None)
    )

    assert not row["ok"]
    assert row["outcome"].startswith("No API key is set for the model openai/scripted.")
    assert "LLM_API_KEY" in row["outcome"]
    assert scripted_llm.requests == []  # refused before anything was sent
