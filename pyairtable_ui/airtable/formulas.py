"""pyairtable's formula builder and batching helper, for code outside `airtable/`.

Only `airtable/` may import pyairtable (an import-linter contract in `pyproject.toml`), yet
tools and actions must build `filterByFormula` expressions: pyairtable's `formulas` module
quotes and escapes values correctly, so they use it through this module instead of
writing formulas as strings. Usage: `from pyairtable_ui.airtable.formulas import F`.
"""

from __future__ import annotations

from pyairtable import formulas as F
from pyairtable.utils import chunked

__all__ = ["F", "chunked"]
