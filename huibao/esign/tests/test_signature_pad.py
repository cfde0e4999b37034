"""The signature pad in a real browser (Debian's chromium): what it records is what the server checks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string

from huibao.esign.handwriting import check_handwritten_signature, parse_strokes
from huibao.esign.tests.ink import GLYPHS, write

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("HUIBAO_CHROMIUM", "/usr/bin/chromium")
ORIGIN = "http://pad.test"
STATIC = Path(settings.BASE_DIR) / "huibao" / "static"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an asyncio loop open in this thread.
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: run `make system-deps`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def _open_pad(browser, value: str = "") -> Iterator[object]:
    """A phone (touch, devicePixelRatio 2) showing a form with the pad for 张三."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    pad = render_to_string(
        "esign/signature_pad.html", {"name": "张三", "input_name": "signature", "value": value}
    )
    html = f'<!doctype html><meta name="viewport" content="width=device-width"><form>{pad}</form>'

    def serve(route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path.startswith(settings.STATIC_URL):
            route.fulfill(path=str(STATIC / path.removeprefix(settings.STATIC_URL)))
        else:
            route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("document.querySelector('[data-signature-pad]').dataset.ready")
    yield page
    context.close()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    yield from _open_pad(browser)


def _ink(page) -> dict:
    return json.loads(page.locator("input[name=signature]").input_value())


def _strokes_on_canvas(page, text: str) -> list[list[tuple[float, float]]]:
    """`text` written as synthetic ink, scaled into the canvas, in page coordinates."""
    box = page.locator("#signature-canvas").bounding_box()
    size = box["height"] * 0.5
    canvas = (int(box["width"]), int(box["height"]))
    ink = write(text, size=size, canvas=canvas, origin=(size * 0.3, size * 0.4), step=12)
    return [[(box["x"] + x, box["y"] + y) for x, y, _ in stroke] for stroke in ink["strokes"]]


def test_pad_is_sized_for_the_screen_and_does_not_scroll(phone):
    # when the pad is shown on a phone with devicePixelRatio 2
    size = phone.evaluate(
        """() => { const c = document.getElementById('signature-canvas'), r = c.getBoundingClientRect();
        return {w: c.width, h: c.height, cw: r.width, ch: r.height, touch: getComputedStyle(c).touchAction,
                guide: document.querySelector('.signature-pad__guide').textContent}; }"""
    )
    # then the bitmap has two pixels per CSS pixel, touch does not scroll, the name is the guide
    assert size["w"] == round(size["cw"]) * 2 and size["h"] == round(size["ch"]) * 2
    assert size["touch"] == "none"
    assert size["guide"] == "张三"
    # and before any ink the hidden input holds an empty ink of the pad's size
    assert _ink(phone) == {"width": round(size["cw"]), "height": round(size["ch"]), "strokes": []}


def test_mouse_strokes_are_recorded_and_accepted_by_the_server(phone, tmp_path):
    # given 张三 written with the mouse
    for stroke in _strokes_on_canvas(phone, "张三"):
        phone.mouse.move(*stroke[0])
        phone.mouse.down()
        for point in stroke[1:]:
            phone.mouse.move(*point)
        phone.mouse.up()
    # when the form's hidden input is read
    raw = phone.locator("input[name=signature]").input_value()
    ink = parse_strokes(raw)
    # then it holds every stroke in CSS pixels with times that never go back, and the server accepts it
    assert len(ink.strokes) == len(GLYPHS["张"]) + len(GLYPHS["三"])
    times = [p[2] for stroke in ink.strokes for p in stroke]
    assert times[0] == 0 and times == sorted(times)
    assert all(0 <= p[0] <= ink.width and 0 <= p[1] <= ink.height for s in ink.strokes for p in s)
    assert check_handwritten_signature(ink, "张三") == []
    assert phone.locator(".signature-pad--signed").count() == 1
    phone.screenshot(path=str(tmp_path / "pad.png"))
    # and the clear button empties the pad
    phone.click("#signature-clear")
    assert _ink(phone)["strokes"] == []
    assert phone.locator(".signature-pad--signed").count() == 0


def test_finger_strokes_are_recorded(phone):
    # given two strokes drawn with a finger (real touch events through the DevTools protocol)
    cdp = phone.context.new_cdp_session(phone)
    box = phone.locator("#signature-canvas").bounding_box()
    for y in (0.3, 0.7):
        points = [(box["x"] + box["width"] * f, box["y"] + box["height"] * y) for f in (0.2, 0.4, 0.6, 0.8)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_touch(points[0])]})
        for point in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [_touch(point)]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    # then both strokes are in the hidden input, from left to right at the heights touched
    strokes = _ink(phone)["strokes"]
    assert len(strokes) == 2
    assert [len(s) for s in strokes] == [4, 4]
    assert strokes[0][0][0] == pytest.approx(box["width"] * 0.2, abs=1)
    assert strokes[1][-1][1] == pytest.approx(box["height"] * 0.7, abs=1)
    # and the page did not scroll
    assert phone.evaluate("window.scrollY") == 0


def _touch(point: tuple[float, float]) -> dict:
    return {"x": point[0], "y": point[1], "id": 1}


def test_ink_posted_before_is_drawn_again_at_the_pads_size(browser):
    # given a form shown again with ink that was written on a pad twice as wide
    posted = write("张三", size=120, canvas=(748, 406), origin=(40, 60))
    for page in _open_pad(browser, json.dumps(posted)):
        # when the pad starts
        ink = _ink(page)
        drawn = page.evaluate(
            """() => { const c = document.getElementById('signature-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 128) n++; return n; }"""
        )
        # then the same strokes are kept, scaled to the pad, and drawn on the canvas
        assert len(ink["strokes"]) == len(posted["strokes"])
        assert ink["width"] == round(page.locator("#signature-canvas").bounding_box()["width"])
        assert ink["strokes"][0][0][0] == pytest.approx(posted["strokes"][0][0][0] / 2, abs=0.2)
        assert drawn > 1000
        assert check_handwritten_signature(parse_strokes(ink), "张三") == []
