"""litellm is imported on demand, and in the background once a first question is near."""

from __future__ import annotations

import threading
import types

import pytest

from pyairtable_ui.llm import loading


def test_warm_up_starts_the_import_once_in_the_background(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loading, "_module", None)
    imported = threading.Event()
    calls: list[str] = []

    def fake_import() -> types.ModuleType:
        calls.append(threading.current_thread().name)
        module = types.ModuleType("litellm")
        loading._module = module  # what the real import leaves behind
        imported.set()
        return module

    monkeypatch.setattr(loading, "litellm_module", fake_import)

    assert loading.warm_up() is True
    assert imported.wait(5)
    assert calls == ["litellm-warm-up"], "off the caller's thread"
    assert loading.warm_up() is False, "loaded: nothing more to do"
