"""Public verification of a policy, the three ways a holder or a third party checks it: the QR
link of the e-policy, the policy number with its verification code, and an upload of the PDF —
each on a phone and on a desktop. The page sends no referrer to other sites; the two forms post
to the page itself, so the browser's `Origin` must stay readable for the CSRF check (with
`Referrer-Policy: no-referrer` Chromium sends `Origin: null` and the post was refused)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from huibao.esign import pdf
from huibao.policy import documents
from huibao.policy.tests import factories as pf

from .conftest import PHONE, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture
def issued(settings: Any, tmp_path: Path) -> Iterator[Any]:
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    policy = pf.simple_issued(pf.customer("13900006666"))
    if policy.epolicy_id is None:
        # Signing runs asyncio.run(); Playwright's loop owns this thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(documents.render_epolicy, policy).result()
    policy.refresh_from_db()
    yield policy
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()


@pytest.fixture(params=["phone", "desktop"])
def visitor(request: Any, browser: Any) -> Iterator[Page]:
    """A visitor with no session, on a phone or on a desktop; no page may break the CSP."""
    if request.param == "phone":
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
        )
    else:
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    yield context.new_page()
    context.close()
    assert violations == [], violations


def genuine(page: Page, number: str) -> None:
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_have_attribute("data-genuine", "true")
    expect(verdict).to_contain_text(number)


def test_the_qr_link_says_genuine(live_server: Any, visitor: Page, issued: Any) -> None:
    # the link printed in the e-policy's QR code, on this server
    link = documents.verification_url(issued)
    visitor.goto(link.replace(documents.public_base_url().rstrip("/"), live_server.url))
    genuine(visitor, issued.number)


def test_lookup_by_number_and_code(live_server: Any, visitor: Page, issued: Any) -> None:
    # given: the verification page, reached with no referrer
    visitor.goto(f"{live_server.url}/policy/verify/")
    # when: the number and the code printed on the e-policy are entered
    form = visitor.locator("form", has=visitor.locator("input[value=lookup]"))
    form.locator("input[name=number]").fill(issued.number)
    form.locator("input[name=code]").fill(issued.verification_code)
    form.get_by_role("button", name="查验").click()
    # then: the verdict, not a CSRF refusal
    genuine(visitor, issued.number)
    assert "403" not in visitor.title() and "CSRF verification failed" not in visitor.content()


def test_pdf_upload_checks_the_signature_and_the_file(
    live_server: Any, visitor: Page, issued: Any, tmp_path: Path
) -> None:
    # given: the customer's e-policy file
    path = tmp_path / "epolicy.pdf"
    path.write_bytes(issued.epolicy.pdf)
    visitor.goto(f"{live_server.url}/policy/verify/")
    # when: it is uploaded
    form = visitor.locator("form", has=visitor.locator("input[value=upload]"))
    form.locator("input[type=file]").set_input_files(str(path))
    form.get_by_role("button", name="上传并核验").click()
    # then: signed by the platform, covering the whole file, and matching the issued policy
    result = visitor.get_by_test_id("pdf-result")
    expect(result).to_be_visible()
    expect(visitor.get_by_test_id("pdf-signature")).to_have_attribute("data-valid", "true")
    expect(visitor.get_by_test_id("pdf-coverage")).to_have_attribute("data-whole", "true")
    expect(visitor.get_by_test_id("pdf-match")).to_have_attribute("data-match", "true")
    expect(result).to_contain_text(issued.number)


def test_the_root_certificate_downloads_with_how_to_trust_it(
    live_server: Any, visitor: Page, issued: Any
) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from huibao.esign.ca import ROOT_CN

    # given: the verification page
    visitor.goto(f"{live_server.url}/policy/verify/")
    box = visitor.get_by_test_id("root-certificate")
    # then: how to trust it in Adobe Reader, and a note for phones
    expect(box.get_by_test_id("root-steps-adobe").locator("li")).to_have_count(4)
    expect(box.get_by_test_id("root-steps-adobe")).to_contain_text("将此证书用作可信的根")
    expect(box.get_by_test_id("root-steps-phone")).to_contain_text("手机")
    # when: the certificate is downloaded
    with visitor.expect_download() as download:
        box.get_by_test_id("root-download").click()
    data = Path(download.value.path()).read_bytes()
    # then: its bytes parse as the platform's root (a CA), the fingerprint the page shows
    cert = x509.load_der_x509_certificate(data)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ROOT_CN
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert download.value.suggested_filename == "huibao-root-ca.cer"
    from cryptography.hazmat.primitives import hashes

    shown = box.get_by_test_id("root-fingerprint").inner_text().strip()
    assert shown == cert.fingerprint(hashes.SHA256()).hex(":").upper()
