"""PDF documents: a small builder (reportlab), PAdES signing and validation (pyHanko).

`render_pdf` lays out headings, paragraphs, key/value tables, an optional PNG (a handwritten
signature) and an optional QR code in Chinese with reportlab's built-in CID font STSong-Light: no
font file is embedded (readers supply the Adobe-GB1 font), which keeps an e-policy at a few KB.

`sign_pdf` adds a PAdES B-B signature (ETSI.CAdES.detached) made with the platform's
document-signing certificate, the root embedded in the CMS so verifiers can build the chain.
No timestamp authority is configured, so there is no B-T level yet. `verify_pdf` validates with
the platform root as the only trust anchor.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from huibao.esign.ca import ca_directory, ensure_platform_ca, signing_key_passphrase

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

# wordWrap="CJK" breaks lines between any two Han characters (Chinese has no spaces).
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
_TITLE = ParagraphStyle("title", parent=_BODY, fontSize=18, leading=26, alignment=1, spaceAfter=6 * mm)
_HEADING = ParagraphStyle(
    "heading", parent=_BODY, fontSize=13, leading=20, spaceBefore=4 * mm, spaceAfter=2 * mm
)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=10, leading=14)


@dataclass(frozen=True)
class Section:
    """One block of a document; every part is optional and appears in this order."""

    heading: str = ""
    paragraphs: tuple[str, ...] = ()
    table: tuple[tuple[str, str], ...] = ()  # (label, value) rows
    image_png: bytes | None = None  # e.g. a handwritten signature
    image_width_mm: float = 40
    qr_url: str | None = None  # drawn as a QR code with the URL printed beside it
    qr_size_mm: float = 30


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool  # intact, cryptographically sound, trusted, no disallowed change after signing
    intact: bool  # the signed bytes hash to the signed digest
    signer_cn: str
    signed_at: dt.datetime | None  # the signer's claimed time (no timestamp token yet)
    trusted: bool  # the certificate chains to the platform root
    problems: tuple[str, ...] = field(default=())


def render_pdf(title: str, sections: list[Section]) -> bytes:
    """Lay out `title` and `sections` on A4 pages; text is plain (no markup), escaped here."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="Huibao",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    story: list[Flowable] = [Paragraph(escape(title), _TITLE)]
    for section in sections:
        story.extend(_section_flowables(section, doc.width))
    doc.build(story)
    return buffer.getvalue()


def _section_flowables(section: Section, width: float) -> list[Flowable]:
    out: list[Flowable] = []
    if section.heading:
        out.append(Paragraph(escape(section.heading), _HEADING))
    out.extend(Paragraph(_text(p), _BODY) for p in section.paragraphs)
    if section.table:
        rows = [[Paragraph(_text(k), _CELL), Paragraph(_text(v), _CELL)] for k, v in section.table]
        table = Table(rows, colWidths=[width * 0.3, width * 0.7])
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F4F7")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ]
            )
        )
        out.extend([Spacer(1, 2 * mm), table, Spacer(1, 2 * mm)])
    if section.image_png is not None:
        image = Image(io.BytesIO(section.image_png))
        scale = section.image_width_mm * mm / image.imageWidth
        image.drawWidth = image.imageWidth * scale
        image.drawHeight = image.imageHeight * scale
        image.hAlign = "LEFT"
        out.append(image)
    if section.qr_url:
        out.extend([_qr(section.qr_url, section.qr_size_mm * mm), Paragraph(_text(section.qr_url), _CELL)])
    return out


def _text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


def _qr(url: str, size: float) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    drawing.hAlign = "LEFT"
    return drawing


# --- Signing --------------------------------------------------------------------------------


SIGNATURE_BYTES = 8192


@lru_cache(maxsize=4)
def _signer(directory: Path) -> signers.SimpleSigner:
    """Load (and create if absent) the platform signing key once per process and CA directory."""
    ca = ensure_platform_ca(directory)
    signer = signers.SimpleSigner.load(
        key_file=str(ca.signing_key_path),
        cert_file=str(ca.signing_cert_path),
        ca_chain_files=(str(ca.root_cert_path),),
        key_passphrase=signing_key_passphrase(),
    )
    if signer is None:  # pyHanko logs the reason and returns None
        raise RuntimeError(f"cannot load the signing key or certificate from {directory}")
    return signer


@lru_cache(maxsize=4)
def _validation_context_roots(directory: Path) -> tuple[asn1_x509.Certificate, ...]:
    ca = ensure_platform_ca(directory)
    _, _, der = pem.unarmor(ca.root_cert_path.read_bytes())
    return (asn1_x509.Certificate.load(der),)


def sign_pdf(
    pdf: bytes, *, reason: str, location: str = "Huibao", field_name: str = "HuibaoSignature"
) -> bytes:
    """Return `pdf` with an invisible PAdES B-B signature appended as an incremental update."""
    signer = _signer(ca_directory().resolve())
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        reason=reason,
        location=location,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    # A fixed reservation skips pyHanko's dry-run signature used to size the /Contents hole (it
    # halves the signing time); an ECDSA CMS with two certificates needs ~1.5 KB; raise it for B-T/LTA.
    signers.PdfSigner(meta, signer=signer).sign_pdf(writer, output=out, bytes_reserved=SIGNATURE_BYTES)
    return out.getvalue()


def verify_pdf(pdf: bytes) -> SignatureCheck:
    """Validate the last signature in `pdf` against the platform root; never raises on bad input."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:  # a damaged file is an invalid document, not a server error
        return _invalid(f"unreadable PDF: {exc}")
    if not embedded:
        return _invalid("no signature")
    roots = _validation_context_roots(ca_directory().resolve())
    context = ValidationContext(
        trust_roots=list(roots),
        allow_fetching=False,
        revocation_mode="soft-fail",  # our certificates carry no CRL/OCSP pointers yet
    )
    try:
        status = validate_pdf_signature(embedded[-1], signer_validation_context=context)
    except Exception as exc:
        return _invalid(f"validation failed: {exc}")
    cn = status.signing_cert.subject.native.get("common_name", "") if status.signing_cert else ""
    problems = [] if status.bottom_line else [status.summary()]
    return SignatureCheck(
        valid=bool(status.bottom_line),
        intact=bool(status.intact),
        signer_cn=str(cn),
        signed_at=status.signer_reported_dt,
        trusted=bool(status.trusted),
        problems=tuple(problems),
    )


def _invalid(problem: str) -> SignatureCheck:
    return SignatureCheck(
        valid=False, intact=False, signer_cn="", signed_at=None, trusted=False, problems=(problem,)
    )
