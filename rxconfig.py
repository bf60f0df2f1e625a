"""Reflex configuration, derived from the app's settings (see pyairtable_ui/settings.py)."""

import reflex as rx

from pyairtable_ui.core.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="pyairtable_ui",
    # Redis holds Reflex state when configured, so several replicas can serve one deployment.
    redis_url=settings.redis_url,
    backend_port=settings.port,
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
