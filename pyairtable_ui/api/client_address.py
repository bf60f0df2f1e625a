"""The client's address behind TRUSTED_PROXY_HOPS reverse proxies, for plain HTTP routes.

The websocket gets the same rule from Reflex itself (`rx.Config(trusted_proxy_hops=...)`,
read by `router.session.client_ip`); this module applies it to Starlette requests so
sessions, sign-in limits and the /metrics loopback check agree on who is asking.
"""

from __future__ import annotations

from starlette.requests import Request

from pyairtable_ui.core.settings import get_settings


def resolve_client_address(peer: str, forwarded_for: str, hops: int) -> str:
    """The address `hops` entries from the right of X-Forwarded-For, else the socket peer.

    Each trusted proxy appends the address it received the request from, so the
    entries to the left of the trusted ones were written by the client and prove
    nothing. With `hops=0` the header is ignored. A header with fewer entries
    than `hops` did not pass through the whole chain: the socket peer is used, as
    Reflex does.

    Args:
        peer: The address of the TCP peer (the nearest proxy, if any).
        forwarded_for: The X-Forwarded-For header ("" when absent).
        hops: How many reverse proxies in front of the app are trusted.

    Returns:
        The client's address.
    """
    if hops <= 0:
        return peer
    entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    if len(entries) < hops:
        return peer
    return entries[-hops]


def request_client_address(request: Request) -> str:
    """The client's address of an HTTP request, under the TRUSTED_PROXY_HOPS setting."""
    peer = request.client.host if request.client else ""
    return resolve_client_address(
        peer, request.headers.get("x-forwarded-for", ""), get_settings().trusted_proxy_hops
    )
