"""Operator commands: `python -m pyairtable_ui.manage COMMAND`.

- `migrate`: apply database migrations up to the newest.
- `rotate-secret`: after SECRET_KEY changed (the old one in PREVIOUS_SECRET_KEYS),
  re-encrypt every stored secret under the new key.
- `services-available`: exit 0 when PostgreSQL and Redis answer (for the test runner).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from pyairtable_ui.airtable.models import AirtableConnection
from pyairtable_ui.auth.models import AuthToken
from pyairtable_ui.core import crypto, migrations
from pyairtable_ui.core.db import get_engine, session_scope
from pyairtable_ui.core.observability import configure_logging
from pyairtable_ui.core.settings import SettingsError, get_settings


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


@dataclass
class RotationResult:
    """How many stored secrets `rotate_stored_secrets` re-encrypted, and how many it could not."""

    airtable_tokens: int = 0
    refresh_tokens: int = 0
    pending_links: int = 0
    unreadable: int = 0


def rotate_stored_secrets(*, session: Session) -> RotationResult:
    """Re-encrypt every stored secret under SECRET_KEY, opening it with PREVIOUS_SECRET_KEYS.

    Airtable tokens, OAuth refresh tokens and the links held for admins are rewritten;
    a secret no key opens is left as it is (its user connects Airtable again, or asks
    for a new link), and counted.

    Args:
        session: The database session; the caller commits.

    Returns:
        The counts.
    """
    result = RotationResult()

    def rotated(ciphertext: str) -> str | None:
        try:
            return crypto.rotate_secret(ciphertext)
        except crypto.SecretDecryptionError:
            result.unreadable += 1
            return None

    for connection in session.exec(select(AirtableConnection)):
        if (token := rotated(connection.encrypted_token)) is not None:
            connection.encrypted_token = token
            result.airtable_tokens += 1
        if connection.encrypted_refresh_token is not None:
            if (refresh := rotated(connection.encrypted_refresh_token)) is not None:
                connection.encrypted_refresh_token = refresh
                result.refresh_tokens += 1
        session.add(connection)
    for row in session.exec(select(AuthToken).where(col(AuthToken.encrypted_link).is_not(None))):
        if (link := rotated(row.encrypted_link or "")) is not None:
            row.encrypted_link = link
            result.pending_links += 1
            session.add(row)
    session.flush()
    return result


def _rotate_secret_command() -> int:
    if not get_settings().previous_secret_keys:
        print(
            "PREVIOUS_SECRET_KEYS is empty: set it to the SECRET_KEY the secrets were "
            "stored under (and SECRET_KEY to the new one), then run this again.",
            file=sys.stderr,
        )
        return 2
    with session_scope() as session:
        result = rotate_stored_secrets(session=session)
    print(
        f"re-encrypted under SECRET_KEY: {result.airtable_tokens} Airtable token(s), "
        f"{result.refresh_tokens} OAuth refresh token(s), {result.pending_links} pending link(s)"
    )
    if result.unreadable:
        print(
            f"{result.unreadable} stored secret(s) opened with neither SECRET_KEY nor "
            "PREVIOUS_SECRET_KEYS and were left as they are: check PREVIOUS_SECRET_KEYS, or "
            "those users connect Airtable again.",
            file=sys.stderr,
        )
        return 1
    print("PREVIOUS_SECRET_KEYS can now be removed.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one operator command.

    Args:
        argv: The arguments, without the program name.

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(prog="python -m pyairtable_ui.manage")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations up to the newest")
    sub.add_parser(
        "rotate-secret",
        help="re-encrypt stored Airtable tokens and links under SECRET_KEY, "
        "reading them with PREVIOUS_SECRET_KEYS",
    )
    services = sub.add_parser(
        "services-available", help="exit 0 when PostgreSQL and Redis answer (for the test runner)"
    )
    services.add_argument("--postgres", default="postgresql://127.0.0.1:5432")
    services.add_argument("--redis", default="redis://127.0.0.1:6379")
    args = parser.parse_args(argv)

    if args.command == "services-available":
        return 0 if _answers(args.postgres, 5432) and _answers(args.redis, 6379) else 1

    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    migrations.upgrade_to_head(get_engine())
    if args.command == "rotate-secret":
        return _rotate_secret_command()
    print(f"database at revision {migrations.current_revision(get_engine())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
