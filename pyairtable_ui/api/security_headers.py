"""Security headers on every HTTP response: pages, static files and our API routes.

The Content-Security-Policy allows what the production page needs and nothing else:

- scripts from this origin, plus the inline bootstrap scripts React Router writes into
  each prerendered page, allowed by their SHA-256 hashes (read from the build once);
  `'unsafe-eval'` because Reflex runs the scripts a handler sends (`rx.call_script`)
  with `eval`;
- styles from this origin and inline (Emotion injects `<style>` tags, Radix sets
  `style` attributes);
- images from this origin and `data:` only, so an answer cannot make the browser
  fetch a remote address; `image_sources` is the one place to allow more hosts;
- fonts from this origin and `data:` (one stylesheet embeds a font);
- connections (the state websocket, fetches) to this origin only;
- no framing by any site (`frame-ancestors 'none'`, and `X-Frame-Options` for older
  browsers), no plugins, no `<base>` or form posts elsewhere.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# Two years, as browsers' preload lists ask; only sent when PUBLIC_URL is https.
HSTS_MAX_AGE = 63072000

_INLINE_SCRIPT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL)


def inline_script_hashes(build_dir: Path) -> list[str]:
    """CSP source expressions (`'sha256-…'`) for every inline script of the built pages.

    Args:
        build_dir: The folder of the built frontend (`.web/build/client`).

    Returns:
        The distinct hashes, sorted; empty when there is no build (development).
    """
    hashes: set[str] = set()
    for page in sorted(build_dir.rglob("*.html")) if build_dir.is_dir() else []:
        for match in _INLINE_SCRIPT.finditer(page.read_text(encoding="utf-8", errors="replace")):
            if re.search(r"\bsrc\s*=", match.group("attrs")):
                continue
            digest = hashlib.sha256(match.group("body").encode("utf-8")).digest()
            hashes.add(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return sorted(hashes)


def content_security_policy(
    *, script_hashes: Iterable[str] = (), image_sources: Iterable[str] = ()
) -> str:
    """The Content-Security-Policy header value.

    Args:
        script_hashes: `'sha256-…'` expressions of the inline scripts the pages carry.
        image_sources: Extra image sources (e.g. `https://images.example.com`) an
            admin allowed for answers; none by default.

    Returns:
        The policy, directives separated by `; `.
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", *image_sources],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def security_headers(
    *, https: bool, script_hashes: Iterable[str] = (), image_sources: Iterable[str] = ()
) -> dict[str, str]:
    """Every header the middleware adds, by name.

    Args:
        https: Whether the public address is https (adds Strict-Transport-Security).
        script_hashes: See `content_security_policy`.
        image_sources: See `content_security_policy`.

    Returns:
        Header names (lower case) and values.
    """
    headers = {
        "content-security-policy": content_security_policy(
            script_hashes=script_hashes, image_sources=image_sources
        ),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
    }
    if https:
        headers["strict-transport-security"] = f"max-age={HSTS_MAX_AGE}"
    return headers


_HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")


def answer_image_sources(hosts: Iterable[str]) -> list[str]:
    """CSP image sources for ANSWER_IMAGE_HOSTS: the answers show images from these hosts.

    A value that is not a plain host name is left out, so a setting can never add
    another directive to the header.

    Args:
        hosts: Host names (lower case, no scheme or port), as the setting holds them.

    Returns:
        The host names: without a scheme CSP allows the page's own (and https), which
        is what answers show (http or https images from these hosts).
    """
    sources = []
    for host in hosts:
        if _HOST_NAME.match(host):
            sources.append(host)
        else:
            logger.warning("ANSWER_IMAGE_HOSTS: %r is not a host name; left out", host)
    return sources


def frontend_build_dir() -> Path:
    """Where Reflex puts the built pages it serves in production."""
    from reflex.utils import prerequisites
    from reflex_base import constants

    return prerequisites.get_web_dir() / constants.Dirs.STATIC


@functools.cache
def _default_headers() -> tuple[tuple[bytes, bytes], ...]:
    from pyairtable_ui.core.settings import get_settings

    settings = get_settings()
    hashes = inline_script_hashes(frontend_build_dir())
    logger.info("content security policy allows %d inline page scripts", len(hashes))
    headers = security_headers(
        https=(settings.public_url or "").startswith("https://"),
        script_hashes=hashes,
        image_sources=answer_image_sources(settings.answer_image_hosts),
    )
    return tuple(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


class SecurityHeadersMiddleware:
    """ASGI middleware adding the security headers to every HTTP response.

    A header a route set itself is left as it is. Websockets pass untouched.
    """

    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None) -> None:
        """Wrap `app`.

        Args:
            app: The ASGI app (Reflex's backend with our routes).
            headers: The headers to add; by default those of `security_headers` for
                the configured PUBLIC_URL and the built pages (read on first use).
        """
        self.app = app
        self._headers = (
            tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
            if headers is not None
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers if self._headers is not None else _default_headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name.decode("latin-1") not in headers:
                        headers.raw.append((name, value))
            await send(message)

        await self.app(scope, receive, send_with_headers)
