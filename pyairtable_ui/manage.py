"""Operator commands: `python -m pyairtable_ui.manage migrate | services-available`."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from urllib.parse import urlsplit

from pyairtable_ui import migrations
from pyairtable_ui.db import get_engine
from pyairtable_ui.observability import configure_logging
from pyairtable_ui.settings import SettingsError, get_settings


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


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
    print(f"database at revision {migrations.current_revision(get_engine())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
