"""Is a model provider set up? Read from the settings alone, without importing litellm.

A fresh instance has `LLM_MODEL=openai/gpt-4o-mini` and no key, so its first question
would fail. The start-up log, `/health` and a banner on /chat say so up front and
name what to set. The check is deliberately modest: it reports "not configured" only
when it is sure a call cannot work (a provider that needs a key, and no key anywhere
litellm would look); a provider it does not know (cloud credentials chains, say) is
taken as configured, and "Test model" on /admin tells the rest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pyairtable_ui.core.settings import Settings, get_settings

# The environment variables litellm reads a key from, for the providers people use most.
# These providers always need a key; any other (Ollama and the other local servers,
# cloud credential chains) is taken as configured.
PROVIDER_KEY_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY"),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"),
    "azure": ("AZURE_API_KEY",),
}

# `make demo`'s model: the project's scripted server answering the sample base's example
# questions. The picker names it for what it is.
DEMO_MODEL = "openai/demo-scripted"
DEMO_MODEL_LABEL = "Demo model: scripted answers"


def model_label(model: str) -> str:
    """How the model pickers name a model: its litellm string, or what the demo model is."""
    return DEMO_MODEL_LABEL if model == DEMO_MODEL else model


@dataclass(frozen=True)
class LLMSetup:
    """What the settings say about the default model (never the key itself).

    Attributes:
        model: LLM_MODEL.
        provider: The provider litellm will use for it (`openai`, `ollama`…).
        key_source: Where a key comes from (`LLM_API_KEY`, `OPENAI_API_KEY`…), or None.
        api_base: LLM_API_BASE, or None for the provider's default address.
        configured: False only when a call is sure to fail for want of a setting.
    """

    model: str
    provider: str
    key_source: str | None
    api_base: str | None
    configured: bool

    @property
    def hint(self) -> str:
        """What to set, in a sentence for the chat banner (empty when configured)."""
        if self.configured:
            return ""
        variables = " or ".join(PROVIDER_KEY_VARIABLES.get(self.provider, ()))
        own = f" (or {variables})" if variables else ""
        if self.api_base:
            # An OpenAI-compatible server that checks no key still needs one sent.
            own += ", any value if the server at LLM_API_BASE checks none"
        return (
            f"LLM_MODEL is {self.model}, which needs an API key: set LLM_API_KEY{own}, "
            "or point LLM_MODEL and LLM_API_BASE at a local model such as Ollama "
            "(LLM_MODEL=ollama_chat/llama3.1, LLM_API_BASE=http://localhost:11434). "
            "Then restart the app."
        )

    def log_line(self) -> str:
        """The start-up log line: model, where, whether a key is set (not the key)."""
        key = f"set ({self.key_source})" if self.key_source else "not set"
        where = self.api_base or "the provider's default address"
        state = "configured" if self.configured else "NOT configured: " + self.hint
        return f"LLM model {self.model} at {where}; API key {key}; {state}"


def provider_of(model: str) -> str:
    """The provider part of a litellm model string (`openai/gpt-4o-mini` -> `openai`).

    A bare name is what litellm guesses for the well-known families, else "".
    """
    prefix, slash, _name = model.strip().partition("/")
    if slash:
        return prefix.lower()
    name = prefix.lower()
    if name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        return "openai"
    if name.startswith("claude"):
        return "anthropic"
    return ""


def llm_setup(
    settings: Settings | None = None, environ: Mapping[str, str] | None = None
) -> LLMSetup:
    """Whether the default model can be called as the settings stand.

    Args:
        settings: Override the process settings (tests).
        environ: Override the process environment (tests).

    Returns:
        The model, its provider, where its key comes from, and whether it is configured.
    """
    settings = settings or get_settings()
    environ = os.environ if environ is None else environ
    model = settings.llm_model
    provider = provider_of(model)
    key_source: str | None = None
    if settings.llm_api_key is not None and settings.llm_api_key.get_secret_value():
        key_source = "LLM_API_KEY"
    else:
        for variable in PROVIDER_KEY_VARIABLES.get(provider, ()):
            if environ.get(variable):
                key_source = variable
                break
    needs_key = provider in PROVIDER_KEY_VARIABLES
    return LLMSetup(
        model=model,
        provider=provider,
        key_source=key_source,
        api_base=settings.llm_api_base or None,
        configured=bool(key_source) or not needs_key,
    )
