"""A reinstatement whose health answers need underwriting becomes a work item of the staff
servicing queue (复效人工核保): referred once, shown with its answers to underwriters only,
approved (the customer then pays without answering again) or declined with a reason (online
reinstatement refused for that lapse), the customer told each time — on the pages and the API;
bad decisions refused with nothing changed."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse

from huibao.account.models import User, UserKind
from huibao.billing import services as billing
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.payment.models import Payment
from huibao.policy import premiums, reinstatement
from huibao.policy.lifecycle import lock_policy, transition
from huibao.policy.models import Policy, ReinstatementReferral
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import factories as f
from huibao.policy.tests.test_premiums import (
    api,
    at,
    gateway,  # noqa: F401  (autouse: the sandbox gateway)
    lapse,
    messages,
    monthly_policy,
    pay_at_gateway,
)

pytestmark = pytest.mark.django_db

YES = {"hospital": True, "cancer": False}


def _referred(client: Client | None = None) -> tuple[Policy, datetime.date, ReinstatementReferral]:
    """A lapsed monthly policy whose customer answered "yes" to a health question."""
    policy = monthly_policy()
    on = lapse(policy)
    with at(on), pytest.raises(Conflict) as refused:
        premiums.request_reinstatement(policy, YES, user=policy.customer)
    assert refused.value.code == "needs_underwriting"
    return policy, on, ReinstatementReferral.objects.get(policy=policy)


def _underwriter(username: str = "uw1") -> Client:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name="underwriter"))
    return f.staff_login(Client(), User.objects.get(pk=user.pk))


def test_a_yes_refers_the_reinstatement_once_and_tells_the_customer() -> None:
    # given / when: a lapsed policy's customer answers "yes", then asks again
    policy, on, referral = _referred()
    with at(on), pytest.raises(Conflict) as again:
        premiums.request_reinstatement(policy, YES, user=policy.customer)

    # then: one referral of this lapse, waiting, with the amount owed and the answers encrypted
    assert again.value.code == "referral_pending"
    assert ReinstatementReferral.objects.filter(policy=policy).count() == 1
    assert referral.status == "referred" and referral.flagged == 1 and str(referral.amount) == "200.00"
    assert referral.lapsed_on == on and reinstatement.answers_of(referral) == YES
    with connection.cursor() as cursor:
        table = ReinstatementReferral._meta.db_table
        cursor.execute(f"SELECT answers FROM {table} WHERE id = %s", [referral.pk])
        raw = cursor.fetchone()[0]
    assert "hospital" not in raw and "true" not in raw  # encrypted at rest
    # the customer told once; nothing paid; the audit keeps how many, never which
    assert len(messages(policy, "policy.reinstatement_referred")) == 1
    assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()
    entry = AuditEntry.objects.get(action="policy.reinstatement_referred", object_id=policy.number)
    assert entry.after["flagged_answers"] == 1 and "hospital" not in json.dumps(entry.after)


def test_the_underwriter_sees_the_work_item_and_approves_it_from_the_servicing_queue() -> None:
    # given: a referred reinstatement and an underwriter (the role holds the decision)
    policy, on, referral = _referred()
    uw = _underwriter()

    # when: the underwriter opens the servicing queue
    page = uw.get("/policy/staff/servicing/").content.decode()

    # then: the work item with the policy, the amount and the answers
    assert 'data-testid="queue-reinstatements"' in page and 'data-testid="reinstatement-row"' in page
    assert policy.number in page and "200.00" in page and "过去两年内是否住院治疗？" in page

    # when: approved
    response = uw.post(reverse("policy:staff_reinstatement_decide", args=[referral.public_id, "approve"]))

    # then: approved, audited, the customer told with the link to pay; the queue is empty again
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == "approved" and referral.decided_by is not None
    assert AuditEntry.objects.filter(action="policy.reinstatement_approved", object_id=policy.number).exists()
    [told] = messages(policy, "policy.reinstatement_approved")
    assert f"/policy/mine/{policy.public_id}/premiums/reinstate/" in told.body and "¥200.00" in told.body
    assert 'data-testid="reinstatement-row"' not in uw.get("/policy/staff/servicing/").content.decode()

    # when: the customer comes back to reinstate
    customer = Client()
    customer.force_login(policy.customer)
    url = reverse("policy:reinstate", args=[policy.public_id])
    with at(on):
        reinstate_page = customer.get(url).content.decode()
        paid = customer.post(url, {})
    # then: no questions asked again, the checkout opens; paid, the policy is reinstated
    assert (
        'data-testid="referral-approved"' in reinstate_page and 'data-testid="question"' not in reinstate_page
    )
    payment = Payment.objects.get(reference_kind=billing.CHECKOUT_KIND)
    assert paid.status_code == 302 and paid["Location"] == payment.checkout_url
    with at(on):
        pay_at_gateway(policy, payment)
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.REINSTATED
    assert ReinstatementReferral.objects.get(pk=referral.pk).status == "closed"


def test_a_decline_needs_a_reason_and_ends_online_reinstatement_for_that_lapse() -> None:
    # given
    policy, on, referral = _referred()
    uw = _underwriter()
    decide = reverse("policy:staff_reinstatement_decide", args=[referral.public_id, "decline"])

    # when: declined without a reason
    blank = uw.post(decide, {"reason": "  "}, follow=True).content.decode()
    # then: refused, nothing changed, nobody told
    assert "请填写不通过的原因" in blank
    assert ReinstatementReferral.objects.get(pk=referral.pk).status == "referred"
    assert messages(policy, "policy.reinstatement_declined") == []

    # when: declined with a reason
    uw.post(decide, {"reason": "近两年住院治疗，风险超出承保标准"})

    # then: declined, the customer told why; the page and the API refuse online reinstatement
    referral.refresh_from_db()
    assert referral.status == "declined" and referral.decision_reason == "近两年住院治疗，风险超出承保标准"
    [told] = messages(policy, "policy.reinstatement_declined")
    assert "近两年住院治疗" in told.body
    customer = Client()
    customer.force_login(policy.customer)
    path = f"/policies/{policy.public_id}/reinstatement"
    with at(on):
        offer = api(customer, "get", path).json()
        again = api(customer, "post", path, {"health_answers": {"hospital": False, "cancer": False}})
        page = customer.get(reverse("policy:reinstate", args=[policy.public_id])).content.decode()
    assert offer["available"] is False and offer["referral_status"] == "declined"
    assert "近两年住院治疗" in offer["refusal"]
    assert again.status_code == 409 and again.json()["code"] == "reinstatement_declined"
    assert 'data-referral="declined"' in page
    assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()


def test_decisions_need_the_permission_four_eyes_and_a_waiting_referral_of_a_lapsed_policy() -> None:
    # given
    policy, _on, referral = _referred()
    clerk = f.staff("clerk", ["view_policy"])
    uw = f.staff("uw2", ["decide_reinstatement", "view_policy"])

    # when / then: no permission, no decision
    with pytest.raises(PermissionDenied):
        reinstatement.approve_referral(referral, actor=clerk)
    with pytest.raises(PermissionDenied):
        reinstatement.approve_referral(referral, actor=policy.customer)
    # four eyes: a referral a staff member made is not theirs to decide
    ReinstatementReferral.objects.filter(pk=referral.pk).update(requested_by=uw)
    with pytest.raises(PermissionDenied) as own:
        reinstatement.approve_referral(referral, actor=uw)
    assert own.value.code == "four_eyes"
    ReinstatementReferral.objects.filter(pk=referral.pk).update(requested_by=policy.customer)
    with pytest.raises(ValidationFailed) as blank:
        reinstatement.decline_referral(referral, actor=uw, reason="")
    assert [e.field for e in blank.value.errors] == ["reason"]
    assert ReinstatementReferral.objects.get(pk=referral.pk).status == "referred"

    # when: the policy is no longer lapsed (terminated meanwhile)
    locked = lock_policy(policy.pk)
    transition(locked, PolicyStatus.TERMINATED, reason="termination", actor="test")
    with pytest.raises(Conflict) as moot:
        reinstatement.approve_referral(referral, actor=uw)
    # then: refused, unchanged, nobody told
    assert moot.value.code == "policy_not_lapsed"
    assert ReinstatementReferral.objects.get(pk=referral.pk).status == "referred"
    assert messages(policy, "policy.reinstatement_approved") == []


def test_a_referral_decided_twice_is_refused_the_second_time() -> None:
    policy, _on, referral = _referred()
    uw = f.staff("uw3", ["decide_reinstatement"])
    reinstatement.approve_referral(referral, actor=uw)
    with pytest.raises(Conflict) as twice:
        reinstatement.decline_referral(referral, actor=uw, reason="改主意")
    assert twice.value.code == "referral_decided"
    assert ReinstatementReferral.objects.get(pk=referral.pk).status == "approved"
    assert len(messages(policy, "policy.reinstatement_approved")) == 1


def _post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_the_staff_api_lists_approves_and_declines_with_the_permission_only() -> None:
    # given: two referred reinstatements
    first, _on, one = _referred()
    second, _on2, two = _referred()
    uw = _underwriter("uw4")
    operator = f.staff_login(Client(), f.staff("op", ["view_policy"]))
    customer = Client()
    customer.force_login(first.customer)

    # when / then: the queue, with the answers, to underwriters only
    assert operator.get("/api/v1/staff/reinstatements").status_code == 403
    assert customer.get("/api/v1/staff/reinstatements").status_code == 403
    queue = uw.get("/api/v1/staff/reinstatements").json()
    assert {r["policy_number"] for r in queue} == {first.number, second.number}
    row = next(r for r in queue if r["id"] == str(one.public_id))
    assert (
        row["amount"] == "200.00" and {"question": "过去两年内是否住院治疗？", "yes": True} in row["answers"]
    )

    # when: a decline without a reason, then with one; an approval of the other
    status, body = _post(uw, f"/api/v1/staff/reinstatements/{one.public_id}/rejection", {"reason": ""})
    assert status == 422 and body["errors"][0]["field"] == "reason"
    status, body = _post(
        uw, f"/api/v1/staff/reinstatements/{one.public_id}/rejection", {"reason": "风险过高"}
    )
    assert status == 200 and body["status"] == "declined" and body["decision_reason"] == "风险过高"
    status, body = _post(uw, f"/api/v1/staff/reinstatements/{two.public_id}/approval", {})
    assert status == 200 and body["status"] == "approved"
    # a decided one again: 409; an unknown one: 404
    status, body = _post(uw, f"/api/v1/staff/reinstatements/{two.public_id}/approval", {})
    assert status == 409 and body["code"] == "referral_decided"
    missing = "00000000-0000-0000-0000-000000000000"
    assert _post(uw, f"/api/v1/staff/reinstatements/{missing}/approval", {})[0] == 404
    assert uw.get("/api/v1/staff/reinstatements").json() == []


def test_the_servicing_queue_shows_no_referral_to_staff_without_the_permission() -> None:
    # given: a referred reinstatement and an operator (sees the queue, may not decide)
    _policy, _on, referral = _referred()
    operator = f.staff_login(Client(), f.staff("op2", ["view_policy"]))

    # when: the operator opens the queue and tries to approve
    page = operator.get("/policy/staff/servicing/").content.decode()
    response = operator.post(
        reverse("policy:staff_reinstatement_decide", args=[referral.public_id, "approve"])
    )

    # then: no such section, the decision refused, nothing changed
    assert 'data-testid="queue-reinstatements"' not in page and 'data-testid="reinstatement-row"' not in page
    assert response.status_code == 403
    assert ReinstatementReferral.objects.get(pk=referral.pk).status == "referred"
