"""The platform's root certificate, downloadable from the verification page: the bytes are the
root that signs every e-policy's chain, with the fingerprint and how to trust it shown."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from django.test import Client

from huibao.esign.ca import ROOT_CN, ensure_platform_ca

pytestmark = pytest.mark.django_db


def test_the_download_parses_as_the_root_that_issued_the_signing_certificate(client: Client) -> None:
    # given
    ca = ensure_platform_ca()
    # when
    response = client.get("/policy/verify/huibao-root-ca.cer")
    # then: a DER certificate, a CA, the issuer of the document-signing certificate
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-x509-ca-cert"
    assert 'filename="huibao-root-ca.cer"' in response["Content-Disposition"]
    cert = x509.load_der_x509_certificate(response.content)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ROOT_CN
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert == ca.root_cert
    ca.signing_cert.verify_directly_issued_by(cert)


def test_the_verification_page_links_it_with_its_fingerprint_and_the_steps(client: Client) -> None:
    ca = ensure_platform_ca()
    html = client.get("/policy/verify/").content.decode()
    assert 'href="/policy/verify/huibao-root-ca.cer"' in html
    assert ca.root_cert.fingerprint(hashes.SHA256()).hex(":").upper() in html
    assert "Adobe Acrobat Reader" in html and "将此证书用作可信的根" in html and "在手机上" in html
