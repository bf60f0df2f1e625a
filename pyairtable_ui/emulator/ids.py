"""Airtable-style identifiers: a 3-letter prefix plus 14 alphanumerics (17 characters)."""

from __future__ import annotations

import hashlib
import secrets
import string

ID_ALPHABET = string.ascii_letters + string.digits
ID_BODY_LENGTH = 14
ID_PREFIXES = ("app", "tbl", "fld", "viw", "rec", "usr", "sel", "com", "ach", "itr", "att")


def new_id(prefix: str) -> str:
    """Return a fresh random id such as ``recA1b2C3d4E5f6G7``.

    Args:
        prefix: One of :data:`ID_PREFIXES`.
    """
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_BODY_LENGTH))


def stable_id(prefix: str, *parts: object) -> str:
    """Return an id derived from ``parts`` so seeds without ids load identically every time.

    Args:
        prefix: Id prefix, e.g. ``fld``.
        *parts: Anything whose ``str()`` identifies the object (base id, table name, ...).
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in (prefix, *parts)).encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(ID_BODY_LENGTH):
        number, index = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[index])
    return prefix + "".join(chars)


def is_id(value: object, prefix: str) -> bool:
    """Whether ``value`` looks like an Airtable id with the given prefix."""
    return (
        isinstance(value, str)
        and len(value) == len(prefix) + ID_BODY_LENGTH
        and value.startswith(prefix)
        and value[len(prefix) :].isalnum()
    )
