"""/favicon.ico is answered (no 404 on every page load) and every page links the icons."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_answered_with_an_icon(client: Client) -> None:
    # when
    response = client.get("/favicon.ico")
    # then: an ICO the imaging library can open, cached by the browser
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    icon = Image.open(io.BytesIO(response.content))
    assert icon.format == "ICO" and icon.size[0] >= 32
    assert "max-age" in response["Cache-Control"]


def test_pages_link_the_svg_and_png_icons(client: Client) -> None:
    html = client.get("/").content.decode()
    assert 'rel="icon"' in html and "icons/favicon.svg" in html and "favicon.ico" in html
    assert 'rel="apple-touch-icon"' in html and "icons/apple-touch-icon.png" in html
