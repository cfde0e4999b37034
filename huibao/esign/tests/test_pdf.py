from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from huibao.esign.bench import sample_policy, signature_png
from huibao.esign.ca import SIGNING_CN
from huibao.esign.pdf import Section, render_pdf, sign_pdf, verify_pdf


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


def test_signature_from_another_ca_is_intact_but_not_trusted(var_dir, settings, tmp_path):
    # given a PDF signed by a different CA (another installation)
    signed = sign_pdf(render_pdf("保单", [Section(paragraphs=("内容",))]), reason="出单")
    from huibao.esign import pdf as pdf_module

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
