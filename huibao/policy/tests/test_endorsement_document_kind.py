"""The 批单 is a document kind of its own in esign: stored as one, recognised as one by the public
verification page and by `manage.py verify_document`, never taken for the e-policy."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from huibao.account.sms import reset_sms_backends
from huibao.esign.models import SignedDocumentKind
from huibao.policy import documents, endorsement_documents
from huibao.policy.models import Endorsement, Policy
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sms(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    yield
    reset_sms_backends()


def _applied_contact_change() -> tuple[Policy, Endorsement]:
    from huibao.policy import endorsements

    policy = ef.covered_policy()
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    return policy, ef.confirm(e, policy.customer)


def _upload(client: Client, data: bytes) -> tuple[int, str]:
    response = client.post(
        "/policy/verify/",
        {"action": "upload", "file": SimpleUploadedFile("x.pdf", data, content_type="application/pdf")},
    )
    return response.status_code, response.content.decode()


def test_the_endorsement_pdf_is_stored_as_an_endorsement_and_the_epolicy_as_an_epolicy() -> None:
    # given an applied change and its policy's e-policy
    policy, e = _applied_contact_change()
    epolicy = documents.render_epolicy(policy)

    # when the 批单 is rendered
    document = endorsement_documents.render_endorsement(e.pk)

    # then each has its own kind, filed under its own reference
    assert document is not None
    assert (document.kind, document.reference) == (SignedDocumentKind.ENDORSEMENT, e.number)
    assert document.get_kind_display() == "批单"
    assert epolicy.kind == SignedDocumentKind.EPOLICY


def test_the_verification_page_names_an_uploaded_endorsement_as_the_endorsement(client) -> None:
    # given a rendered 批单 and the policy's e-policy
    policy, e = _applied_contact_change()
    document = endorsement_documents.render_endorsement(e.pk)
    assert document is not None
    epolicy = documents.render_epolicy(policy)

    # when each is uploaded to the public verification page
    status, endorsement_html = _upload(client, document.pdf)
    _, epolicy_html = _upload(client, epolicy.pdf)
    _, tampered_html = _upload(client, document.pdf + b"\n% added")

    # then the 批单 is recognised as the 批单 of its policy, the e-policy as the e-policy
    assert status == 200
    assert 'data-kind="endorsement"' in endorsement_html and "批单文件核验结果" in endorsement_html
    assert f"文件与汇保签发的批单 {e.number} 完全一致" in endorsement_html
    assert policy.number in endorsement_html and 'data-match="true"' in endorsement_html
    assert 'data-kind="epolicy"' in epolicy_html and "文件与汇保签发的电子保单完全一致" in epolicy_html
    # and a copy with bytes added is neither
    assert 'data-match="false"' in tampered_html and e.number not in tampered_html


def test_verify_document_command_names_the_kind_and_fails_on_an_unknown_file(tmp_path) -> None:
    # given a rendered 批单
    policy, e = _applied_contact_change()
    document = endorsement_documents.render_endorsement(e.pk)
    assert document is not None
    good = tmp_path / "endorsement.pdf"
    good.write_bytes(document.pdf)
    bad = tmp_path / "other.pdf"
    bad.write_bytes(document.pdf + b"\n% added")

    # when the command checks each
    out = StringIO()
    call_command("verify_document", str(good), stdout=out)
    with pytest.raises(SystemExit) as exited:
        call_command("verify_document", str(bad), stdout=StringIO())

    # then the 批单 is named with its number and its policy; the other file fails
    assert f"批单 {e.number} of policy {policy.number}" in out.getvalue()
    assert "signature  valid" in out.getvalue()
    assert exited.value.code == 1
