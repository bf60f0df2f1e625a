"""Run the test OAuth/OIDC provider as a process: ``python -m tests.fakes.oauth --port PORT``.

Run from the repository root. It serves until SIGINT or SIGTERM. The first line
on stdout is ``oauth-provider listening on <url> ...`` so a parent process can
read the port back.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from tests.fakes.oauth.server import OAuthProvider, ProviderUser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve, and return the exit status.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        0 after a clean stop.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.oauth",
        description="Local OAuth 2.0 / OpenID Connect provider (a test double).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--client-id", default="pyairtable-ui-test")
    parser.add_argument(
        "--client-secret",
        default="test-client-secret",
        help="the client's secret; pass an empty string for a public (PKCE-only) client",
    )
    parser.add_argument("--consent", choices=["auto", "form"], default="form")
    parser.add_argument("--airtable-token", help="access token issued in the Airtable role")
    parser.add_argument("--sub", default="test-user-0001", help="the user's subject")
    parser.add_argument("--email", default="sso.user@example.com", help="the user's email")
    parser.add_argument("--name", default="Sso Person", help="the user's name")
    parser.add_argument("--verbose", action="store_true", help="log each HTTP request")
    args = parser.parse_args(argv)

    provider = OAuthProvider(
        client_id=args.client_id,
        client_secret=args.client_secret or None,
        host=args.host,
        port=args.port,
        consent=args.consent,
        airtable_access_token=args.airtable_token,
        verbose=args.verbose,
    )
    provider.user = ProviderUser(sub=args.sub, email=args.email, name=args.name)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    provider.start()
    print(
        f"oauth-provider listening on {provider.url} (OIDC_ISSUER={provider.issuer}, "
        f"AIRTABLE_OAUTH_URL={provider.url}, client_id={provider.client_id})",
        flush=True,
    )
    try:
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    finally:
        provider.stop()
    print("oauth-provider stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
