"""pyairtable's formula builder and batching helper, for code outside `airtable/`.

Only `airtable/` may import pyairtable (an import-linter contract in `pyproject.toml`), yet
tools and actions must build `filterByFormula` expressions: pyairtable's `formulas` module
quotes and escapes values correctly, so they use it through this module instead of
writing formulas as strings. Usage: `from pyairtable_ui.airtable.formulas import F`.

`F` loads pyairtable on its first use, not when this module is imported: pyairtable
builds its pydantic models at import (about 8 MB and half a second), and a worker that
has not talked to Airtable yet has no use for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")


class _LazyModule:
    """A module imported when one of its attributes is first read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


if TYPE_CHECKING:
    from pyairtable import formulas as F
else:
    F = _LazyModule("pyairtable.formulas")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (pyairtable's `utils.chunked`)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["F", "chunked"]
