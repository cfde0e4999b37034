from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, ImageChops
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate

from huibao.esign import pdf as pdf_module
from huibao.esign.bench import sample_policy, signature_png
from huibao.esign.ca import SIGNING_CN, ca_directory
from huibao.esign.pdf import Coverage, QrFlowable, Section, render_pdf, sign_pdf, verify_pdf


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _pdfsig(path: Path, home: Path) -> str:
    # Our root is self-made, so NSS (pdfsig's crypto) does not know it: with certificate validation
    # pdfsig adds "Certificate issuer isn't Trusted." (there is no certutil here to put the root in an
    # NSS database). -nocert checks only the signature over the byte ranges, which is what we assert:
    # the trust chain is checked by pyHanko against the platform root. HOME points at an empty
    # directory so pdfsig neither reads nor creates the user's ~/.pki/nssdb (it falls back to no DB).
    result = subprocess.run(
        ["pdfsig", "-nocert", str(path)],
        capture_output=True,
        text=True,
        env={"HOME": str(home), "PATH": "/usr/bin"},
    )
    return result.stdout


@pytest.fixture
def signed_policy(var_dir, tmp_path) -> tuple[bytes, Path]:
    title, sections = sample_policy()
    signed = sign_pdf(render_pdf(title, sections), reason="电子保单出单", location="上海")
    path = tmp_path / "policy.pdf"
    path.write_bytes(signed)
    return signed, path


def _tamper(pdf: bytes) -> bytes:
    """Change one byte inside the signed range (the producer name in the document information)."""
    at = pdf.index(b"ReportLab")
    assert at < pdf.index(b"/ByteRange")
    return pdf[:at] + b"X" + pdf[at + 1 :]


def test_chinese_text_renders(tmp_path):
    # given a document with Chinese headings, paragraphs, a table and markup-like characters
    pdf = render_pdf(
        "汇保电子保险单",
        [
            Section(
                heading="保单信息",
                paragraphs=("尊敬的客户：您的保单已生效。a < b & c",),
                table=(("保单号", "HB-2025-0001"), ("保费", "人民币 128.00 元")),
            )
        ],
    )
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    # when
    text = _pdftotext(path)
    # then every piece of text is extractable, escaped characters included
    for expected in (
        "汇保电子保险单",
        "保单信息",
        "尊敬的客户：您的保单已生效。",
        "a < b & c",
        "保单号",
        "HB-2025-0001",
    ):
        assert expected in text


def test_policy_has_two_pages_an_image_and_the_verification_url(tmp_path, var_dir):
    # given
    title, sections = sample_policy()
    path = tmp_path / "policy.pdf"
    # when
    path.write_bytes(render_pdf(title, sections))
    # then
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    assert "Pages:           2" in info
    images = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert len(images.strip().splitlines()) >= 3  # two header lines + the signature image
    assert "https://huibao.example/verify/HB-2025-000123456" in _pdftotext(path)


def test_image_is_scaled_to_requested_width(tmp_path):
    # given a 300x100 px signature drawn 60 mm wide
    path = tmp_path / "sig.pdf"
    path.write_bytes(render_pdf("签名", [Section(image_png=signature_png(), image_width_mm=60)]))
    # when
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    # then the image keeps its pixels and is placed at 300 px / 60 mm = 127 ppi
    row = listing.strip().splitlines()[2].split()
    assert (row[3], row[4]) == ("300", "100")
    assert row[12] == "127"


def test_signed_pdf_validates_with_pyhanko(signed_policy):
    # given
    signed, _ = signed_policy
    # when
    check = verify_pdf(signed)
    # then
    assert check.valid and check.intact and check.trusted, check.problems
    assert check.signer_cn == SIGNING_CN
    assert check.signed_at is not None


def test_signed_pdf_validates_with_pdfsig(signed_policy, tmp_path):
    # given
    _, path = signed_policy
    # when
    report = _pdfsig(path, tmp_path)
    # then
    assert "Signature Validation: Signature is Valid." in report
    assert "Signature Type: ETSI.CAdES.detached" in report  # PAdES
    assert "Total document signed" in report
    assert f"Signer Certificate Common Name: {SIGNING_CN}" in report


def test_one_changed_byte_fails_both_validators(signed_policy, tmp_path):
    # given a signed policy with one byte changed after signing
    signed, _ = signed_policy
    tampered = _tamper(signed)
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    # when
    check = verify_pdf(tampered)
    report = _pdfsig(path, tmp_path)
    # then
    assert not check.valid
    assert not check.intact
    assert "Signature Validation: Digest Mismatch." in report
    assert "Signature is Valid." not in report


def test_bytes_appended_after_signing_leave_the_signature_intact_but_not_valid(signed_policy):
    # given a signed policy with bytes appended after its %%EOF
    signed, _ = signed_policy
    appended = signed + b"\n% appended\n"
    # when
    check = verify_pdf(appended)
    # then what was signed is intact and the platform signed it, but the file is not what was signed
    assert check.intact and check.trusted
    assert check.coverage == Coverage.ENTIRE_REVISION and not check.updated_after_signing
    assert not check.valid
    assert "does not cover the entire file" in check.problems[-1]


def test_an_incremental_update_after_signing_is_not_valid(signed_policy):
    # given a signed policy with an incremental update (a new document information dictionary),
    # which pyHanko's own rules accept
    signed, _ = signed_policy
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.set_info(
        generic.DictionaryObject({generic.NameObject("/Producer"): generic.TextStringObject("x")})
    )
    out = io.BytesIO()
    writer.write(out)
    # when
    check = verify_pdf(out.getvalue())
    # then
    assert check.intact and check.trusted
    assert check.coverage == Coverage.ENTIRE_REVISION and check.updated_after_signing
    assert not check.valid
    assert check.problems[-1] == "updated after signing"


def test_the_untouched_file_is_covered_entirely(signed_policy):
    signed, _ = signed_policy
    check = verify_pdf(signed)
    assert check.valid and check.coverage == Coverage.ENTIRE_FILE and not check.updated_after_signing


def test_signature_from_another_ca_is_intact_but_not_trusted(var_dir, settings, tmp_path):
    # given a PDF signed by a different CA (another installation)
    signed = sign_pdf(render_pdf("保单", [Section(paragraphs=("内容",))]), reason="出单")
    settings.VAR_DIR = tmp_path / "other-installation"
    pdf_module._validation_context_roots.cache_clear()
    # when it is verified against this installation's root
    check = verify_pdf(signed)
    # then the bytes are intact but the signer is not trusted, so the document is not valid
    assert check.intact
    assert not check.trusted
    assert not check.valid


def test_unsigned_or_damaged_pdf_is_invalid(var_dir):
    # given
    unsigned = render_pdf("保单", [Section(paragraphs=("内容",))])
    # when / then
    assert verify_pdf(unsigned).problems == ("no signature",)
    assert not verify_pdf(unsigned).valid
    assert not verify_pdf(b"not a pdf").valid


def test_signing_works_with_an_encrypted_key(var_dir, settings):
    # given a CA whose keys are encrypted with a passphrase
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = "s3cret passphrase"
    # when
    signed = sign_pdf(render_pdf("保单", [Section(paragraphs=("内容",))]), reason="出单")
    # then
    assert verify_pdf(signed).valid


# --- Speed-ups that must not change the documents -------------------------------------------


def _rasterize(pdf: bytes, tmp_path: Path, name: str) -> Image.Image:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-singlefile", str(path), str(tmp_path / name)], check=True
    )
    return Image.open(tmp_path / f"{name}.png").convert("L")


def _one_flowable_pdf(flowable) -> bytes:
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=(80 * mm, 80 * mm), leftMargin=5 * mm, topMargin=5 * mm).build(
        [flowable]
    )
    return buffer.getvalue()


def test_qr_code_looks_exactly_like_reportlabs_widget(tmp_path):
    # given a verification URL drawn by reportlab's QR widget in a Drawing (the old way) and by ours
    url = "https://huibao.example/verify/HB-2025-000123456"
    size = 30 * mm
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    ours = QrFlowable(url, size)
    # when both are rasterised at 200 dpi
    before = _rasterize(_one_flowable_pdf(drawing), tmp_path, "widget")
    after = _rasterize(_one_flowable_pdf(ours), tmp_path, "flowable")
    # then they encode the same modules and every pixel is the same
    assert ours.modules == [[bool(m) for m in row] for row in widget.qr.modules]
    assert before.getextrema() == (0, 255)
    assert ImageChops.difference(before, after).getbbox() is None


def _signed_data(pdf: bytes):
    return PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[-1].signed_data


def test_template_signer_makes_the_cms_pyhanko_makes(var_dir):
    # given the cached platform signer and a document digest
    signer = pdf_module._signer(ca_directory().resolve())
    digest = hashlib.sha256(b"some document").digest()
    attrs = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
    # when the template path and pyHanko's own path sign it
    fast = asyncio.run(signer.async_sign(digest, "sha256", use_pades=True, signed_attr_settings=attrs))
    plain = asyncio.run(
        signers.SimpleSigner.async_sign(signer, digest, "sha256", use_pades=True, signed_attr_settings=attrs)
    )
    # then everything but the (randomised ECDSA) signature value is the same DER
    assert signer._template is not None
    fast_data, plain_data = fast["content"], plain["content"]
    fast_info, plain_info = fast_data["signer_infos"][0], plain_data["signer_infos"][0]
    for key in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
        assert fast_info[key].dump() == plain_info[key].dump(), key
    for key in ("version", "digest_algorithms", "encap_content_info"):
        assert fast_data[key].dump() == plain_data[key].dump(), key
    assert {c.dump() for c in fast_data["certificates"]} == {c.dump() for c in plain_data["certificates"]}
    assert fast_info["signed_attrs"][1]["values"][0].native == digest  # message_digest
    # and the signature verifies over the signed attributes with the signing certificate's key
    key = x509.load_der_x509_certificate(signer.signing_cert.dump()).public_key()
    signed_attrs = b"\x31" + fast_info["signed_attrs"].dump()[1:]
    key.verify(fast_info["signature"].native, signed_attrs, ec.ECDSA(hashes.SHA256()))


def test_each_signed_document_gets_its_own_digest(var_dir):
    # given two different documents signed one after the other (the second from the template)
    first = sign_pdf(render_pdf("保单", [Section(paragraphs=("一",))]), reason="出单")
    second = sign_pdf(render_pdf("保单", [Section(paragraphs=("二",))]), reason="出单")
    # then both are valid and their CMS differ in the digest
    assert verify_pdf(first).valid and verify_pdf(second).valid
    digests = [
        _signed_data(doc)["signer_infos"][0]["signed_attrs"][1]["values"][0].native for doc in (first, second)
    ]
    assert digests[0] != digests[1]


def test_requests_the_template_cannot_serve_go_to_pyhanko(var_dir):
    # given a request for a non-PAdES CMS (which carries a signing-time attribute)
    signer = pdf_module._signer(ca_directory().resolve())
    attrs = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
    digest = hashlib.sha256(b"x").digest()
    # when
    content = asyncio.run(signer.async_sign(digest, "sha256", use_pades=False, signed_attr_settings=attrs))
    # then pyHanko built it, with the attribute the template does not have
    kinds = {attr["type"].native for attr in content["content"]["signer_infos"][0]["signed_attrs"]}
    assert "signing_time" in kinds
