"""The security headers: what the policy allows, and that every response carries them."""

from __future__ import annotations

import base64
import hashlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from pyairtable_ui.api.security_headers import (
    SecurityHeadersMiddleware,
    answer_image_sources,
    content_security_policy,
    inline_script_hashes,
    security_headers,
)


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in policy.split(";"))
    return {words[0]: words[1:] for words in parts if words}


def test_the_policy_forbids_framing_remote_images_and_foreign_connections() -> None:
    policy = _directives(content_security_policy(script_hashes=["'sha256-abc='"]))
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'sha256-abc='" in policy["script-src"]


def test_admin_allowed_image_hosts_extend_img_src_only() -> None:
    policy = _directives(content_security_policy(image_sources=["https://img.example.com"]))
    assert policy["img-src"] == ["'self'", "data:", "https://img.example.com"]
    assert "https://img.example.com" not in policy["default-src"]


def test_answer_image_hosts_setting_reaches_img_src_and_cannot_add_directives() -> None:
    sources = answer_image_sources(["img.example.com", "evil.com; script-src *", "a b"])
    assert sources == ["img.example.com"]
    policy = _directives(content_security_policy(image_sources=sources))
    assert policy["img-src"] == ["'self'", "data:", "img.example.com"]
    assert policy["script-src"][:2] == ["'self'", "'unsafe-eval'"]


def test_hsts_only_for_an_https_public_address() -> None:
    assert "strict-transport-security" in security_headers(https=True)
    assert "strict-transport-security" not in security_headers(https=False)
    headers = security_headers(https=False)
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_inline_scripts_of_built_pages_are_hashed_and_external_ones_skipped(tmp_path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "index.html").write_text(
        '<script>window.a = 1;</script><script type="module" src="/assets/x.js"></script>'
    )
    (tmp_path / "chat" / "index.html").write_text("<script async>\nwindow.b = 2;\n</script>")
    expected = sorted(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in ("window.a = 1;", "\nwindow.b = 2;\n")
    )
    assert inline_script_hashes(tmp_path) == expected
    assert inline_script_hashes(tmp_path / "missing") == []


def _app() -> Starlette:
    async def plain(_request: Request) -> Response:
        return PlainTextResponse("hello")

    async def own_policy(_request: Request) -> Response:
        return PlainTextResponse("x", headers={"content-security-policy": "default-src 'none'"})

    app = Starlette(routes=[Route("/plain", plain), Route("/own", own_policy)])
    return app


def test_the_middleware_adds_the_headers_and_keeps_a_routes_own() -> None:
    headers = security_headers(https=True, script_hashes=["'sha256-abc='"])
    client = TestClient(SecurityHeadersMiddleware(_app(), headers=headers))
    response = client.get("/plain")
    for name, value in headers.items():
        assert response.headers[name] == value
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.headers["x-frame-options"] == "DENY"
    assert client.get("/own").headers["content-security-policy"] == "default-src 'none'"
