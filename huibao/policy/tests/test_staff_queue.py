"""The staff servicing queue: verified staff with the right permission only; sections with their
counts (policies in grace and lapsed with days left, failed messages, failed deliveries); the
operators' 重新发送 and 立即重试; a feature's own section through register_queue_section."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from huibao.account.models import User, UserKind
from huibao.billing.models import PremiumSchedule
from huibao.core.models import AuditEntry
from huibao.notification import services as notification_services
from huibao.notification.models import OutboxMessage
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED
from huibao.policy import queue
from huibao.policy.lifecycle import lock_policy, transition
from huibao.policy.models import InsurerDelivery
from huibao.policy.states import DeliveryStatus, PolicyStatus
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db
URL = "/policy/staff/servicing/"


def _staff_with_role(client, role: str, username: str = "staff1"):
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return f.staff_login(client, User.objects.get(pk=user.pk))


@pytest.fixture
def operator(client):
    return _staff_with_role(client, "operator")


@pytest.fixture
def owner():
    return f.customer()


def _monthly(owner):
    version = f.product_version()
    app = f.application(
        [(version, f.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})], customer=owner
    )
    return f.issue(app)[0]


def _into_grace(policy):
    schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=policy.number)
    second = schedule.instalments.get(number=2)
    second.status = "overdue"
    second.save(update_fields=["status"])
    locked = lock_policy(policy.pk)
    transition(locked, PolicyStatus.IN_FORCE, reason="start", actor="test")
    transition(locked, PolicyStatus.IN_GRACE, reason="instalment_overdue", actor="test")
    return second.due_on + datetime.timedelta(days=schedule.grace_days)


def _failed_sms(owner) -> OutboxMessage:
    rows = notification_services.notify(
        user=owner, template="policy.issued", context=ISSUED, dedup_key=f"q:{owner.pk}", reference="P1"
    )
    sms = next(r for r in rows if r.channel == "sms")
    OutboxMessage.objects.filter(pk=sms.pk).update(
        status=OutboxStatus.GAVE_UP, attempts=5, last_error="timeout"
    )
    return sms


def test_a_customer_is_sent_to_the_staff_login(client, owner) -> None:
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/account/staff/login/")


def test_a_role_without_the_permission_is_refused(client) -> None:
    agent = _staff_with_role(client, "agent")
    assert agent.get(URL).status_code == 403


def test_staff_without_a_verified_device_is_sent_to_log_in(client) -> None:
    user = User.objects.create_user(
        username="s2", password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    assert client.get(URL).status_code == 302


def test_sections_with_counts_and_days_left(operator, owner) -> None:
    policy = _monthly(owner)
    ends = _into_grace(policy)
    _failed_sms(owner)
    other = f.simple_issued(owner)
    InsurerDelivery.objects.filter(policy=other).update(status=DeliveryStatus.GAVE_UP, attempts=8)
    response = operator.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    counts = html[
        html.index('data-testid="queue-counts"') : html.index(
            "</nav>", html.index('data-testid="queue-counts"')
        )
    ]
    for key in ("grace", "messages", "deliveries"):
        assert f'data-section="{key}"' in counts
    assert html.count('data-testid="grace-row"') == 1 and policy.number in html
    days = (ends - timezone.localdate()).days
    assert f"{days}天" in html and ends.strftime("%Y-%m-%d") in html
    assert html.count('data-testid="message-row"') == 1 and "重新发送" in html
    assert html.count('data-testid="delivery-row"') == 1 and "立即重试" in html


def test_grace_rows_know_the_days_left_to_pay_and_to_reinstate(owner) -> None:
    policy = _monthly(owner)
    ends = _into_grace(policy)
    today = ends - datetime.timedelta(days=3)
    [row] = queue.grace_rows(None, today=today)
    assert row.number == policy.number and row.days_left == 3 and row.deadline == ends


def test_resend_queues_the_message_again(operator, owner) -> None:
    sms = _failed_sms(owner)
    response = operator.post(f"/policy/staff/servicing/messages/{sms.public_id}/resend/")
    assert response.status_code == 302
    sms.refresh_from_db()
    assert sms.status == OutboxStatus.PENDING and sms.attempts == 0
    assert AuditEntry.objects.filter(
        action="notification.resend_requested", object_id=str(sms.public_id)
    ).exists()


def test_retry_sends_the_delivery_now(operator, owner) -> None:
    policy = f.simple_issued(owner)
    InsurerDelivery.objects.filter(policy=policy).update(status=DeliveryStatus.GAVE_UP, attempts=8)
    row = InsurerDelivery.objects.get(policy=policy)
    response = operator.post(f"/policy/staff/servicing/deliveries/{row.pk}/retry/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT
    assert AuditEntry.objects.filter(
        action="policy.delivery_retry_requested", object_id=policy.number
    ).exists()


def test_a_role_that_sees_the_queue_but_may_not_resend(client, owner) -> None:
    finance = _staff_with_role(client, "finance")  # policy.view_policy, no outbox permissions
    sms = _failed_sms(owner)
    html = finance.get(URL).content.decode()
    assert 'data-testid="queue-grace"' in html and 'data-testid="queue-messages"' not in html
    assert finance.post(f"/policy/staff/servicing/messages/{sms.public_id}/resend/").status_code == 403
    sms.refresh_from_db()
    assert sms.status == OutboxStatus.GAVE_UP


def test_a_feature_adds_its_own_section(operator) -> None:
    queue.register_queue_section(
        "t_approvals",
        label="待审批的批改",
        order=40,
        rows=lambda user: ["E1", "E2"],
        template="policy/staff/partials/list.html",
    )
    try:
        html = operator.get(URL).content.decode()
    finally:
        queue.unregister_queue_section("t_approvals")
    assert 'data-section="t_approvals"' in html and "待审批的批改" in html
    assert "E1" in html and "E2" in html


def test_the_back_office_links_to_the_queue(operator) -> None:
    html = operator.get("/admin/").content.decode()
    assert f'href="{URL}"' in html and "保全服务工作台" in html
