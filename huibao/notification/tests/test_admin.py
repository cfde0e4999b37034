from __future__ import annotations

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.core.models import AuditEntry
from huibao.notification import sending, services
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    user = User.objects.create_superuser(username="ops", password="x-unused-123", kind=UserKind.STAFF)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_failed_sends_are_listed_without_their_text_and_resent_with_an_audit_entry(operator, customer):
    # given an e-mail that gave up (the customer had no address) and one that was sent
    rows = services.notify(
        user=customer, template="policy.issued", context=ISSUED, dedup_key="i:1", reference="P1"
    )
    email, sms = rows[1], rows[2]
    sending.send(sms.pk)
    customer.email = ""
    customer.save()
    assert sending.send(email.pk) == OutboxStatus.GAVE_UP
    customer.email = "back@example.com"
    customer.save()
    # when the operator opens the back office
    listing = operator.get("/admin/notification/outboxmessage/")
    # then only the one needing attention is listed, and nothing it said
    html = listing.content.decode()
    assert listing.status_code == 200
    assert "no_email" in html and "百万医疗险" not in html
    assert f"/admin/notification/outboxmessage/{sms.pk}/" not in html
    # when they re-send it
    response = operator.post(
        "/admin/notification/outboxmessage/?attention=all",
        {"action": "resend", "_selected_action": [email.pk, sms.pk]},
        follow=True,
    )
    # then the given-up one is queued again (audited), the sent one is left alone
    text = response.content.decode()
    assert "已重新排队发送 1 条" in text and "1 条不是失败或已放弃的消息" in text
    email.refresh_from_db()
    assert email.status == OutboxStatus.PENDING
    assert AuditEntry.objects.filter(
        action="notification.resend_requested", object_id=str(email.public_id)
    ).exists()
    assert sending.send(email.pk) == OutboxStatus.SENT
