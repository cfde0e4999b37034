"""The payouts' back office: finance lists payouts by status, reads why one failed, retries it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.account.roles import ROLES
from huibao.core.models import AuditEntry
from huibao.payment import payouts
from huibao.payment.models import Payout
from huibao.payment.states import PayoutStatus
from huibao.payment.tests import factories as pf
from huibao.payment.tests import payout_factories as f
from huibao.sandbox import notifications
from huibao.sandbox import payout as sandbox

pytestmark = pytest.mark.django_db
LIST = "/admin/payment/payout/"


def staff(username: str, codenames: list[str]) -> Client:
    group, _ = Group.objects.get_or_create(name=f"role-{username}")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="payment", codename__in=codenames)
    )
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(group)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _settled(ref: str, account: str) -> Payout:
    p = f.request(ref, account_number=account)
    payouts.submit_payout(p.pk)
    p.refresh_from_db()
    assert sandbox.deliver(p.provider_trade_no)
    p.refresh_from_db()
    return p


@pytest.fixture(autouse=True)
def _transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", pf.client_transport(Client()))


def test_finance_has_the_payout_permissions() -> None:
    permissions = ROLES["finance"].permissions
    assert {"payment.view_payout", "payment.change_payout", "payment.view_payoutattempt"} <= set(permissions)


def test_finance_lists_payouts_by_status_with_the_reason_and_the_account_masked() -> None:
    # given
    client = staff("fin_sun", ["view_payout", "view_payoutattempt"])
    given_up = _settled("C-GONE", f.NOT_FOUND_ACCOUNT)
    paid = _settled("C-PAID", f.GOOD_ACCOUNT)
    # when
    failed_page = client.get(LIST, {"status__exact": "given_up"})
    detail = client.get(f"{LIST}{given_up.pk}/change/")
    # then
    html = failed_page.content.decode()
    assert failed_page.status_code == 200
    assert "C-GONE" in html and "C-PAID" not in html
    assert "账户不存在（ACCOUNT_NOT_FOUND）" in html and "**** 0000" in html
    assert f.NOT_FOUND_ACCOUNT not in html and f.PAYEE not in html
    assert detail.status_code == 200 and f.NOT_FOUND_ACCOUNT not in detail.content.decode()
    assert given_up.out_biz_no in detail.content.decode()  # the attempts inline
    assert paid.status == PayoutStatus.SUCCEEDED
    # read-only: no adding, no retry action without the change permission
    assert client.get(f"{LIST}add/").status_code == 403
    assert "retry_action" not in client.get(LIST).content.decode()


def test_finance_retries_a_failed_payout_by_hand_with_an_audit_row() -> None:
    # given
    client = staff("fin_li", ["view_payout", "change_payout", "view_payoutattempt"])
    failed = _settled("C-SLOW", f.TIMEOUT_ONCE_ACCOUNT)
    done = _settled("C-DONE", f.GOOD_ACCOUNT)
    assert failed.status == PayoutStatus.FAILED
    # when
    response = client.post(
        LIST, {"action": "retry_action", "_selected_action": [str(failed.pk), str(done.pk)]}, follow=True
    )
    # then
    failed.refresh_from_db()
    done.refresh_from_db()
    messages = [str(m) for m in response.context["messages"]]
    assert failed.status == PayoutStatus.SUBMITTED and failed.attempts == 2
    assert done.status == PayoutStatus.SUCCEEDED and done.attempts == 1
    assert any("C-SLOW 已重新提交银行" in m for m in messages)
    assert any("C-DONE 未重试" in m for m in messages)
    entry = AuditEntry.objects.get(action="payout.retry_requested")
    assert entry.object_id == str(failed.public_id) and entry.actor_label
