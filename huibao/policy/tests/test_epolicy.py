"""The e-policy: a signed Chinese PDF of the schedule with the verification link and QR code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.core.models import AuditEntry
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.pdf import Section, render_pdf, verify_pdf
from huibao.policy import documents, tasks
from huibao.policy.tests import factories as f
from huibao.policy.tests.pdftext import fill_ops, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy():
    version = f.product_version(insurer_code="zhongan")
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(100))])
    app = f.application(
        [(version, person, 500_000, "1000.00", {"term": "1y"})], loading_percent=30, exclusions=["甲状腺结节"]
    )
    return f.issue(app)[0]


def test_epolicy_is_signed_by_the_platform_and_shows_the_schedule(policy) -> None:
    # when
    document = documents.render_epolicy(policy)
    # then: the signature validates against the platform CA
    check = verify_pdf(document.pdf)
    assert check.valid and check.trusted and check.intact, check.problems
    assert document.kind == SignedDocumentKind.EPOLICY and document.reference == policy.number
    policy.refresh_from_db()
    assert policy.epolicy_id == document.pk and policy.epolicy_sha256 == document.sha256
    # and it shows the schedule, with ID numbers masked
    text = text_of(document.pdf)
    url = f"https://huibao.example/policy/verify/{policy.verification_code}/"
    assert url == documents.verification_url(policy)
    app = policy.application
    for shown in (
        url,
        policy.number,
        "汇保安心重疾险",
        f.INSURED_NAME,
        "王大宝",
        "重大疾病保险金",
        "¥500,000.00",
        "¥1,300.00",
        "甲状腺结节",
        "投保前已患疾病不赔。",
        "95500",
        policy.verification_code,
    ):
        assert shown in text, shown
    assert app.applicant_id_number not in text
    assert app.applicant_id_number[:3] + "*" * 11 + app.applicant_id_number[-4:] in text


def test_the_qr_code_encodes_the_verification_url(policy) -> None:
    document = documents.render_epolicy(policy)
    reference = render_pdf("x", [Section(qr_url=documents.verification_url(policy))])
    qr, drawn = fill_ops(reference), fill_ops(document.pdf)
    assert len(qr) > 50
    start = drawn.index(qr[0])
    assert drawn[start : start + len(qr)] == qr


def test_rendering_is_idempotent_and_audited_once(policy) -> None:
    first = documents.render_epolicy(policy)
    again = tasks.render_epolicy_task.call(policy.pk)
    assert again == str(first.public_id)
    assert SignedDocument.objects.filter(kind=SignedDocumentKind.EPOLICY).count() == 1
    assert AuditEntry.objects.filter(action="policy.epolicy_rendered", object_id=policy.number).count() == 1


def test_a_changed_byte_breaks_the_signature(policy) -> None:
    pdf = documents.render_epolicy(policy).pdf
    at = pdf.index(b"ReportLab")
    tampered = pdf[:at] + b"X" + pdf[at + 1 :]
    assert not verify_pdf(tampered).valid


def test_legal_beneficiaries_and_whole_life_are_printed() -> None:
    version = f.product_version(term_options=[{"code": "life", "label": "保终身", "to_age": 105}])
    (policy,) = f.issue(f.application([(version, f.Person(), 500_000, "100.00", {"term": "life"})]))
    text = text_of(documents.epolicy_pdf(policy))
    assert "法定继承人（法定）" in text and "终身" in text
