"""NPS rules, recovery of unfinished issuance work, and the policy status sweep."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from huibao.application.services.pay import pay
from huibao.application.states import ApplicationStatus
from huibao.core.errors import Conflict, NotFound, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.esign.pdf import verify_pdf
from huibao.policy import services, tasks
from huibao.policy.models import InsurerDelivery, NpsResponse, Policy
from huibao.policy.states import DeliveryStatus, PolicyStatus
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


# --- NPS ------------------------------------------------------------------------------------------


@pytest.fixture
def owner():
    return f.customer()


@pytest.fixture
def issued_app(owner):
    # the NPS is keyed by the application's reference its policies hold (its public id)
    return f.simple_issued(owner).application.public_id


def test_nps_is_recorded_once_for_the_customers_issued_application(owner, issued_app) -> None:
    response = services.record_nps(issued_app, score=10, comment="  很好  ", user=owner)
    assert (response.score, response.comment, response.channel) == (10, "很好", "web")
    assert response.product == Policy.objects.get().product_version.product
    assert response.application_number == Policy.objects.get().application_number != ""
    entry = AuditEntry.objects.get(action="policy.nps_recorded")
    assert entry.after["score"] == 10 and "很好" not in str(entry.after)
    with pytest.raises(Conflict) as exc:
        services.record_nps(issued_app, score=3, comment="", user=owner)
    assert exc.value.code == "already_rated"
    assert NpsResponse.objects.get().score == 10


@pytest.mark.parametrize("score", [-1, 11, True, "9"])
def test_score_must_be_0_to_10(owner, issued_app, score) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.record_nps(issued_app, score=score, comment="", user=owner)
    assert [e.field for e in exc.value.errors] == ["score"]
    assert not NpsResponse.objects.exists()


def test_comment_at_most_500_characters(owner, issued_app) -> None:
    services_ok = services.record_nps(issued_app, score=0, comment="好" * 500, user=owner)
    assert len(services_ok.comment) == 500
    other = f.simple_issued(owner).application.public_id
    with pytest.raises(ValidationFailed) as exc:
        services.record_nps(other, score=5, comment="差" * 501, user=owner)
    assert [(e.field, e.code) for e in exc.value.errors] == [("comment", "too_long")]


@pytest.mark.parametrize("comment", ["很好\u202e评差", "很好\u200b", "很好\x00"])
def test_comment_with_invisible_characters_is_refused(owner, issued_app, comment) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.record_nps(issued_app, score=9, comment=comment, user=owner)
    assert [(e.field, e.code) for e in exc.value.errors] == [("comment", "invisible_characters")]
    assert not NpsResponse.objects.exists()
    # line breaks are fine in a comment
    saved = services.record_nps(issued_app, score=9, comment="很好\n下次还来", user=owner)
    assert saved.comment == "很好\n下次还来"


def test_only_the_customer_and_only_once_issued(owner, issued_app) -> None:
    with pytest.raises(NotFound):
        services.record_nps(issued_app, score=9, comment="", user=f.customer())
    version = f.product_version()
    unpaid = f.application([(version, f.Person(), 500_000, "100.00", {})], customer=owner)
    # an application with no policy yet is, to the policy, one it knows nothing of
    with pytest.raises(NotFound) as exc:
        services.record_nps(unpaid.public_id, score=9, comment="", user=owner)
    assert exc.value.code == "application_not_found"
    assert not NpsResponse.objects.exists()


# --- recovery --------------------------------------------------------------------------------------


def test_recovery_renders_missing_epolicies_and_reenqueues_due_deliveries() -> None:
    from django_tasks_db.models import DBTaskResult

    # given: two issued policies whose tasks were lost (nothing rendered, nothing sent)
    first, second = f.simple_issued(), f.simple_issued()
    # when
    result = services.recover_issuance()
    # then
    assert result["epolicies_rendered"] == 2 and result["errors"] == []
    for policy in (first, second):
        policy.refresh_from_db()
        assert policy.epolicy is not None and verify_pdf(policy.epolicy.pdf).valid
    assert result["deliveries_enqueued"] == 2
    assert DBTaskResult.objects.filter(task_path="huibao.policy.tasks.deliver_policy").count() == 2
    # and again: nothing left to do
    again = services.recover_issuance()
    assert again["epolicies_rendered"] == 0


def test_recovery_leaves_deliveries_that_are_not_due(monkeypatch) -> None:
    policy = f.simple_issued()
    InsurerDelivery.objects.filter(policy=policy).update(
        status=DeliveryStatus.FAILED, next_attempt_at=timezone.now() + datetime.timedelta(hours=1)
    )
    assert services.recover_issuance()["deliveries_enqueued"] == 0
    InsurerDelivery.objects.filter(policy=policy).update(status=DeliveryStatus.GAVE_UP, next_attempt_at=None)
    assert services.recover_issuance()["deliveries_enqueued"] == 0


def test_recovery_issues_paid_applications_through_its_hook() -> None:
    # given: a listener of the recovery hook (as the application app registers one)
    calls: list[int] = []

    def recover(run: services.IssuanceRecovery) -> list[str]:
        calls.append(1)
        return ["TB1"]

    services.issuance_recovery.register(recover)
    try:
        # when / then: what it issued is reported
        assert services.recover_issuance()["issued"] == ["TB1"] and calls == [1]
    finally:
        services.issuance_recovery.unregister(recover)

    # an error there does not stop the rest
    def broken(run: services.IssuanceRecovery) -> list[str]:
        raise ZeroDivisionError

    services.issuance_recovery.register(broken)
    try:
        f.simple_issued()
        result = services.recover_issuance()
    finally:
        services.issuance_recovery.unregister(broken)
    assert result["epolicies_rendered"] == 1 and result["errors"][0].startswith("issue:")


def test_recovery_command_and_task(capsys) -> None:
    from django.core.management import call_command

    f.simple_issued()
    call_command("recover_issuance")
    assert '"epolicies_rendered": 1' in capsys.readouterr().out
    assert tasks.recover_issuance.call()["epolicies_rendered"] == 0


def test_paid_but_unissued_application_is_issued_by_recovery() -> None:
    # given: the real flow, paid, but the process died before the hook issued anything
    from huibao.application.models import Application
    from huibao.application.tests import factories as af
    from huibao.payment.models import Payment

    product = af.simple_product()
    user = af.customer("13900006666")
    app = af.to_signed(product, user)
    payment = pay(app, user=user)
    Payment.objects.filter(pk=payment.pk).update(status="succeeded", paid_at=timezone.now())
    # when
    result = services.recover_issuance()
    # then
    stored = Application.objects.get(pk=app.pk)
    assert result["issued"] == [stored.number]
    assert stored.status == ApplicationStatus.ISSUED
    policy = stored.policies.get()
    assert policy.epolicy is not None and result["epolicies_rendered"] == 1


# --- statuses ----------------------------------------------------------------------------------------


def test_status_sweep_starts_and_ends_policies() -> None:
    policy = f.simple_issued()
    assert policy.status == PolicyStatus.PENDING_START
    assert services.update_policy_statuses(policy.effective_at - datetime.timedelta(seconds=1)) == {
        "in_force": 0,
        "expired": 0,
    }
    assert services.update_policy_statuses(policy.effective_at)["in_force"] == 1
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.IN_FORCE
    assert policy.expires_at is not None
    assert services.update_policy_statuses(policy.expires_at)["expired"] == 1
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.EXPIRED
    entries = AuditEntry.objects.filter(object_id=policy.number, action="policy.status_changed")
    moves = [e.after["status"] for e in entries.order_by("id")]
    assert moves == [PolicyStatus.IN_FORCE, PolicyStatus.EXPIRED]
