"""Run the same function in several threads at once, for race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def run_together(target: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Start one thread per argument tuple, released together by a barrier.

    Args:
        target: The function each thread runs.
        calls: The positional arguments of each thread's call.

    Returns:
        What each call returned or the exception it raised, in the order of `calls`.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, args: tuple[Any, ...]) -> None:
        barrier.wait(timeout=5)
        try:
            outcomes[index] = target(*args)
        except Exception as exc:  # handed back to the test, which asserts on it
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, args)) for i, args in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a racing call hung"
    return outcomes
