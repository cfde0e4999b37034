"""PDF documents: a small builder (reportlab), PAdES signing and validation (pyHanko).

`render_pdf` lays out headings, paragraphs, key/value tables, an optional PNG (a handwritten
signature) and an optional QR code in Chinese with a TrueType font embedded as a subset (only the
glyphs used, ~20-40 KB): every viewer shows the same characters, none depends on the reader having
an Adobe-GB1 font (a phone's viewer or a browser often has none and showed boxes or nothing).
The font is WenQuanYi Micro Hei (Debian's fonts-wqy-microhei, `make system-deps`; Apache-2.0/GPL
with font exception) or the file named by HUIBAO_PDF_FONT; reportlab embeds TrueType outlines only
(not the CFF outlines of Noto CJK). Without one, the non-embedded CID font STSong-Light is used and
a warning logged.

`sign_pdf` adds a PAdES B-B signature (ETSI.CAdES.detached) made with the platform's
document-signing certificate, the root embedded in the CMS so verifiers can build the chain.
The signer is loaded once per process and builds its CMS from a template (`TemplateSigner`), so
a signature costs ~3 ms instead of ~13 ms.
No timestamp authority is configured, so there is no B-T level yet. `verify_pdf` validates with
the platform root as the only trust anchor.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import os
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from huibao.esign.ca import ca_directory, ensure_platform_ca, signing_key_passphrase

FONT = "HuibaoCJK"  # the embedded TrueType font, or STSong-Light under that name's fallback
CID_FALLBACK = "STSong-Light"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora, Arch
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def font_name() -> str:
    """Registers the document font once per process (parsing the file takes ~0.7 s, so not at
    import) and returns the name to draw with: FONT when a TrueType file was found, else the CID
    fallback."""
    configured = os.environ.get("HUIBAO_PDF_FONT", "")
    for candidate in (configured, *FONT_CANDIDATES) if configured else FONT_CANDIDATES:
        if candidate and Path(candidate).is_file():
            pdfmetrics.registerFont(TTFont(FONT, candidate, subfontIndex=0))
            return FONT
    log.warning(
        "no TrueType Chinese font found (run `make system-deps`): PDFs use the non-embedded %s", CID_FALLBACK
    )
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return CID_FALLBACK


def missing_glyphs(text: str) -> set[str]:
    """The characters of `text` the document font cannot draw (they would show as empty boxes)."""
    name = font_name()
    if name != FONT:
        return set()
    face = pdfmetrics.getFont(name).face
    return {ch for ch in set(text) if not ch.isspace() and ord(ch) not in face.charToGlyph}


@lru_cache(maxsize=1)
def _style_set() -> dict[str, ParagraphStyle]:
    return _styles(font_name())


def _styles(name: str) -> dict[str, ParagraphStyle]:
    # wordWrap="CJK" breaks lines between any two Han characters (Chinese has no spaces).
    body = ParagraphStyle("body", fontName=name, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "body": body,
        "title": ParagraphStyle(
            "title", parent=body, fontSize=18, leading=26, alignment=1, spaceAfter=6 * mm
        ),
        "heading": ParagraphStyle(
            "heading", parent=body, fontSize=13, leading=20, spaceBefore=4 * mm, spaceAfter=2 * mm
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=10, leading=14),
    }


_TABLE_STYLE = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F4F7")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)


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


class Coverage(StrEnum):
    """How much of the file the signature covers."""

    ENTIRE_FILE = "entire_file"  # every byte: nothing was added after signing
    # The signed revision is whole, but bytes follow it: bytes appended after `%%EOF`, or
    # incremental updates (see `SignatureCheck.updated_after_signing`).
    ENTIRE_REVISION = "entire_revision"
    PARTIAL = "partial"  # not even the signed revision (a damaged or crafted byte range)
    NONE = "none"  # no signature, or one that could not be read


@dataclass(frozen=True)
class SignatureCheck:
    # Intact, trusted and covering the entire file: exactly the bytes the platform signed.
    valid: bool
    intact: bool  # the signed bytes hash to the signed digest
    signer_cn: str
    signed_at: dt.datetime | None  # the signer's claimed time (no timestamp token yet)
    trusted: bool  # the certificate chains to the platform root
    problems: tuple[str, ...] = field(default=())
    coverage: Coverage = Coverage.NONE
    # The file holds revisions after the signed one (incremental updates), acceptable to a
    # PDF reader's rules or not; bytes after `%%EOF` that make no revision do not count here.
    updated_after_signing: bool = False


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
        # The canvas starts in this font too: otherwise it names Helvetica, a font never drawn
        # with but listed, not embedded, in every page's resources.
        initialFontName=font_name(),
    )
    styles = _style_set()
    story: list[Flowable] = [Paragraph(escape(title), styles["title"])]
    for section in sections:
        story.extend(_section_flowables(section, doc.width, styles))
    doc.build(story)
    return buffer.getvalue()


def _section_flowables(section: Section, width: float, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    if section.qr_url and section.paragraphs and not section.table and section.image_png is None:
        return [_qr_beside_text(section, width, styles)]
    out: list[Flowable] = []
    if section.heading:
        out.append(Paragraph(escape(section.heading), styles["heading"]))
    out.extend(Paragraph(_text(p), styles["body"]) for p in section.paragraphs)
    if section.table:
        cell = styles["cell"]
        rows = [[Paragraph(_text(k), cell), Paragraph(_text(v), cell)] for k, v in section.table]
        table = Table(rows, colWidths=[width * 0.3, width * 0.7], style=_TABLE_STYLE)
        table.setStyle(_cell_font(cell))
        out.extend([Spacer(1, 2 * mm), table, Spacer(1, 2 * mm)])
    if section.image_png is not None:
        image = Image(io.BytesIO(section.image_png))
        scale = section.image_width_mm * mm / image.imageWidth
        image.drawWidth = image.imageWidth * scale
        image.drawHeight = image.imageHeight * scale
        image.hAlign = "LEFT"
        out.append(image)
    if section.qr_url:
        out.append(
            KeepTogether(
                [
                    QrFlowable(section.qr_url, section.qr_size_mm * mm),
                    Paragraph(_text(section.qr_url), styles["cell"]),
                ]
            )
        )
    return out


def _cell_font(style: ParagraphStyle) -> TableStyle:
    # A table draws each cell with its own font, Helvetica unless told: named, never embedded.
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), style.fontName)])


def _qr_beside_text(section: Section, width: float, styles: dict[str, ParagraphStyle]) -> Flowable:
    """The code beside its section's text, the whole section kept on one page: a QR code never
    ends up alone on a last page, away from the words that say what it is for."""
    assert section.qr_url is not None
    qr = QrFlowable(section.qr_url, section.qr_size_mm * mm)
    texts = [Paragraph(_text(p), styles["body"]) for p in section.paragraphs]
    side = Table(
        [[qr, [*texts, Paragraph(_text(section.qr_url), styles["cell"])]]],
        colWidths=[qr.width + 4 * mm, width - qr.width - 4 * mm],
        style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]),
    )
    side.setStyle(_cell_font(styles["cell"]))
    side.hAlign = "LEFT"
    heading = [Paragraph(escape(section.heading), styles["heading"])] if section.heading else []
    return KeepTogether([*heading, side])


def _text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


class QrFlowable(Flowable):
    """A QR code (level M, 4-module quiet zone) drawn straight on the canvas, one rectangle per run.

    The same modules, geometry and PDF fill operators as reportlab's `QrCodeWidget` in a `Drawing`
    (pages rasterise to identical pixels), without its cost: the widget built one validated shape
    object per dark run (~570 for a verification URL) and encoded the matrix twice, once just for
    its bounds, ~30 ms of a ~40 ms e-policy. This takes ~7 ms, nearly all of it reportlab's
    encoder choosing the mask pattern. (One path for all runs would be cheaper still, but
    anti-aliases the module edges differently.)
    """

    BORDER = 4

    def __init__(self, value: str, size: float) -> None:
        super().__init__()
        self.width = self.height = size
        self.hAlign = "LEFT"
        qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        qr.addData(value)
        qr.make()
        self.modules: list[list[bool]] = [[bool(m) for m in row] for row in qr.modules]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        box = self.width / (len(self.modules) + 2 * self.BORDER)
        canvas = self.canv
        for r, row in enumerate(self.modules):
            y = self.height - (r + self.BORDER + 1) * box
            c = 0
            for dark, run in itertools.groupby(row):
                count = len(list(run))
                if dark:
                    canvas.rect((c + self.BORDER) * box, y, count * box, box, stroke=0, fill=1)
                c += count


# --- Signing --------------------------------------------------------------------------------


SIGNATURE_BYTES = 8192


class TemplateSigner(signers.SimpleSigner):
    """A `SimpleSigner` that builds its PAdES CMS once and then changes only the digest and signature.

    With PAdES, pyHanko's signed attributes are content-type, message-digest and
    signing-certificate-v2 (the signing time goes in the signature dictionary's /M, not in the CMS),
    so for one signer every CMS differs only in the message digest and the signature value.
    Assembling it with asn1crypto each time costs ~11 ms, nearly all of a signature; patching a
    template costs ~1 ms. The first call builds the template with pyHanko itself (with a random
    placeholder digest), and every call that could need other attributes (a timestamp, CAdES
    options, revocation info, a dry run, another digest algorithm) goes to pyHanko unchanged.
    """

    TEMPLATE_ATTRIBUTES = ("content_type", "message_digest", "signing_certificate_v2")

    _template: tuple[bytes, bytes] | None = None  # (CMS DER, placeholder digest inside it)
    _template_unusable = False

    @classmethod
    def from_simple_signer(cls, signer: signers.SimpleSigner) -> TemplateSigner:
        return cls(
            signing_cert=signer.signing_cert,
            signing_key=signer.signing_key,
            cert_registry=signer.cert_registry,
            signature_mechanism=signer.signature_mechanism,
            embed_roots=signer.embed_roots,
        )

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: timestamps.TimeStamper | None = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        plain = (
            use_pades
            and is_pdf_sig
            and not dry_run
            and timestamper is None
            and encap_content_info is None
            and digest_algorithm == "sha256"
            and len(data_digest) == 32
            and not self.attribute_certs
            and signed_attr_settings is not None
            and signed_attr_settings.cades_signed_attrs is None
            and signed_attr_settings.adobe_revinfo_attr is None
        )
        if plain and self._template is None and not self._template_unusable:
            await self._build_template()
        if not plain or self._template is None:
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        template, placeholder = self._template
        content = cms.ContentInfo.load(template.replace(placeholder, data_digest))
        signer_info = content["content"]["signer_infos"][0]
        # RFC 5652 5.4: the signature covers the DER of the signed attributes as a SET OF, i.e. the
        # [0] IMPLICIT tag of the SignerInfo field replaced by the universal SET tag.
        signed_attrs = b"\x31" + signer_info["signed_attrs"].dump()[1:]
        signer_info["signature"] = self.sign_raw(signed_attrs, digest_algorithm)
        return content

    async def _build_template(self) -> None:
        placeholder = secrets.token_bytes(32)
        content = await super().async_sign(
            placeholder, "sha256", use_pades=True, signed_attr_settings=PdfCMSSignedAttributes()
        )
        der = content.dump()
        signer_info = content["content"]["signer_infos"][0]
        kinds = tuple(attr["type"].native for attr in signer_info["signed_attrs"])
        if der.count(placeholder) != 1 or sorted(kinds) != sorted(self.TEMPLATE_ATTRIBUTES):
            self._template_unusable = True  # a pyHanko that adds other attributes: use it as is
            return
        self._template = (der, placeholder)


@lru_cache(maxsize=4)
def _signer(directory: Path) -> TemplateSigner:
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
    return TemplateSigner.from_simple_signer(signer)


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


_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: Coverage.ENTIRE_FILE,
    SignatureCoverageLevel.ENTIRE_REVISION: Coverage.ENTIRE_REVISION,
}


def verify_pdf(pdf: bytes) -> SignatureCheck:
    """Validate the last signature in `pdf` against the platform root; never raises on bad input.

    pyHanko's bottom line accepts some changes after signing (bytes after `%%EOF`, incremental
    updates it deems harmless, such as a rewritten document information dictionary): `valid`
    also asks that the signature cover the entire file, so a document reads as valid only when
    it is byte for byte what was signed, and `coverage` / `updated_after_signing` say what else
    there is."""
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
    coverage = _COVERAGE.get(status.coverage, Coverage.PARTIAL) if status.coverage else Coverage.PARTIAL
    try:
        updated = embedded[-1].signed_revision < reader.xrefs.total_revisions - 1
    except Exception:  # a revision table pyHanko could not walk: nothing to claim either way
        updated = False
    problems = [] if status.bottom_line else [status.summary()]
    if coverage is not Coverage.ENTIRE_FILE:
        problems.append(
            "updated after signing"
            if updated
            else f"the signature does not cover the entire file ({coverage})"
        )
    return SignatureCheck(
        valid=bool(status.bottom_line) and coverage is Coverage.ENTIRE_FILE,
        intact=bool(status.intact),
        signer_cn=str(cn),
        signed_at=status.signer_reported_dt,
        trusted=bool(status.trusted),
        problems=tuple(problems),
        coverage=coverage,
        updated_after_signing=updated,
    )


def _invalid(problem: str) -> SignatureCheck:
    return SignatureCheck(
        valid=False, intact=False, signer_cn="", signed_at=None, trusted=False, problems=(problem,)
    )
