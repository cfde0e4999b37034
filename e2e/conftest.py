"""Browser tests: Playwright's sync API driving Debian's chromium against pytest-django's live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
# (seeding data, checking rows) would otherwise be refused as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("HUIBAO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(os.environ.get("HUIBAO_SCREENSHOTS", "var/screenshots"))


# Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it is
# open, which would break later tests that call asyncio.run() (pyHanko's signing does).
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: run `make system-deps`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def _first_page_ready(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Once per session, before the first page: the search's word segmenter loaded and its index
    built (`search.warm_index`), and one search page served in this process (the URL conf with every
    app's views and the API, the page's templates). The live server runs in this process; a first
    page paying for all of that (about 3 s of CPU) took longer than a test waits (15 s) on a
    loaded machine. Each test's own products then rebuild only the index (milliseconds); what the
    warm-up wrote is rolled back."""
    from django.db import transaction
    from django.test import Client

    from huibao.catalog import search

    with django_db_blocker.unblock(), transaction.atomic():
        search.warm_index()
        response = Client().get("/products/", {"q": "意外险"})
        transaction.set_rollback(True)
    assert response.status_code == 200, response.status_code


# Every page of a watched context reports what the Content-Security-Policy blocked: the
# `securitypolicyviolation` event (re-emitted on the console) and Chromium's own console message.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


def watch_csp(context: Any) -> list[str]:
    """Starts collecting the CSP violations of `context`'s pages; returns the (live) list."""
    violations: list[str] = []

    def on_console(message: Any) -> None:
        text = message.text
        if "CSP violation" in text or "Content Security Policy" in text:
            violations.append(f"{message.page.url if message.page else ''}: {text}")

    context.add_init_script(_CSP_LISTENER)
    context.on("console", on_console)
    return violations


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A new visitor on a phone-sized screen (fresh cookies, Chinese locale). Whatever the test
    does, no page may break the Content-Security-Policy."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    page = context.new_page()
    yield page
    context.close()
    assert violations == [], violations


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
