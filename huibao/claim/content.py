"""What an uploaded material really is: sniffed from its bytes, never from its name.

JPEG and PNG by signature, then opened and verified with Pillow; PDF by signature, then parsed
with pyHanko's reader (at least one page). HEIC (iPhone photos) by its `ftyp` brand: Pillow
cannot decode it without a plug-in, so it is checked by its container signature only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic", "application/pdf": ".pdf"}


@dataclass(frozen=True, slots=True)
class Sniffed:
    content_type: str  # "" when not an accepted image or PDF

    @property
    def ok(self) -> bool:
        return bool(self.content_type)

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.content_type, "")


def _image_ok(data: bytes, fmt: str) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != fmt:
                return False
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode the pixels: a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


def _pdf_ok(data: bytes) -> bool:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        return int(reader.root["/Pages"]["/Count"]) > 0
    except Exception:  # any parse failure means "not a PDF we can read"
        return False


def sniff(data: bytes) -> Sniffed:
    if data.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg" if _image_ok(data, "JPEG") else "")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png" if _image_ok(data, "PNG") else "")
    if data.startswith(b"%PDF-"):
        return Sniffed("application/pdf" if _pdf_ok(data) else "")
    if len(data) > 12 and data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return Sniffed("image/heic")
    return Sniffed("")
