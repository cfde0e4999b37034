"""Endorsement use-cases: every kind end to end, re-rating and the premium delta paid or
refunded, staff approval with four eyes, refusals with nothing changed, retries and
concurrency applied once, the policy's data at any date, and the signed 批单."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from huibao.account.errors import CodeInvalid
from huibao.account.sms import reset_sms_backends
from huibao.core.audit import AuditEntry
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.esign.pdf import verify_pdf
from huibao.notification.models import OutboxMessage
from huibao.payment.models import Payment, Refund
from huibao.policy import endorsement_documents, endorsements
from huibao.policy.models import Endorsement, Policy, PolicyBeneficiary, PolicyVersion
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.policy.tests.pdftext import text_of
from huibao.policy.tests.test_endorsement_rules import CHILD_ID, SPOUSE_ID, rid
from huibao.rating.services import clear_cache
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sms_and_gateway(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    clear_cache()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    yield
    reset_sms_backends()
    clear_cache()


def _request(policy: Policy, kind: str, changes: dict[str, Any], actor: Any = None) -> Endorsement:
    return endorsements.request_endorsement(policy, kind, changes, actor=actor or policy.customer)


def _state(policy: Policy) -> tuple[Any, ...]:
    """Everything an endorsement may change on a policy."""
    policy = Policy.objects.get(pk=policy.pk)
    holder = policy.parties.get(role="holder")
    insured = policy.parties.get(role="insured")
    return (
        policy.premium,
        policy.sum_insured,
        policy.plan_id,
        policy.beneficiary_mode,
        holder.phone,
        insured.name,
        insured.id_number,
        sorted((b.name, b.share_percent) for b in policy.beneficiaries.all()),
        PolicyVersion.objects.filter(policy=policy).count() > 1,
    )


def test_a_contact_change_is_confirmed_by_sms_and_applied_as_version_2_with_a_signed_pdf() -> None:
    policy = ef.covered_policy()
    user = policy.customer
    e = _request(
        policy, "contact", {"phone": "13700007777", "email": "li@example.cn", "address": "北京市朝阳区"}
    )
    assert e.number == f"{policy.number}-E01" and e.status == "requested" and e.premium_delta == 0
    endorsements.send_confirmation_code(e, actor=user)
    e.refresh_from_db()
    assert e.status == "awaiting_confirmation"
    done = endorsements.confirm_endorsement(e, ef.code_to(ef.HOLDER_PHONE), actor=user)
    assert done.status == "applied" and done.version == 2 and done.effective_at is not None
    holder = policy.parties.get(role="holder")
    assert (holder.phone, holder.email, holder.address) == ("13700007777", "li@example.cn", "北京市朝阳区")
    versions = list(PolicyVersion.objects.filter(policy=policy).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert json.loads(versions[0].snapshot)["holder"]["phone"] == ef.HOLDER_PHONE
    assert json.loads(versions[1].snapshot)["holder"]["phone"] == "13700007777"
    # audited without the new number in clear; the customer told at each step
    entry = AuditEntry.objects.get(action="policy.endorsement_applied", object_id=e.number)
    assert "13700007777" not in json.dumps(entry.after, ensure_ascii=False)
    templates = set(OutboxMessage.objects.filter(user=user).values_list("template", flat=True))
    assert {"policy.endorsement_requested", "policy.endorsement_applied"} <= templates
    applied = OutboxMessage.objects.filter(template="policy.endorsement_applied", channel="inbox").get()
    assert f"/policy/mine/{policy.public_id}/changes/{e.number}/" in applied.body
    # the 批单 is PAdES-signed by the platform and names the endorsement
    document = endorsement_documents.render_endorsement(e.pk)
    assert document is not None and verify_pdf(document.pdf).valid
    assert endorsement_documents.render_endorsement(e.pk).pk == document.pk  # once
    text = text_of(document.pdf)
    assert e.number in text and "137****7777" in text and "13700007777" not in text


def test_named_beneficiaries_replace_the_old_ones_and_back_to_legal_heirs() -> None:
    policy = ef.covered_policy()
    user = policy.customer
    e = _request(
        policy,
        "beneficiaries",
        {
            "mode": "named",
            "beneficiaries": [
                {
                    "name": "李小宝",
                    "id_number": CHILD_ID,
                    "relation": "child",
                    "share_percent": "60",
                    "order": 1,
                },
                {
                    "name": "王大伟",
                    "id_number": SPOUSE_ID,
                    "relation": "spouse",
                    "share_percent": "40",
                    "order": 1,
                },
            ],
        },
    )
    ef.confirm(e, user)
    rows = sorted((b.name, b.share_percent, b.order) for b in PolicyBeneficiary.objects.filter(policy=policy))
    assert rows == [("李小宝", Decimal("60.00"), 1), ("王大伟", Decimal("40.00"), 1)]
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):  # a new SMS
        second = _request(policy, "beneficiaries", {"mode": "legal"})
        assert second.number == f"{policy.number}-E02"
        ef.confirm(second, user)
    policy.refresh_from_db()
    assert policy.beneficiary_mode == "legal" and not policy.beneficiaries.exists()
    assert list(policy.versions.order_by("number").values_list("number", flat=True)) == [1, 2, 3]


def test_a_correction_changing_the_age_is_rerated_with_the_policys_own_version_and_pays_the_delta() -> None:
    policy = ef.covered_policy(
        pricing=ef.AGE_PRICING,
        quote_inputs={"birth_date": "1996-01-15", "start_date": "2026-01-01"},
        premium="560.00",
    )
    user = policy.customer
    older = rid("1986-01-15", 12)  # ten years older, still female
    e = _request(policy, "insured_correction", {"id_number": older})
    # 500,000 × 0.001 + 40 × 2 = 580 a year instead of 560: 20 for the time left of the year
    assert (e.old_premium, e.new_premium) == (Decimal("560.00"), Decimal("580.00"))
    assert e.quote_id is not None and e.quote.product_version_id == policy.product_version_id
    start = timezone.localtime(policy.effective_at).date()
    end = timezone.localtime(policy.expires_at).date()
    on = max(timezone.localdate(), start)
    expected = (Decimal(20) * (end - on).days / (end - start).days).quantize(Decimal("0.01"))
    assert e.premium_delta == expected > 0
    ef.confirm(e, user)
    e.refresh_from_db()
    assert e.status == "awaiting_payment" and e.payment_ref
    ef.pay_delta(e)
    e.refresh_from_db()
    assert e.status == "applied"
    policy.refresh_from_db()
    insured = policy.parties.get(role="insured")
    assert insured.id_number == older and insured.birth_date == datetime.date(1986, 1, 15)
    assert policy.premium == Decimal("580.00") and policy.quote_id == e.quote_id


def test_a_paid_notification_delivered_again_applies_the_change_once() -> None:
    policy = ef.covered_policy()
    e = _request(policy, "sum_insured", {"sum_insured": "600000"})
    assert e.new_premium == Decimal("600.00")  # the version's pricing: 0.1% of the sum insured
    ef.confirm(e, policy.customer)
    payment = ef.pay_delta(e)
    from huibao.payment import services as payment_services

    payment_services.payment_paid.announce("endorsement", payment)  # a duplicate announcement
    assert PolicyVersion.objects.filter(policy=policy).count() == 2
    assert AuditEntry.objects.filter(action="policy.endorsement_applied", object_id=e.number).count() == 1
    policy.refresh_from_db()
    assert policy.sum_insured == Decimal("600000") and policy.premium == Decimal("600.00")


def test_a_decrease_refunds_the_delta_through_the_checkout_payment() -> None:
    policy = ef.covered_policy()
    checkout = ef.checkout_payment(policy, "320.00")
    e = _request(policy, "sum_insured", {"sum_insured": "200000"})
    assert e.new_premium == Decimal("200.00") and e.premium_delta < 0
    ef.confirm(e, policy.customer)
    e.refresh_from_db()
    assert e.status == "applied" and e.refund_ref
    refund = Refund.objects.get(payment=checkout)
    assert refund.amount == -e.premium_delta and refund.status == "succeeded"
    checkout.refresh_from_db()
    assert checkout.refunded_amount == -e.premium_delta


def test_a_refund_above_what_was_paid_for_the_policy_is_refused_and_nothing_changes() -> None:
    # the policy's premium 320 was paid, but the checkout holds only 10.00 to refund from
    policy = ef.covered_policy()
    ef.checkout_payment(policy, "10.00")
    e = _request(policy, "sum_insured", {"sum_insured": "200000"})
    endorsements.send_confirmation_code(e, actor=policy.customer)
    before = _state(policy)
    with pytest.raises(Conflict) as refused:
        endorsements.confirm_endorsement(e, ef.code_to(), actor=policy.customer)
    assert refused.value.code == "refund_above_paid"
    assert _state(policy) == before and Refund.objects.count() == 0
    e.refresh_from_db()
    assert e.status == "awaiting_confirmation"


def test_the_refund_cap_is_what_the_customer_paid_for_the_policy() -> None:
    policy = ef.covered_policy()
    endorsements.current_version(policy)
    assert endorsements.paid_for_policy(policy) == Decimal("320.00")


def test_a_plan_change_is_rerated_on_the_other_plan() -> None:
    policy = ef.covered_policy()
    e = _request(policy, "plan", {"plan_code": "plus"})
    assert e.quote.plan.code == "plus" and e.new_premium == Decimal("500.00")
    ef.confirm(e, policy.customer)
    ef.pay_delta(e)
    policy.refresh_from_db()
    assert policy.plan.code == "plus" and policy.premium == Decimal("500.00")


def test_a_change_needing_approval_waits_for_staff_and_four_eyes_hold() -> None:
    servicing = {
        **ef.SERVICING,
        "endorsements": {**ef.SERVICING["endorsements"], "needs_approval": ["contact"]},
    }
    policy = ef.covered_policy(servicing=servicing)
    e = _request(policy, "contact", {"phone": "13700007777"})
    ef.confirm(e, policy.customer)
    e.refresh_from_db()
    assert e.status == "pending_approval"
    clerk = f.staff("clerk", [])
    with pytest.raises(PermissionDenied):
        endorsements.approve_endorsement(e, actor=clerk)
    approver = f.staff("approver", ["approve_endorsement"])
    Endorsement.objects.filter(pk=e.pk).update(requested_by=approver)  # staff requested it
    with pytest.raises(PermissionDenied) as same:
        endorsements.approve_endorsement(e, actor=approver)
    assert same.value.code == "four_eyes"
    Endorsement.objects.filter(pk=e.pk).update(requested_by=policy.customer)
    endorsements.approve_endorsement(e, actor=approver, reason="资料齐全")
    e.refresh_from_db()
    assert e.status == "applied" and e.decided_by == approver
    assert policy.parties.get(role="holder").phone == "13700007777"


def test_a_rejected_change_changes_nothing_and_tells_the_customer_why() -> None:
    servicing = {
        **ef.SERVICING,
        "endorsements": {**ef.SERVICING["endorsements"], "needs_approval": ["contact"]},
    }
    policy = ef.covered_policy(servicing=servicing)
    e = _request(policy, "contact", {"phone": "13700007777"})
    ef.confirm(e, policy.customer)
    approver = f.staff("approver", ["approve_endorsement"])
    before = _state(policy)
    with pytest.raises(ValidationFailed):
        endorsements.reject_endorsement(e, actor=approver, reason=" ")
    endorsements.reject_endorsement(e, actor=approver, reason="手机号非本人实名")
    e.refresh_from_db()
    assert e.status == "rejected" and e.decision_reason == "手机号非本人实名"
    assert _state(policy) == before
    message = OutboxMessage.objects.get(template="policy.endorsement_rejected", channel="inbox")
    assert "手机号非本人实名" in message.body


@pytest.mark.parametrize(
    "status", ["expired", "lapsed", "surrendered", "cancelled_cooling_off", "pending_start"]
)
def test_a_change_to_a_policy_not_in_cover_is_refused_with_nothing_written(status: str) -> None:
    policy = ef.covered_policy()
    Policy.objects.filter(pk=policy.pk).update(status=status)
    policy.refresh_from_db()
    before = _state(policy)
    with pytest.raises(Conflict) as refused:
        _request(policy, "contact", {"phone": "13700007777"})
    assert refused.value.code == "policy_not_covered" and "不能办理批改" in refused.value.message
    assert not Endorsement.objects.exists() and _state(policy) == before


def test_a_kind_the_product_does_not_allow_is_refused() -> None:
    policy = ef.covered_policy(servicing={"endorsements": {"allowed": ["contact"]}})
    with pytest.raises(ValidationFailed) as refused:
        _request(policy, "sum_insured", {"sum_insured": "600000"})
    assert refused.value.errors[0].field == "kind" and refused.value.errors[0].code == "not_allowed"
    assert not Endorsement.objects.exists()


def test_bad_input_is_refused_naming_the_field_with_nothing_written() -> None:
    policy = ef.covered_policy()
    with pytest.raises(ValidationFailed) as refused:
        _request(
            policy,
            "beneficiaries",
            {
                "mode": "named",
                "beneficiaries": [
                    {
                        "name": "李小宝",
                        "id_number": CHILD_ID,
                        "relation": "child",
                        "share_percent": "33.333",
                        "order": 1,
                    }
                ],
            },
        )
    assert {e.field for e in refused.value.errors} >= {"beneficiaries[0].share_percent"}
    assert not Endorsement.objects.exists() and not PolicyVersion.objects.exists()


def test_a_second_change_while_one_is_open_is_refused_and_a_withdrawn_one_frees_the_policy() -> None:
    policy = ef.covered_policy()
    first = _request(policy, "contact", {"phone": "13700007777"})
    with pytest.raises(Conflict) as refused:
        _request(policy, "beneficiaries", {"mode": "legal"})
    assert refused.value.code == "endorsement_open" and first.number in refused.value.message
    endorsements.withdraw_endorsement(first, actor=policy.customer)
    assert _request(policy, "beneficiaries", {"mode": "legal"}).sequence == 2


def test_the_database_holds_one_open_endorsement_per_policy() -> None:
    from django.db import IntegrityError, transaction

    policy = ef.covered_policy()
    first = _request(policy, "contact", {"phone": "13700007777"})
    with pytest.raises(IntegrityError), transaction.atomic():
        Endorsement.objects.create(
            number=first.number + "X",
            policy=policy,
            sequence=9,
            kind="contact",
            changes="{}",
            previous="{}",
            old_premium=0,
            new_premium=0,
            requested_at=timezone.now(),
            confirm_by=timezone.now(),
        )


def test_a_wrong_code_changes_nothing_and_a_confirmation_retried_is_applied_once() -> None:
    policy = ef.covered_policy()
    e = _request(policy, "contact", {"phone": "13700007777"})
    endorsements.send_confirmation_code(e, actor=policy.customer)
    code = ef.code_to()
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(CodeInvalid):
        endorsements.confirm_endorsement(e, wrong, actor=policy.customer)
    e.refresh_from_db()
    assert e.status == "awaiting_confirmation" and not PolicyVersion.objects.filter(number=2).exists()
    endorsements.confirm_endorsement(e, code, actor=policy.customer)
    again = endorsements.confirm_endorsement(e, code, actor=policy.customer)
    assert again.status == "applied"
    assert PolicyVersion.objects.filter(policy=policy).count() == 2


def test_the_policys_data_at_any_date() -> None:
    policy = ef.covered_policy()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=3)):
        e = _request(policy, "contact", {"phone": "13700007777"})
        ef.confirm(e, policy.customer)
    e.refresh_from_db()
    before = endorsements.policy_data_at(policy, e.effective_at - datetime.timedelta(seconds=1))
    after = endorsements.policy_data_at(policy, e.effective_at + datetime.timedelta(seconds=1))
    assert before is not None and after is not None
    assert (before["version"], before["holder"]["phone"]) == (1, ef.HOLDER_PHONE)
    assert (after["version"], after["holder"]["phone"]) == (2, "13700007777")
    assert endorsements.policy_data_at(policy, policy.issued_at - datetime.timedelta(days=1)) is None


def test_unconfirmed_changes_expire_after_the_deadline_once() -> None:
    policy = ef.covered_policy()
    e = _request(policy, "contact", {"phone": "13700007777"})
    today = timezone.localdate()
    assert endorsements.expire_unconfirmed(today) == 0
    later = today + datetime.timedelta(days=endorsements.CONFIRM_DAYS + 1)
    with time_machine.travel(later + datetime.timedelta(hours=12)):
        # a catch-up for a date before the deadline expires nothing
        assert (
            endorsements.expire_unconfirmed(today + datetime.timedelta(days=endorsements.CONFIRM_DAYS - 1))
            == 0
        )
        assert endorsements.expire_unconfirmed(later) == 1
        assert endorsements.expire_unconfirmed(later) == 0  # run again: nothing more
    e.refresh_from_db()
    assert e.status == "expired"


def test_a_premium_paid_for_a_change_withdrawn_meanwhile_is_refunded() -> None:
    policy = ef.covered_policy()
    e = _request(policy, "sum_insured", {"sum_insured": "600000"})
    ef.confirm(e, policy.customer)
    endorsements.withdraw_endorsement(e, actor=policy.customer)
    payment = ef.pay_delta(e)
    assert Payment.objects.get(pk=payment.pk).status == "refunded"
    assert PolicyVersion.objects.filter(policy=policy).count() == 1


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_requests_for_one_policy_record_exactly_one_endorsement() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    policy = ef.covered_policy()

    def ask(i: int) -> str:
        try:
            _request(Policy.objects.get(pk=policy.pk), "contact", {"phone": f"1370000{7000 + i}"})
            return "created"
        except Conflict as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(ask, range(10)))
    assert outcomes.count("created") == 1 and set(outcomes) == {"created", "endorsement_open"}
    assert Endorsement.objects.filter(policy=policy).count() == 1


def test_a_premium_paid_after_the_policy_left_cover_applies_nothing_and_goes_back() -> None:
    policy = ef.covered_policy()
    e = _request(policy, "sum_insured", {"sum_insured": "600000"})
    ef.confirm(e, policy.customer)
    Policy.objects.filter(pk=policy.pk).update(status="lapsed")
    before = _state(policy)
    payment = ef.pay_delta(e)
    e.refresh_from_db()
    assert e.status == "expired" and Payment.objects.get(pk=payment.pk).status == "refunded"
    assert _state(policy) == before


def test_the_daily_job_expires_unconfirmed_changes_for_a_past_date_and_a_rerun_skips() -> None:
    from huibao.jobs import services as jobs

    policy = ef.covered_policy()
    e = _request(policy, "contact", {"phone": "13700007777"})
    due = timezone.localdate() + datetime.timedelta(days=endorsements.CONFIRM_DAYS)
    with time_machine.travel(due + datetime.timedelta(days=5)):
        (outcome,) = jobs.run_daily(due, only=["policy.expire_endorsements"])  # a catch-up date
        assert (outcome.status, outcome.done) == ("succeeded", 1)
        (again,) = jobs.run_daily(due, only=["policy.expire_endorsements"])
        assert again.status == "skipped"
    e.refresh_from_db()
    assert e.status == "expired"


def test_a_product_confirming_as_it_signs_applications_needs_the_holders_handwritten_signature() -> None:
    from huibao.catalog.models import ProductVersion
    from huibao.esign.tests.ink import write

    servicing = {"endorsements": {**ef.SERVICING["endorsements"], "confirmation": "same_as_application"}}
    policy = ef.covered_policy(servicing=servicing)
    ProductVersion.objects.filter(pk=policy.product_version_id).update(
        application_rules={"signature": "handwritten"}
    )
    policy.refresh_from_db()
    assert endorsements.signature_required(policy)
    e = _request(policy, "contact", {"phone": "13700007777"})
    endorsements.send_confirmation_code(e, actor=policy.customer)
    code = ef.code_to()
    for ink, problem in ((None, "required"), (write("王小"), "")):  # none, or two characters for 王小明
        with pytest.raises(ValidationFailed) as refused:
            endorsements.confirm_endorsement(e, code, actor=policy.customer, signature=ink)
        assert refused.value.errors[0].field == "signature"
        assert not problem or refused.value.errors[0].code == problem
    e.refresh_from_db()
    assert e.status == "awaiting_confirmation"
    done = endorsements.confirm_endorsement(e, code, actor=policy.customer, signature=write(f.HOLDER_NAME))
    assert done.status == "applied" and done.signature_png
    document = endorsement_documents.render_endorsement(e.pk)
    assert document is not None and verify_pdf(document.pdf).valid and b"/Subtype /Image" in document.pdf


def test_a_premium_change_of_a_policy_paid_in_instalments_is_priced_on_its_schedule() -> None:
    from huibao.billing.models import PremiumSchedule

    # given a monthly policy (its re-plan: test_endorsement_instalments.py)
    policy = ef.covered_policy(quote_inputs={"term": "1y", "payment_mode": "monthly"})
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    # when its schedule cannot be re-planned (closed) a premium change is refused, nothing written
    PremiumSchedule.objects.filter(pk=schedule.pk).update(status="cancelled")
    with pytest.raises(Conflict) as refused:
        _request(policy, "sum_insured", {"sum_insured": "600000"})
    assert refused.value.code == "instalments_not_rerateable" and not Endorsement.objects.exists()
    # then with the schedule active it is priced on the schedule, and other changes are unaffected
    PremiumSchedule.objects.filter(pk=schedule.pk).update(status="active")
    e = _request(policy, "sum_insured", {"sum_insured": "600000"})
    assert e.new_premium == Decimal("600.00") and endorsements.replan_of(e) is not None
    endorsements.withdraw_endorsement(e, actor=policy.customer)
    assert _request(policy, "contact", {"phone": "13700007777"}).status == "requested"
    assert endorsements.paid_for_policy(policy) == Decimal("26.67")  # the first instalment paid
