"""The signed application form (电子投保单) as the customer reads it: the Chinese font embedded, no
character the font lacks (no tofu boxes as separators), the times in Beijing time and labelled."""

from __future__ import annotations

import datetime
import subprocess
import tempfile
import zoneinfo

import pytest

from huibao.application.documents import application_form_sections, beijing_time, render_application_form
from huibao.application.tests import factories as f
from huibao.esign import pdf as esign_pdf
from huibao.esign.pdf import missing_glyphs

pytestmark = pytest.mark.django_db

BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def signed(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    esign_pdf._signer.cache_clear()
    user = f.customer()
    yield f.to_signed(f.simple_product(), user)
    esign_pdf._signer.cache_clear()


def _pdftotext(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def _pdffonts(pdf: bytes) -> list[str]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        return subprocess.run(
            ["pdffonts", file.name], capture_output=True, check=True, text=True
        ).stdout.splitlines()[2:]


def test_beijing_time_is_eight_hours_ahead_of_utc_and_labelled() -> None:
    moment = datetime.datetime(2026, 3, 1, 18, 30, 5, tzinfo=datetime.UTC)
    assert beijing_time(moment) == "2026-03-02 02:30:05（北京时间）"
    assert beijing_time(None) == "—"


def test_the_form_uses_only_characters_the_font_has(signed) -> None:
    # when: every string the form lays out
    texts = [signed.number]
    for section in application_form_sections(signed):
        texts += [section.heading, *section.paragraphs, *(cell for row in section.table for cell in row)]
    # then: the embedded font draws each of them
    assert missing_glyphs("".join(texts)) == set()


def test_the_signed_form_embeds_its_font_and_shows_beijing_time(signed) -> None:
    # when
    document = render_application_form(signed)
    # then: every font embedded (pdffonts "emb yes")
    rows = _pdffonts(document.pdf)
    assert rows and all(row.split()[-5] == "yes" for row in rows), rows
    # and the text: the confirmation and signing times in Beijing time, labelled, not UTC
    text = _pdftotext(document.pdf).replace("\n", "")
    signature = signed.signatures.get()
    local = signature.signed_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    utc = signature.signed_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f"签署时间 {local}（北京时间）" in text, text
    assert utc not in text
    assert "☒" not in text and "投保单号" in text and signed.number in text
