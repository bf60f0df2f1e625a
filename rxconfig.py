"""Reflex configuration, derived from the app's settings (see pyairtable_ui/settings.py)."""

from urllib.parse import urlsplit

import reflex as rx

from pyairtable_ui.core.settings import get_settings

settings = get_settings()


def _api_url() -> str:
    # The page opens its websocket at api_url, baked into the build. Reflex's default
    # (localhost and the app's port, the page's host put in for localhost) only works
    # when users reach the app's port directly; behind a proxy the page must connect
    # where it was loaded from, which PUBLIC_URL names. REFLEX_API_URL, when set, still
    # decides (Reflex reads it over this value).
    if not settings.public_url:
        return f"http://localhost:{settings.port}"
    public = urlsplit(settings.public_url)
    return f"{public.scheme}://{public.netloc}"


config = rx.Config(
    app_name="pyairtable_ui",
    # Redis holds Reflex state when configured, so several replicas can serve one deployment.
    redis_url=settings.redis_url,
    backend_port=settings.port,
    api_url=_api_url(),
    frontend_port=settings.port,
    # The websocket's client address (sign-in limits, sessions list) behind a proxy.
    trusted_proxy_hops=settings.trusted_proxy_hops,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", radius="medium", scaling="100%")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
