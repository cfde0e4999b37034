"""A real partner for the delivery tests: an HTTP server on 127.0.0.1 (ephemeral port) in a
thread, recording every request and answering as the test tells it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from huibao.webhook import services

# Two threads claiming one delivery need row locks and real concurrent sessions.
collect_ignore = [] if connection.vendor == "postgresql" else ["test_concurrency.py"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Partner:
    url: str
    received: list[Received] = field(default_factory=list)
    # Status codes of the next answers, in order; 200 once they are used up.
    answers: list[int] = field(default_factory=list)
    # Seconds to wait before answering (a partner slower than the timeout).
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def partner() -> Iterator[Partner]:
    box: dict[str, Partner] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            me = box["partner"]
            with me.lock:
                me.received.append(Received(self.path, dict(self.headers.items()), body))
            if me.delay:
                time.sleep(me.delay)
            status = me.next_status()
            payload = b'{"ok":true}' if status < 300 else b"partner error " + b"x" * 2000
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    _host, port = server.server_address[:2]
    box["partner"] = Partner(url=f"http://127.0.0.1:{port}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["partner"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.HUIBAO_WEBHOOK_ALLOW_HTTP = True
    settings.HUIBAO_WEBHOOK_TIMEOUT = 1.0


def make_endpoint(subscriber: str = "CH001", url: str = "http://127.0.0.1:9/hooks", types=("policy.issued",)):
    return services.create_endpoint(subscriber, url, list(types), actor="test")
