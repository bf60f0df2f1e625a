"""Links from the app to a record in Airtable's own web app.

`record_url` is the only place such a URL is made. Each id must have the shape
Airtable gives it (`app…`, `tbl…`, `rec…` and 14 letters or digits), so a value
that comes from a record's content or the model can never become (part of) a link:
anything else gets no link at all.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pyairtable_ui.airtable.field_types import RECORD_ID_PATTERN
from pyairtable_ui.core.settings import get_settings

BASE_ID_PATTERN = "^app[A-Za-z0-9]{14}$"
TABLE_ID_PATTERN = "^tbl[A-Za-z0-9]{14}$"


def _fits(pattern: str, value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def is_table_id(value: object) -> bool:
    """Whether `value` has the shape of an Airtable table id (`tbl` + 14)."""
    return _fits(TABLE_ID_PATTERN, value)


def web_url() -> str:
    """AIRTABLE_WEB_URL without a trailing slash, or "" when it is not an http(s) address."""
    url = get_settings().airtable_web_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return url


def record_url(
    base_id: object, table_id: object, record_id: object, *, web: str | None = None
) -> str:
    """The record's page in Airtable: `{AIRTABLE_WEB_URL}/{base}/{table}/{record}`.

    Args:
        base_id: The base (`app…`).
        table_id: The table (`tbl…`; a table's name is not enough for Airtable).
        record_id: The record (`rec…`).
        web: The web app's address (default: AIRTABLE_WEB_URL).

    Returns:
        The URL, or "" when an id does not have Airtable's shape (no link is shown).
    """
    if not (
        _fits(BASE_ID_PATTERN, base_id)
        and _fits(TABLE_ID_PATTERN, table_id)
        and _fits(RECORD_ID_PATTERN, record_id)
    ):
        return ""
    root = web_url() if web is None else web.rstrip("/")
    if not root:
        return ""
    return f"{root}/{base_id}/{table_id}/{record_id}"
