"""Reading back what the e-policy shows, for tests: the text (reportlab writes CID-font strings as
UTF-16BE literals) and the QR code's drawing operators."""

from __future__ import annotations

import io
import re

from pyhanko.pdf_utils.reader import PdfFileReader

_STRING = re.compile(rb"\((?:\\.|[^\\)])*\)\s*Tj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(literal):
        ch = literal[i : i + 1]
        if ch != b"\\":
            out += ch
            i += 1
            continue
        nxt = literal[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt]
            i += 2
        elif nxt.isdigit():
            digits = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
            assert digits is not None
            out.append(int(digits.group(0), 8))
            i += 1 + len(digits.group(0))
        else:
            out += nxt
            i += 2
    return bytes(out)


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
    """All strings shown with Tj, decoded (UTF-16BE for the CID font, Latin-1 otherwise), one per line."""
    lines = []
    for data in page_streams(pdf):
        for match in _STRING.finditer(data):
            raw = _unescape(match.group(0)[1 : match.group(0).rindex(b")")])
            try:
                lines.append(raw.decode("utf-16-be") if len(raw) % 2 == 0 else raw.decode("latin-1"))
            except UnicodeDecodeError:
                lines.append(raw.decode("latin-1"))
    return "\n".join(lines)


def fill_ops(pdf: bytes) -> list[bytes]:
    """The filled rectangles drawn (a QR code is one per run of dark modules)."""
    return [line for data in page_streams(pdf) for line in data.splitlines() if line.endswith(b"re f*")]
