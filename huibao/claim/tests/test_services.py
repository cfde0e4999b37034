"""The claim's use-cases: report with eligibility, materials checked by content, duplicates,
the checklist, submit and withdraw; bad input changes nothing."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.files.storage import default_storage

from huibao.claim import selectors
from huibao.claim.lifecycle import claim_status_changed
from huibao.claim.models import Claim, ClaimMaterial, ClaimStatusChange
from huibao.claim.services import remove_material, report_claim, submit_claim, upload_material, withdraw_claim
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.factories import (
    expire,
    in_force,
    jpeg,
    medical_policy,
    pdf,
    png,
    report_input,
    start_of,
)
from huibao.core.errors import Conflict, NotFound, ValidationFailed
from huibao.notification.models import OutboxMessage
from huibao.policy.tests.factories import customer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _at(policy, days: int):
    return time_machine.travel(
        datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(days=days),
        tick=False,
    )


def _fields(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e.field: e.code for e in exc.value.errors}


@pytest.fixture
def owner():
    return customer()


@pytest.fixture
def policy(owner):
    return in_force(medical_policy(owner))


def test_report_after_waiting_period_makes_the_claim_its_timeline_and_a_notice(owner, policy):
    # given
    seen = []
    claim_status_changed.register(seen.append)
    try:
        with _at(policy, 130):
            # when
            claim = report_claim(owner, report_input(policy))
    finally:
        claim_status_changed.unregister(seen.append)
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REPORTED
    assert claim.number.startswith("LP") and len(claim.number) == 18
    assert claim.coverage_codes == ["general_medical"]
    assert claim.required_materials == ["id_card", "invoice"]
    assert claim.amount_claimed == Decimal("8600.00")
    assert claim.insurer_id == policy.insurer_id
    assert claim.payee_account_last4 == "5679"
    steps = list(ClaimStatusChange.objects.filter(claim=claim))
    assert [(s.from_status, s.to_status) for s in steps] == [("", "reported")]
    assert OutboxMessage.objects.filter(reference=claim.number).exists()
    assert seen == []  # the report is no transition


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"amount_claimed": Decimal("0")}, "amount_claimed", "amount_not_positive"),
        ({"amount_claimed": Decimal("-5")}, "amount_claimed", "amount_not_positive"),
        ({"amount_claimed": "abc"}, "amount_claimed", "amount_invalid"),
        ({"claim_type": "phone_screen"}, "claim_type", "claim_type_not_covered"),
        ({"region_code": "31"}, "region_code", "region_invalid"),
        ({"payee_account": "6222020200112345671"}, "payee_account", "card_luhn"),
        ({"cause_code": "pre_existing"}, "cause_code", "excluded_cause"),
    ],
)
def test_bad_report_is_refused_naming_the_field_and_saves_nothing(owner, policy, overrides, field, code):
    # given
    # when
    with _at(policy, 130), pytest.raises(ValidationFailed) as exc:
        report_claim(owner, report_input(policy, **overrides))
    # then
    assert _fields(exc)[field] == code
    assert Claim.objects.count() == 0 and ClaimStatusChange.objects.count() == 0


def test_incident_in_the_waiting_period_is_refused_with_the_day_it_ends(owner, policy):
    # given: 90 days of waiting; the incident on day 30
    day_30 = start_of(policy) + datetime.timedelta(days=30)
    # when
    with _at(policy, 40), pytest.raises(ValidationFailed) as exc:
        report_claim(owner, report_input(policy, incident_date=day_30))
    # then
    assert _fields(exc) == {"incident_date": "in_waiting_period"}
    assert "90天" in exc.value.errors[0].message
    assert not Claim.objects.exists()


def test_incident_after_expiry_is_refused_on_an_expired_policy(owner, policy):
    # given
    with _at(policy, 400):
        expire(policy)
        # when
        with pytest.raises(ValidationFailed) as exc:
            report_claim(
                owner, report_input(policy, incident_date=start_of(policy) + datetime.timedelta(days=380))
            )
    # then
    assert _fields(exc) == {"incident_date": "policy_not_in_force"}
    assert "已满期" in exc.value.errors[0].message
    assert not Claim.objects.exists()


def test_incident_while_in_force_is_claimable_after_expiry(owner, policy):
    # given
    with _at(policy, 400):
        expire(policy)
        # when
        claim = report_claim(
            owner, report_input(policy, incident_date=start_of(policy) + datetime.timedelta(days=200))
        )
    # then
    assert claim.status == ClaimStatus.REPORTED


def test_someone_elses_policy_is_not_found(policy):
    with _at(policy, 130), pytest.raises(NotFound):
        report_claim(customer(), report_input(policy))
    assert not Claim.objects.exists()


def test_a_retried_report_makes_no_second_claim(owner, policy):
    # given
    with _at(policy, 130):
        first = report_claim(owner, report_input(policy))
        # when
        with pytest.raises(Conflict) as exc:
            report_claim(owner, report_input(policy))
    # then
    assert first.number in exc.value.message
    assert Claim.objects.count() == 1


@pytest.fixture
def claim(owner, policy):
    with _at(policy, 130):
        return report_claim(owner, report_input(policy))


def test_upload_checks_content_stores_the_file_and_completes_the_checklist(owner, claim):
    # given
    assert selectors.checklist(claim).missing == ("id_card", "invoice")
    # when
    first = upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
    second = upload_material(
        owner, claim.public_id, kind="invoice", file=io.BytesIO(pdf()), invoice_number="FP20261203001"
    )
    # then
    assert (first.content_type, second.content_type) == ("image/jpeg", "application/pdf")
    assert default_storage.exists(first.file.name) and first.file.name.endswith(".jpg")
    assert len(first.sha256) == 64 and first.size == len(jpeg())
    assert first.duplicate_of is None and second.duplicate_of is None
    assert selectors.checklist(claim).complete


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is a text file pretending to be a photo", "file_type_invalid"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "file_type_invalid"),  # a JPEG signature, no image
        (b"%PDF-1.4\nnot really", "file_type_invalid"),
        (b"", "file_empty"),
    ],
)
def test_a_file_that_is_not_an_image_or_pdf_is_refused_whatever_its_name(owner, claim, data, code):
    # given
    upload = io.BytesIO(data)
    upload.name = "invoice.jpg"
    # when
    with pytest.raises(ValidationFailed) as exc:
        upload_material(owner, claim.public_id, kind="invoice", file=upload)
    # then
    assert _fields(exc) == {"file": code}
    assert not ClaimMaterial.objects.exists()


def test_a_file_over_the_limit_is_refused(owner, claim, settings):
    # given
    settings.HUIBAO_CLAIM_MATERIAL_MAX_BYTES = 1024
    # when
    with pytest.raises(ValidationFailed) as exc:
        upload_material(owner, claim.public_id, kind="photo", file=io.BytesIO(jpeg(size=(400, 400))))
    # then
    assert _fields(exc) == {"file": "file_too_large"}
    assert not ClaimMaterial.objects.exists()


def test_the_same_invoice_on_another_claim_is_flagged(owner, policy, claim):
    # given: an invoice on the first claim, and a second claim of another type
    original = upload_material(
        owner, claim.public_id, kind="invoice", file=io.BytesIO(png("red")), invoice_number="FP001234"
    )
    with _at(policy, 131):
        other = report_claim(owner, report_input(policy, claim_type="death"))
    # when: another file with the same invoice number, and the very same file
    by_number = upload_material(
        owner, other.public_id, kind="id_card", file=io.BytesIO(png("green")), invoice_number="FP001234"
    )
    by_content = upload_material(
        owner, other.public_id, kind="death_certificate", file=io.BytesIO(png("red"))
    )
    # then
    assert (by_number.duplicate_of_id, by_number.duplicate_reason) == (original.pk, "invoice")
    assert (by_content.duplicate_of_id, by_content.duplicate_reason) == (original.pk, "sha256")
    again = upload_material(owner, other.public_id, kind="photo", file=io.BytesIO(png("green")))
    assert again.duplicate_of is None  # the same claim's own copy is no duplicate


def test_submit_refuses_an_incomplete_checklist_then_moves_to_materials_complete(owner, claim):
    # given
    upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
    # when
    with pytest.raises(ValidationFailed) as exc:
        submit_claim(owner, claim.public_id)
    # then
    assert _fields(exc) == {"materials": "materials_missing"} and "发票" in exc.value.message
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REPORTED
    # when
    upload_material(owner, claim.public_id, kind="invoice", file=io.BytesIO(pdf()))
    seen = []
    claim_status_changed.register(seen.append)
    try:
        submitted = submit_claim(owner, claim.public_id)
    finally:
        claim_status_changed.unregister(seen.append)
    # then
    # (8,600 yuan is over the fast-track limit: the triage queues it for an adjuster at once)
    assert submitted.status == ClaimStatus.UNDER_REVIEW and submitted.materials_complete_at is not None
    assert [(e.from_status, e.to_status) for e in seen] == [
        ("reported", "materials_complete"),
        ("materials_complete", "under_review"),
    ]
    lines = list(ClaimStatusChange.objects.filter(claim=claim).order_by("id").values_list("line", flat=True))
    assert lines[-2:] == ["材料已齐全，等待审核", "理赔审核中"]
    assert OutboxMessage.objects.filter(reference=claim.number, template="claim.progress").exists()


def test_materials_can_be_removed_before_review_only(owner, claim, django_capture_on_commit_callbacks):
    # given
    material = upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
    name = material.file.name
    # when
    with django_capture_on_commit_callbacks(execute=True):
        remove_material(owner, material.public_id)
    # then
    assert not ClaimMaterial.objects.exists() and not default_storage.exists(name)
    # given: submitted
    upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
    kept = upload_material(owner, claim.public_id, kind="invoice", file=io.BytesIO(pdf()))
    submit_claim(owner, claim.public_id)
    # when / then
    with pytest.raises(Conflict):
        remove_material(owner, kept.public_id)
    assert ClaimMaterial.objects.count() == 2
    with pytest.raises(Conflict):
        upload_material(owner, claim.public_id, kind="photo", file=io.BytesIO(jpeg()))


def test_withdraw_closes_an_open_claim_once(owner, claim):
    # when
    withdrawn = withdraw_claim(owner, claim.public_id, reason="已自行解决")
    # then
    assert withdrawn.status == ClaimStatus.WITHDRAWN
    assert ClaimStatusChange.objects.filter(claim=claim, to_status="withdrawn", note="已自行解决").exists()
    with pytest.raises(Conflict):
        withdraw_claim(owner, claim.public_id)


def test_another_customer_cannot_touch_the_claim(claim):
    stranger = customer()
    with pytest.raises(NotFound):
        upload_material(stranger, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
    with pytest.raises(NotFound):
        withdraw_claim(stranger, claim.public_id)
