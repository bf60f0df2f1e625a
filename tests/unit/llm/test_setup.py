"""Whether a model provider is set up, as the start-up log, /health and the chat banner
tell it: "not configured" only when a call is sure to fail, and never the key."""

from __future__ import annotations

import pytest

from pyairtable_ui.core.settings import Settings
from pyairtable_ui.llm.setup import llm_setup, provider_of

SECRET = "sk-live-setup-secret-4b1d"


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_a_fresh_instance_is_not_configured_and_says_what_to_set() -> None:
    setup = llm_setup(_settings(), environ={})

    assert not setup.configured
    assert setup.model == "openai/gpt-4o-mini"
    assert setup.key_source is None
    assert "LLM_API_KEY" in setup.hint and "OPENAI_API_KEY" in setup.hint
    assert "LLM_API_BASE" in setup.hint
    assert "NOT configured" in setup.log_line()
    assert "API key not set" in setup.log_line()


def test_llm_api_key_configures_it_and_the_log_names_the_setting_not_the_key() -> None:
    setup = llm_setup(_settings(llm_api_key=SECRET), environ={})

    assert setup.configured
    assert setup.hint == ""
    line = setup.log_line()
    assert "API key set (LLM_API_KEY)" in line
    assert "openai/gpt-4o-mini" in line
    assert SECRET not in line


def test_the_providers_own_variable_counts_as_a_key() -> None:
    setup = llm_setup(
        _settings(llm_model="anthropic/claude-sonnet-4-5"), environ={"ANTHROPIC_API_KEY": SECRET}
    )

    assert setup.configured
    assert setup.key_source == "ANTHROPIC_API_KEY"
    assert SECRET not in setup.log_line()


def test_another_providers_variable_does_not() -> None:
    setup = llm_setup(
        _settings(llm_model="anthropic/claude-sonnet-4-5"), environ={"OPENAI_API_KEY": SECRET}
    )

    assert not setup.configured
    assert "ANTHROPIC_API_KEY" in setup.hint


@pytest.mark.parametrize("model", ["ollama/llama3.1", "ollama_chat/llama3.1", "bedrock/x"])
def test_local_and_unknown_providers_need_no_key_here(model: str) -> None:
    setup = llm_setup(_settings(llm_model=model, llm_api_base="http://localhost:11434"), {})

    assert setup.configured
    assert "http://localhost:11434" in setup.log_line()


def test_an_openai_compatible_server_without_a_key_is_not_configured() -> None:
    # The OpenAI SDK refuses to send a request without one, whatever the server wants.
    setup = llm_setup(_settings(llm_model="openai/local", llm_api_base="http://x:8080/v1"), {})

    assert not setup.configured
    assert "any value" in setup.hint


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("openai/gpt-4o", "openai"),
        ("gpt-4o-mini", "openai"),
        ("claude-3-5", "anthropic"),
        ("Ollama_Chat/llama3.1", "ollama_chat"),
        ("mystery", ""),
    ],
)
def test_the_provider_is_read_as_litellm_reads_it(model: str, provider: str) -> None:
    assert provider_of(model) == provider
