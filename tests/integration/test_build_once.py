"""The page is built once and every app process started from that build serves it as it
is (issue 14): two replicas behind one proxy, or one replica after a restart, hand out
the same asset names, so a page loaded from one finds every script on the other.

`reflex run --env prod` built the page again at every start, and each build names its
assets differently: 17 of 29 assets of one replica's page were 404 on the other.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.app_server import ROOT, RunningApp, free_port, separate_web_dir

# Asset names in the page and in the scripts it loads (Vite's chunks import "./x.js").
_IN_PAGE = re.compile(r"/assets/([\w.\-]+\.(?:js|css))")
_IN_ASSET = re.compile(r"(?:/assets/|\./)([\w.\-]+\.(?:js|css))")
BUILD_MESSAGE = "building the page"


def page_assets(url: str) -> dict[str, bytes]:
    """Every asset the sign-in page of `url` loads, directly or through other assets,
    with its content (the route manifest names the chunks of the other pages too)."""
    html = httpx.get(f"{url}/auth/login", follow_redirects=True, timeout=30)
    assert html.status_code == 200
    todo = set(_IN_PAGE.findall(html.text))
    assert todo, "the page references no asset"
    found: dict[str, bytes] = {}
    missing: set[str] = set()
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        response = httpx.get(f"{url}/assets/{name}", timeout=30)
        if response.status_code != 200:
            missing.add(name)
            continue
        found[name] = response.content
        todo |= set(_IN_ASSET.findall(response.text)) - seen
    # A "./x.js" inside a library's code need not be an asset; the page's own must be.
    assert not missing & set(_IN_PAGE.findall(html.text)), missing
    return found


@pytest.fixture
def one_build(tmp_path: Path, app_database_url: str, redis_url: str | None, app_server):
    """A build made once in a folder of its own, for replicas behind one public address.

    `app_server` is requested so that .web exists (it is copied) and stays untouched.
    """
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": app_database_url,
        "LLM_MODEL": "openai/scripted",
        # The proxy's address: both replicas' pages open their websocket there.
        "PUBLIC_URL": f"http://127.0.0.1:{free_port()}",
        "REFLEX_WEB_WORKDIR": str(separate_web_dir(tmp_path / "web")),
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    subprocess.run(["bash", str(ROOT / "scripts" / "build.sh")], cwd=ROOT, env=env, check=True)
    return env


@pytest.fixture
def two_replicas(one_build, tmp_path: Path) -> Iterator[tuple[RunningApp, RunningApp]]:
    """Two app processes on their own ports, started from the one build: the second
    from a copy of the build folder, as a second container of one image would be."""
    copy = separate_web_dir(tmp_path / "web-b")
    shutil.copytree(tmp_path / "web" / "build", copy / "build")
    apps: list[RunningApp] = []
    try:
        for name, web in (("a", tmp_path / "web"), ("b", copy)):
            folder = tmp_path / name
            folder.mkdir()
            env = {**one_build, "REFLEX_WEB_WORKDIR": str(web)}
            apps.append(RunningApp(env, folder / "app.log").start())
        yield apps[0], apps[1]
    finally:
        for app in apps:
            app.stop()


def test_every_asset_of_one_replicas_page_is_served_by_the_other(two_replicas, tmp_path) -> None:
    first, second = two_replicas
    stamp = tmp_path / "web" / "build" / "source.key"
    built_at = stamp.stat().st_mtime_ns
    for app in (first, second):
        assert BUILD_MESSAGE not in app.log_text(), app.log_tail()

    for origin, other in ((first, second), (second, first)):
        assets = page_assets(origin.url)
        assert len(assets) > 10, sorted(assets)
        for name, content in assets.items():
            response = httpx.get(f"{other.url}/assets/{name}", timeout=30)
            assert response.status_code == 200, f"{name} of {origin.url} on {other.url}"
            assert response.content == content, name

    # A restart serves the same build again, without building.
    before = set(page_assets(first.url))
    first.stop()
    first.start()
    assert BUILD_MESSAGE not in first.log_text(), first.log_tail()
    assert set(page_assets(first.url)) == before
    assert stamp.stat().st_mtime_ns == built_at
