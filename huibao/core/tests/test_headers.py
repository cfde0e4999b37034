"""Security headers: a Content-Security-Policy without 'unsafe-inline' on every page, markup that
keeps to it (no inline script, style or handler without the request's nonce), and a server that
does not name itself — through the test client, Django's own server (what `runserver` runs) and
granian as deployed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.catalog.search import invalidate_index
from huibao.catalog.tests.web_catalog import build_catalog

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "/",
    "/products/",
    "/products/pingan-e-sheng-bao/",
    "/products/pingan-e-sheng-bao/quote/",
    "/rankings/",
    "/compare/?codes=pingan-e-sheng-bao,zhongan-zun-xiang-e-sheng",
    "/account/login/",
    "/policy/verify/",
    "/api/docs",
    "/admin/login/",
]


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' would block: inline scripts and style
    elements without the nonce, style attributes, event-handler attributes, javascript: links."""

    def __init__(self, nonce: str | None) -> None:
        super().__init__()
        self.nonce = nonce
        self.blocked: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        inline_script = tag == "script" and "src" not in values and values.get("type") != "application/json"
        if inline_script and (not self.nonce or values.get("nonce") != self.nonce):
            self.blocked.append(f"<script> without the nonce: {attrs}")
        if tag == "style" and (not self.nonce or values.get("nonce") != self.nonce):
            self.blocked.append("<style> without the nonce")
        for name, value in attrs:
            if name == "style":
                self.blocked.append(f"style attribute on <{tag}>: {value}")
            if name.startswith("on"):
                self.blocked.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.blocked.append(f"javascript: URL on <{tag}>")


def nonce_of(header: str) -> str | None:
    for value in directives(header).get("script-src", []):
        if value.startswith("'nonce-"):
            return value[len("'nonce-") : -1]
    return None


@pytest.fixture
def market():
    invalidate_index()
    build_catalog()


def staff_client() -> Client:
    sync_roles()
    staff = create_staff_user("csp_admin", "Sturdy-pass-2026", ["auditor"])
    device = enrol_totp(staff)
    client = Client()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def check_page(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    header = response.headers["Content-Security-Policy"]
    policy = directives(header)
    # scripts and styles: our origin and the nonce, never anything inline or evaluated
    for directive in ("script-src", "style-src"):
        assert "'self'" in policy[directive], (path, header)
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:"} & set(policy[directive]), (
            path,
            header,
        )
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    parser = InlineCode(nonce_of(header))
    parser.feed(response.content.decode())
    assert parser.blocked == [], (path, parser.blocked)


def test_every_page_has_a_csp_that_its_markup_keeps_to(client, market) -> None:
    for path in PUBLIC_PAGES:
        check_page(client, path)


def test_the_back_office_keeps_to_the_csp(market) -> None:
    client = staff_client()
    for path in (
        "/admin/",
        "/admin/application/application/",
        "/admin/catalog/product/",
        "/admin/core/auditentry/",
    ):
        check_page(client, path)


def test_swagger_ui_is_served_from_our_own_static_files(client) -> None:
    # /api/docs loads Swagger UI: from our origin (a CDN would be refused by the CSP)
    html = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn." not in html


def test_the_app_does_not_name_its_server(client, market) -> None:
    for path in ("/", "/api/v1/openapi.json", "/static/css/huibao.css", "/no-such-page/"):
        response = client.get(path)
        assert response.headers.get("Server") == "", path
        assert "X-Powered-By" not in response.headers


def _server_header(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.headers.get("Server")
    except urllib.error.HTTPError as error:
        return error.headers.get("Server")


@pytest.mark.django_db(transaction=True)
def test_djangos_own_server_does_not_name_itself(live_server) -> None:
    # given Django's development server (the one `runserver` runs; without the app's header it
    # says "WSGIServer/0.2 CPython/3.12")
    # when / then
    assert _server_header(live_server.url + "/api/v1/openapi.json") == ""
    assert _server_header(live_server.url + "/no-such-page/") == ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_granian_as_deployed_does_not_name_itself(tmp_path: Path) -> None:
    # given granian started with the options of docs/deploy.md (without the app's header it
    # says "granian")
    port = _free_port()
    granian = str(Path(sys.executable).with_name("granian"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "huibao.settings",
        "HUIBAO_ENV": "development",
        "DEBUG": "0",
        "HUIBAO_TESTING": "1",
        "HUIBAO_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    process = subprocess.Popen(
        [
            *(granian, "--interface", "wsgi", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)),
            *("--no-ws", "--log-level", "warning", "huibao.wsgi:application"),
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/openapi.json"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                header = _server_header(url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # when / then
        assert header == ""
        assert _server_header(f"http://127.0.0.1:{port}/no-such-page/") == ""
    finally:
        process.terminate()
        process.wait(10)
