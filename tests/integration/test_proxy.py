"""The deployment of deploy/ without containers: two replicas behind nginx on one
PostgreSQL and one Redis. A user signs in through the proxy and chats; one replica is
killed (SIGKILL); the user stays signed in and chats on through the other.

nginx runs as deploy/nginx.conf configures it (round robin, websocket upgrade,
X-Forwarded-For appended; TRUSTED_PROXY_HOPS=1 in the app), with its own files in a
temporary folder, listening on loopback only. Both replicas serve one page, built once
for the proxy's address (PUBLIC_URL), from one build folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.fakes.llm import Reply
from tests.integration.accounts import new_account, onboard
from tests.support.app_server import RunningApp, free_port, separate_web_dir
from tests.support.seeds import app_tokens

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
REPLICA_HOSTS = ("127.0.0.3", "127.0.0.4")

pytestmark = [
    pytest.mark.skipif(
        not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("REDIS_URL")),
        reason="two replicas need PostgreSQL (TEST_DATABASE_URL) and Redis (REDIS_URL)",
    ),
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (apt-get install nginx-light)"
    ),
]

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream pyairtable_ui {{
        server {first} max_fails=1 fail_timeout=30s;
        server {second} max_fails=1 fail_timeout=30s;
        keepalive 8;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://pyairtable_ui;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
        }}
    }}
}}
"""


class Proxy:
    """nginx on a loopback port in front of two replicas."""

    def __init__(self, folder: Path, port: int, replicas: list[RunningApp]) -> None:
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self.replicas = replicas
        conf = folder / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                dir=folder,
                port=port,
                first=f"{replicas[0].host}:{replicas[0].port}",
                second=f"{replicas[1].host}:{replicas[1].port}",
            )
        )
        assert NGINX is not None
        self.process = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(folder),
                "-c",
                str(conf),
                "-e",
                str(folder / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError((folder / "error.log").read_text(errors="replace"))
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def proxy(app_server, tmp_path_factory) -> Iterator[Proxy]:
    folder = tmp_path_factory.mktemp("proxy")
    proxy_port, replica_port = free_port(), free_port()
    env = {k: v for k, v in app_server.env.items() if k not in ("PORT", "PUBLIC_URL", "HOST")}
    env["PUBLIC_URL"] = f"http://127.0.0.1:{proxy_port}"
    env["TRUSTED_PROXY_HOPS"] = "1"
    # One build, for the proxy's address, served by both (the first start builds it).
    env["REFLEX_WEB_WORKDIR"] = str(separate_web_dir(folder / "web"))
    replicas = []
    for number, host in enumerate(REPLICA_HOSTS, start=1):
        own = folder / f"replica{number}"
        (own / "prometheus").mkdir(parents=True)
        replica = RunningApp(
            {**env, "PROMETHEUS_MULTIPROC_DIR": str(own / "prometheus")},
            own / "app.log",
            host=host,
            port=replica_port,
            startup_timeout=app_server.startup_timeout,
        )
        replicas.append(replica.start())
    running = Proxy(folder, proxy_port, replicas)
    yield running
    running.stop()
    for replica in replicas:
        replica.stop()


def test_a_user_signed_in_through_the_proxy_chats_on_after_a_replica_is_killed(
    proxy: Proxy, browser, mailbox, app_airtable, app_llm, unique_email
) -> None:
    app_llm.clear()
    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    new_account(page, proxy.url, mailbox, unique_email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    app_llm.queue(Reply(content="Answered through the proxy."), model="scripted")
    box = page.get_by_role("textbox", name="Message")
    box.fill("Are you there?")
    box.press("Enter")
    expect(page.get_by_text("Answered through the proxy.")).to_be_visible(timeout=30_000)

    proxy.replicas[0].kill()
    page.reload()

    expect(box).to_be_visible(timeout=30_000)
    assert "/auth/login" not in page.url, "signed out when a replica died"
    app_llm.queue(Reply(content="Answered by the replica left."), model="scripted")
    box.fill("And now?")
    box.press("Enter")
    expect(page.get_by_text("Answered by the replica left.")).to_be_visible(timeout=30_000)
    context.close()
