"""pytest fixtures for the scripted LLM.

Register them with ``pytest_plugins = ["tests.fakes.llm.fixtures"]`` in the
root ``tests/conftest.py`` (or import the fixture names into a conftest).

* ``scripted_llm`` (function scope): a fresh server on a free loopback port for
  each test; nothing leaks between tests. Use this by default: a server starts
  in about a millisecond.
* ``scripted_llm_server`` (session scope): one server shared by the session,
  e.g. for an app process started once. It is not cleared for you: a test
  using it should call ``.clear()`` first, or queue per model
  (``queue(..., model="name")``) so concurrent tests don't take each other's
  replies.

Importing this module sets ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (unless
already set) so that a litellm imported later reads its bundled model cost map
instead of fetching it from the internet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Must happen before anything imports litellm: it fetches the cost map at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.fakes.llm.server import ScriptedLLM

__all__ = ["scripted_llm", "scripted_llm_server"]


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedLLM]:
    """A fresh scripted LLM server for one test.

    Yields:
        The running server; stopped (hung replies released) after the test.
    """
    with ScriptedLLM() as llm:
        yield llm


@pytest.fixture(scope="session")
def scripted_llm_server() -> Iterator[ScriptedLLM]:
    """One scripted LLM server for the whole session (clear it yourself).

    Yields:
        The running server, stopped at the end of the session.
    """
    with ScriptedLLM() as llm:
        yield llm
