"""Reading back what the e-policy shows, for tests: the text and fonts (poppler's pdftotext and
pdffonts) and the QR code's drawing operators."""

from __future__ import annotations

import io
import subprocess
import tempfile

from pyhanko.pdf_utils.reader import PdfFileReader


def page_streams(pdf: bytes) -> list[bytes]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    streams = []
    for page_no in range(int(reader.root["/Pages"]["/Count"])):
        ref, _ = reader.find_page_for_modification(page_no)
        contents = ref.get_object()["/Contents"]
        parts = contents if isinstance(contents, list) else [contents]
        streams.append(b"".join(p.get_object().data for p in parts))
    return streams


def text_of(pdf: bytes) -> str:
    """The text a reader shows, page after page, extracted by poppler's pdftotext (the document
    font is an embedded TrueType subset: its strings are glyph codes, decoded through the font's
    ToUnicode map, which pdftotext reads)."""
    return "\n".join(pages_text(pdf))


def pages_text(pdf: bytes) -> list[str]:
    """pdftotext's text of each page (-layout off: one line per line of text)."""
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8").split("\f")[:-1] or [""]


def fonts_of(pdf: bytes) -> list[dict[str, str]]:
    """pdffonts' table: one row per font with its name, type and whether it is embedded/subset."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        out = subprocess.run(["pdffonts", file.name], capture_output=True, check=True, text=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        parts = line.split()
        # name, type (one or two words), encoding, emb, sub, uni, object, generation
        rows.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3], "line": line})
    return rows


def fill_ops(pdf: bytes) -> list[bytes]:
    """The filled rectangles drawn (a QR code is one per run of dark modules)."""
    return [line for data in page_streams(pdf) for line in data.splitlines() if line.endswith(b"re f*")]
