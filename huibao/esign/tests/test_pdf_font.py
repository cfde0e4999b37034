"""The PDFs' Chinese font is embedded as a subset (every viewer shows the same glyphs), every
character drawn is one the font has, and a QR code never sits alone on a last page."""

from __future__ import annotations

import subprocess
import tempfile

from huibao.esign.bench import sample_policy
from huibao.esign.pdf import FONT, Section, font_name, missing_glyphs, render_pdf

URL = "https://huibao.example/policy/verify/ABCD2345EFGH/"


def _pdffonts(pdf: bytes) -> list[str]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        out = subprocess.run(["pdffonts", file.name], capture_output=True, check=True, text=True).stdout
    return out.splitlines()[2:]  # below the two header lines


def _pages(pdf: bytes) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode("utf-8").split("\f")[:-1]


def test_every_font_of_an_epolicy_is_embedded_as_a_subset() -> None:
    # given: this machine has the TrueType Chinese font (make system-deps)
    assert font_name() == FONT
    # when
    pdf = render_pdf(*sample_policy())
    # then: pdffonts lists only our font, embedded ("emb yes"), subset, with a ToUnicode map
    rows = _pdffonts(pdf)
    assert rows, rows
    for row in rows:
        emb, sub, uni = row.split()[-5:-2]
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row
        assert "+" in row.split()[0], row  # a subset's name has the ABCDEF+ tag
    assert not any("Helvetica" in row or "STSong" in row for row in rows), rows
    # and the text reads back as written
    text = "".join(_pages(pdf))
    assert "电子保险单" in text or "保险单" in text
    assert "投保人" in text


def test_missing_glyphs_names_what_the_font_cannot_draw() -> None:
    assert missing_glyphs("投保单号 · ¥1,300.00（北京时间）—") == set()
    assert missing_glyphs("☒") == {"☒"}  # the tofu box the form showed as a separator


def test_a_qr_code_stays_on_the_page_of_its_section_text_whatever_the_length() -> None:
    # given: documents of every length up to three pages, ending with the verification section
    for filler in range(0, 70, 2):
        sections = [
            Section(
                heading="条款",
                paragraphs=tuple(f"第{i}条 保险人按照合同约定给付保险金。" * 3 for i in range(filler)),
            ),
            Section(
                heading="客户服务与保单验真",
                paragraphs=(
                    "客服电话：95500",
                    "验真码：ABCD2345EFGH",
                    "扫描二维码或访问以下网址核验本保单。",
                ),
                qr_url=URL,
            ),
        ]
        # when
        pages = _pages(render_pdf("电子保险单", sections))
        # then: the page with the QR code's link also holds the section's heading and text
        with_link = [p for p in pages if URL in p.replace("\n", "")]
        assert len(with_link) == 1, (filler, pages)
        assert "客户服务与保单验真" in with_link[0] and "验真码" in with_link[0], (filler, with_link[0])
        assert pages[-1].strip().replace("\n", "") != URL, filler
