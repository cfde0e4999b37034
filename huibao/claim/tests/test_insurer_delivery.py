"""Connector mode: complete materials send the claim with its materials and the pre-review to the
insurer, durably (retries with back-off, give up, sent again by a chase); the insurer's signed
notices (received; bad signature, duplicate, stale); the settings refuse bad input; the daily
overdue flag (time-machine); the chase."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from huibao.account.models import User
from huibao.claim import insurer
from huibao.claim.insurer_models import (
    ClaimChase,
    ClaimOverdue,
    InsurerClaimDelivery,
    InsurerClaimNotice,
)
from huibao.claim.insurer_states import ClaimDeliveryStatus as D
from huibao.claim.insurer_tasks import on_claim_status_changed, overdue_job
from huibao.claim.lifecycle import claim_status_changed
from huibao.claim.models import ClaimStatusChange, InsurerClaimSettings
from huibao.claim.services import withdraw_claim
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.factories import in_force, medical_policy
from huibao.claim.tests.insurer_factories import (
    at,
    complete_claim,
    connector_mode,
    notice_of,
    signed_post,
    staff,
)
from huibao.core.errors import Conflict, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.jobs.registry import JobContext, get_job
from huibao.notification.models import OutboxMessage
from huibao.policy.tests.factories import customer
from huibao.sandbox import insurer_claims

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HUIBAO_INSURER_CLAIM_SANDBOX_OUTCOME = "approve"  # not drawn from the claim number
    insurer_claims.CLAIM_FAULTS.force(0)
    yield
    insurer_claims.CLAIM_FAULTS.force(0)


@pytest.fixture
def owner():
    return customer()


@pytest.fixture
def policy(owner):
    return in_force(medical_policy(owner))


@pytest.fixture
def claim(owner, policy):
    connector_mode(policy)
    with at(policy, 130):
        return complete_claim(owner, policy)


def _adjuster() -> User:
    return User.objects.create_user(username="adj", password="x-unused-123", kind="staff", is_staff=True)


def time_shift(**delta):
    return time_machine.travel(timezone.now() + datetime.timedelta(**delta), tick=False)


def time_shift_to(moment):
    return time_machine.travel(moment, tick=False)


def _delivery(claim) -> InsurerClaimDelivery:
    return InsurerClaimDelivery.objects.get(claim=claim)


def test_the_listener_is_registered() -> None:
    assert on_claim_status_changed in claim_status_changed._listeners
    assert get_job("claim.insurer_overdue") is not None


def test_complete_materials_send_the_claim_materials_and_pre_review(policy, claim) -> None:
    # given: materials complete on a connector-mode insurer
    delivery = _delivery(claim)
    assert delivery.status == D.PENDING and delivery.payer == "insurer"
    assert claim.status == ClaimStatus.MATERIALS_COMPLETE
    # when
    with at(policy, 130, 1):
        status = insurer.deliver_claim(delivery.pk)
    # then: sent, the claim is with the insurer, the customer reads 已转保险公司审核
    assert status == D.SENT
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert ClaimStatusChange.objects.filter(claim=claim).order_by("-id").first().line == "已转保险公司审核"
    received = insurer_claims.received_claim(claim.number)
    assert received["insurer_pays"] is True and received["payee"]["account"] == claim.payee_account
    assert sorted(m["kind"] for m in received["materials"]) == ["id_card", "invoice"]
    assert all(
        len(m["sha256"]) == 64 and "/claims/insurer/material/" in m["url"] for m in received["materials"]
    )
    pre = received["pre_review"]
    assert pre["checklist_complete"] is True and pre["missing"] == []
    assert [b["coverage_code"] for b in pre["benefits"]] == ["general_medical"]
    assert Decimal(pre["payable_total"]) == Decimal("8600.00")
    assert [n.kind for n in insurer_claims.owed_notices(claim.number)] == ["received", "decision", "paid"]


def test_a_back_office_insurer_gets_no_delivery(owner, policy) -> None:
    # given: no setting (the default is the back office)
    with at(policy, 130):
        # when
        claim = complete_claim(owner, policy)
    # then
    assert not InsurerClaimDelivery.objects.filter(claim=claim).exists()
    assert claim.status == ClaimStatus.UNDER_REVIEW  # in the adjusters' queue (the triage put it there)


def test_a_failed_send_is_retried_with_back_off_then_sent(policy, claim) -> None:
    # given: the insurer times out twice
    insurer_claims.CLAIM_FAULTS.force(2)
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        # when
        first = insurer.deliver_claim(delivery.pk)
        # then: failed, due again in a minute; nothing is sent before then
        delivery.refresh_from_db()
        assert first == D.FAILED and delivery.attempts == 1 and "timeout" in delivery.last_error
        assert delivery.next_attempt_at == timezone.now() + datetime.timedelta(minutes=1)
        assert insurer.deliver_claim(delivery.pk) == D.FAILED
        delivery.refresh_from_db()
        assert delivery.attempts == 1
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.MATERIALS_COMPLETE
    with at(policy, 130, 1), time_shift(minutes=1):
        assert insurer.due_claim_deliveries(timezone.now()) == [delivery.pk]
        assert insurer.deliver_claim(delivery.pk) == D.FAILED
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == timezone.now() + datetime.timedelta(minutes=2)
    with at(policy, 130, 1), time_shift(minutes=3):
        assert insurer.deliver_claim(delivery.pk) == D.SENT
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.last_error == "" and delivery.insurer_ref.startswith("SBL")
    assert (
        AuditEntry.objects.filter(action="claim.insurer_delivery_failed", object_id=claim.number).count() == 2
    )


def test_a_delivery_gives_up_after_its_attempts_and_a_chase_sends_it(settings, client, policy, claim) -> None:
    # given: two attempts allowed, the insurer down
    settings.HUIBAO_CLAIM_DELIVERY_MAX_ATTEMPTS = 2
    insurer_claims.CLAIM_FAULTS.force(2)
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
    with at(policy, 130, 2):
        assert insurer.deliver_claim(delivery.pk) == D.GAVE_UP
        assert insurer.deliver_claim(delivery.pk) == D.GAVE_UP  # not due any more
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is None and delivery.attempts == 2
    # when: a claims adjuster chases it
    user = _adjuster()
    with at(policy, 131):
        row = insurer.chase(claim.public_id, actor=user, note="客户来电催促")
    # then: recorded, sent again, with the insurer now
    assert row.action == "resent" and row.note == "客户来电催促"
    delivery.refresh_from_db()
    claim.refresh_from_db()
    assert delivery.status == D.SENT and claim.status == ClaimStatus.UNDER_REVIEW
    assert AuditEntry.objects.filter(action="claim.chased", object_id=claim.number).exists()


def test_the_received_notice_is_taken_once(policy, claim) -> None:
    # given: sent
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
        received = notice_of(claim.number, "received")
        # when: the insurer tells the platform (signed, through the endpoint)
        assert insurer_claims.deliver_notice(received.notify_id) is True
    # then
    delivery.refresh_from_db()
    assert delivery.status == D.RECEIVED and delivery.received_at is not None
    row = InsurerClaimNotice.objects.get(notify_id=received.notify_id)
    assert row.signature_ok and row.outcome == "applied" and row.delivery_id == delivery.pk


def test_a_duplicate_notice_is_acknowledged_and_changes_nothing(client, policy, claim) -> None:
    # given: the received notice taken once
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
        received = notice_of(claim.number, "received")
        insurer_claims.deliver_notice(received.notify_id)
        audits = AuditEntry.objects.count()
        # when: the same notice again (a retry after a lost answer)
        response = signed_post(client, json.loads(received.notify_body), now=timezone.now())
    # then
    assert response.status_code == 200 and response.content == b"success"
    assert InsurerClaimNotice.objects.filter(notify_id=received.notify_id).count() == 1
    assert AuditEntry.objects.count() == audits


def test_a_bad_signature_is_400_in_the_error_shape_and_changes_nothing(client, policy, claim) -> None:
    # given
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
        body = {
            "notify_id": "Cforged",
            "kind": "decision",
            "claim_number": claim.number,
            "ref": _delivery(claim).insurer_ref,
            "decision": "approve",
            "amount": "999999.00",
        }
        # when
        response = signed_post(client, body, now=timezone.now(), tamper=True)
    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_signature",
        "message": "claim notice signature does not verify",
        "errors": [],
    }
    claim.refresh_from_db()
    delivery.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and claim.decision_kind == ""
    assert delivery.status == D.SENT
    assert InsurerClaimNotice.objects.get(notify_id="Cforged").signature_ok is False


def test_a_stale_or_unknown_notice_is_refused(client, policy, claim) -> None:
    # given
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
        body = {"notify_id": "Cold", "kind": "received", "claim_number": claim.number, "ref": "x"}
        # when: signed four days ago (a replay)
        old = signed_post(client, body, now=timezone.now() - datetime.timedelta(days=4))
        # when: another insurer's reference
        wrong = signed_post(client, {**body, "notify_id": "Cwrong"}, now=timezone.now())
        unknown = signed_post(
            client, {**body, "notify_id": "Cnone", "claim_number": "LP000"}, now=timezone.now()
        )
    # then
    assert old.status_code == 400 and old.json()["code"] == "stale"
    assert wrong.status_code == 409 and wrong.json()["code"] == "ref_mismatch"
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_claim"
    delivery.refresh_from_db()
    assert delivery.status == D.SENT
    assert not InsurerClaimNotice.objects.filter(signature_ok=True).exists()


def test_a_withdrawn_claim_ends_its_delivery(owner, policy, claim) -> None:
    # given
    delivery = _delivery(claim)
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
        # when
        withdraw_claim(owner, claim.public_id, reason="已私了")
    # then
    delivery.refresh_from_db()
    assert delivery.status == D.WITHDRAWN
    with at(policy, 131):
        assert insurer.deliver_claim(delivery.pk) == D.WITHDRAWN


def test_settings_refuse_more_than_30_days_naming_the_field(policy) -> None:
    # when
    with pytest.raises(ValidationFailed) as exc:
        insurer.save_setting(policy.insurer, mode="connector", decision_days=45, payer="x", actor="test")
    # then
    assert {e.field for e in exc.value.errors} == {"decision_days", "payer"}
    assert "30" in exc.value.message
    assert not InsurerClaimSettings.objects.exists()


def test_overdue_claims_are_flagged_once_and_staff_told(client, policy, claim) -> None:
    # given: promised 15 days; a claims adjuster with an e-mail address
    staff(client, "claims_adjuster", email="claims@huibao.example")
    complete_at = claim.materials_complete_at
    # when: day 14
    with time_shift_to(complete_at + datetime.timedelta(days=14)):
        assert insurer.flag_overdue() == []
    # when: day 16 — the daily job
    with time_shift_to(complete_at + datetime.timedelta(days=16)):
        overdue_job(
            JobContext(
                job="claim.insurer_overdue",
                run_date=timezone.localdate(),
                cursor=None,
                _save=lambda v: None,
                _progress=lambda d, t: None,
            )
        )
        again = insurer.flag_overdue()
    # then: flagged once, due 15 days after complete materials, one message to staff
    flag = ClaimOverdue.objects.get(claim=claim)
    assert flag.due_at == complete_at + datetime.timedelta(days=15) and again == []
    messages = OutboxMessage.objects.filter(template="claim.overdue_staff")
    assert messages.count() == 1 and claim.number in messages.get().body


def test_a_chase_of_a_received_claim_queries_the_insurer(settings, policy, claim) -> None:
    # given: received, the decision 40 days away (a slow insurer)
    settings.HUIBAO_INSURER_CLAIM_SANDBOX_DELAY = 3600
    delivery = _delivery(claim)
    user = _adjuster()
    with at(policy, 130, 1):
        insurer.deliver_claim(delivery.pk)
        insurer_claims.deliver_notice(notice_of(claim.number, "received").notify_id)
    with at(policy, 135):
        decision = notice_of(claim.number, "decision")
        assert decision.next_attempt_at > timezone.now() - datetime.timedelta(days=5)
        # when
        row = insurer.chase(claim.public_id, actor=user)
        # then: asked; what the insurer owes is due now
        decision.refresh_from_db()
        assert row.action == "queried" and row.answer == "deciding"
        assert decision.next_attempt_at == timezone.now()
    assert ClaimChase.objects.filter(claim=claim).count() == 1


def test_a_claim_no_longer_waiting_cannot_be_chased(owner, policy, claim) -> None:
    # given
    user = _adjuster()
    with at(policy, 130, 1):
        withdraw_claim(owner, claim.public_id)
        # when
        with pytest.raises(Conflict) as exc:
            insurer.chase(claim.public_id, actor=user)
    # then
    assert exc.value.code == "not_waiting" and not ClaimChase.objects.exists()


def test_the_sandbox_draws_every_outcome_and_keeps_one_per_claim(settings) -> None:
    # given: no forced outcome
    settings.HUIBAO_INSURER_CLAIM_SANDBOX_OUTCOME = ""
    # when
    drawn = [insurer_claims._draw(f"LP20270101{n:08d}") for n in range(400)]
    # then: approve most, the others some, the same claim always the same
    share = {k: drawn.count(k) / len(drawn) for k in ("approve", "partial", "deny", "slow")}
    assert share["approve"] > 0.5 and all(0.02 < share[k] < 0.3 for k in ("partial", "deny", "slow"))
    assert insurer_claims._draw("LP2027010100000007") == drawn[7]


def test_a_delivery_of_a_claim_decided_meanwhile_sends_nothing(owner, policy, claim) -> None:
    # given: the claim withdrawn before the first attempt ran (the delivery row already there)
    delivery = _delivery(claim)
    InsurerClaimDelivery.objects.filter(pk=delivery.pk).update(status=D.PENDING)
    from huibao.claim.models import Claim

    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.DENIED)
    # when
    with at(policy, 130, 1):
        status = insurer.deliver_claim(delivery.pk)
        due = insurer.due_claim_deliveries(timezone.now())
    # then: not sent, and not due any more
    assert status == D.PENDING and due == []
    assert not insurer_claims.owed_notices(claim.number)
