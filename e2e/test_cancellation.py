"""A customer on a phone cancels a policy in its cooling-off period from "my policies": the whole
premium back, explained line by line before confirming with the SMS code, and the completed
refund on the result page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from huibao.account.sms import reset_sms_backends
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.payment.tests.factories import client_transport
from huibao.policy.models import Cancellation, Policy
from huibao.policy.states import CancellationStatus, PolicyStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as pf
from huibao.sandbox import notifications

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Sturdy-pass-2026"
PHONE_NUMBER = "13900007777"


@pytest.fixture
def paid_policy(settings: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Policy]:
    """A policy of 1,288.88 paid on the sandbox gateway just now (cooling-off for 15 days); then
    background tasks run at once (the refund after confirmation)."""
    settings.HUIBAO_PUBLIC_URL = live_server.url
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    with monkeypatch.context() as patch:
        patch.setattr(notifications, "http_post", client_transport(Client()))
        user = pf.customer(PHONE_NUMBER)
        user.set_password(PASSWORD)
        user.save()
        policy = cf.one_policy(user, premium="1288.88")
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    yield policy
    reset_sms_backends()


def test_cancel_in_cooling_off_on_a_phone(
    live_server: Any, phone: Page, paid_policy: Policy, screenshot_dir: Path
) -> None:
    page = phone
    base = live_server.url
    # given: the customer logs in and opens "my policies"
    page.goto(f"{base}/account/login/?next=/policy/mine/")
    page.locator("#id_phone").fill(PHONE_NUMBER)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.account-form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("我的保单")
    # when: they tap 退保 on the policy
    page.get_by_test_id("cancel-entry").click()
    expect(page.locator("h1")).to_have_text("退保")
    # then: the refund is explained line by line before anything is confirmed
    lines = page.get_by_test_id("refund-line")
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text("已缴保费")
    expect(lines.first).to_contain_text("¥1,288.88")
    expect(page.get_by_test_id("refund-total")).to_have_text("¥1,288.88")
    page.screenshot(path=str(screenshot_dir / "cancel-quote.png"), full_page=True)
    # when: they choose a reason and ask for the code
    page.get_by_label("找到更合适的产品").check()
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("confirm-cancel")).to_contain_text("¥1,288.88")
    code = cf.sms_code(cf.HOLDER_PHONE)
    page.get_by_label("短信验证码").fill(code)
    page.screenshot(path=str(screenshot_dir / "cancel-confirm.png"), full_page=True)
    page.get_by_test_id("confirm-cancel").click()
    # then: the result, with the refund completed
    expect(page.get_by_test_id("cancel-result")).to_be_visible()
    expect(page.get_by_test_id("refund-status")).to_have_text("已完成")
    expect(page.get_by_test_id("refund-amount")).to_have_text("¥1,288.88")
    expect(page.get_by_test_id("refund-part")).to_contain_text(re.compile("已退款"))
    page.screenshot(path=str(screenshot_dir / "cancel-result.png"), full_page=True)
    # and: the policy is cancelled and the checkout refunded in full
    paid_policy.refresh_from_db()
    assert paid_policy.status == PolicyStatus.CANCELLED_COOLING_OFF
    assert Cancellation.objects.get().status == CancellationStatus.COMPLETED
    checkout = Payment.objects.get(reference_kind="application")
    assert checkout.status == PaymentStatus.REFUNDED
    # the page stays usable on a phone: nothing wider than the screen
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
