"""The banner on /chat when no LLM provider is configured: what to set, before anyone asks."""

from __future__ import annotations

import reflex as rx

from pyairtable_ui.state.llm_setup import LLMSetupState

# README.md's section "Trying it with a local model (Ollama)" has the same settings;
# litellm's list is where every other provider's model string and key are named.
LLM_PROVIDERS_DOCS = "https://docs.litellm.ai/docs/providers"
README_SECTION = "“Trying it with a local model” and “Settings” in README.md"


def llm_setup_banner() -> rx.Component:
    """A warning naming the settings to set; nothing when a provider is configured."""
    return rx.box(
        rx.cond(
            LLMSetupState.hint != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("plug-zap")),
                rx.callout.text(
                    rx.text.strong("No LLM is set up yet, so questions cannot be answered. "),
                    LLMSetupState.hint,
                    " See ",
                    README_SECTION,
                    ", or ",
                    rx.link(
                        "litellm's list of providers", href=LLM_PROVIDERS_DOCS, is_external=True
                    ),
                    ".",
                ),
                color_scheme="amber",
                role="status",
                id="llm-setup-banner",
                margin="8px 16px 0",
            ),
        ),
        on_mount=LLMSetupState.check,
        width="100%",
    )
