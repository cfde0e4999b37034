"""One customer, one policy, on a phone, through the servicing the issue asks to see in a
browser: a beneficiary changed from the policy's "what can I do" hub (confirmed by SMS code,
applied as version 2 of the policy), then the policy cancelled in its cooling-off period from "my
policies" — the whole premium back, explained line by line, refunded to the paying card."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F
from django.test import Client
from playwright.sync_api import Page, expect

from huibao.account.models import PhoneCode
from huibao.account.sms import reset_sms_backends
from huibao.esign import pdf
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.payment.tests.factories import client_transport
from huibao.policy import lifecycle
from huibao.policy.models import Policy, PolicyBeneficiary, PolicyVersion
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as pf
from huibao.sandbox import notifications

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Sturdy-pass-2026"
PHONE_NUMBER = "13900008888"
SPOUSE_ID = "110105198802020310"


@pytest.fixture
def policy(
    settings: Any, live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Policy]:
    """A policy of 1,288.88 paid on the sandbox gateway just now (cooling-off for 15 days), whose
    product allows beneficiary changes online, started (in force); background tasks run at once."""
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.HUIBAO_PUBLIC_URL = live_server.url
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    reset_sms_backends()
    with monkeypatch.context() as patch:
        patch.setattr(notifications, "http_post", client_transport(Client()))
        user = pf.customer(PHONE_NUMBER)
        user.set_password(PASSWORD)
        user.save()
        issued = cf.one_policy(user, premium="1288.88", servicing=ef.SERVICING)
    with transaction.atomic():
        locked = lifecycle.lock_policy(issued.pk)
        if locked.status == PolicyStatus.PENDING_START:
            lifecycle.transition(locked, PolicyStatus.IN_FORCE, reason="start", actor="test")
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    yield Policy.objects.get(pk=issued.pk)
    reset_sms_backends()
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()


def test_a_customer_changes_a_beneficiary_then_cancels_in_cooling_off(
    live_server: Any, phone: Page, policy: Policy, screenshot_dir: Path
) -> None:
    page = phone
    base = live_server.url
    detail = f"/policy/mine/{policy.public_id}/"
    page.goto(f"{base}/account/login/?next={detail}")
    page.locator("#id_phone").fill(PHONE_NUMBER)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.account-form button[type=submit]").click()

    # 1. the beneficiary: from the hub, the spouse named for the whole benefit
    page.locator("[data-testid=actions] a[data-action=endorse]").click()
    page.get_by_test_id("kind-beneficiaries").click()
    row = page.get_by_test_id("beneficiary-0")
    row.locator("input[name='b-0-name']").fill("王大伟")
    row.locator("input[name='b-0-id_number']").fill(SPOUSE_ID)
    row.locator("select[name='b-0-relation']").select_option("spouse")
    row.locator("input[name='b-0-share_percent']").fill("100")
    page.get_by_test_id("submit-change").click()
    expect(page.get_by_test_id("after")).to_contain_text("王大伟")
    page.get_by_test_id("send-code").click()
    page.locator("#id_code").fill(cf.sms_code(cf.HOLDER_PHONE))
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("applied")).to_contain_text("保单数据第2版")
    page.screenshot(path=str(screenshot_dir / "journey-endorsed.png"), full_page=True)
    assert list(PolicyBeneficiary.objects.filter(policy=policy).values_list("name", flat=True)) == ["王大伟"]
    assert PolicyVersion.objects.filter(policy=policy).count() == 2

    # 2. a few minutes later (a new code may be sent after 60 s), the cancellation, still in
    # cooling-off: from "my policies"
    PhoneCode.objects.update(sent_at=F("sent_at") - datetime.timedelta(minutes=3))
    page.goto(f"{base}/policy/mine/")
    page.get_by_test_id("cancel-entry").click()
    expect(page.locator("h1")).to_have_text("退保")
    lines = page.get_by_test_id("refund-line")
    expect(lines.first).to_contain_text("已缴保费")
    expect(page.get_by_test_id("refund-total")).to_have_text("¥1,288.88")
    page.get_by_label("找到更合适的产品").check()
    page.get_by_test_id("send-code").click()
    page.get_by_label("短信验证码").fill(cf.sms_code(cf.HOLDER_PHONE))
    page.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("refund-status")).to_have_text("已完成")
    expect(page.get_by_test_id("refund-amount")).to_have_text("¥1,288.88")
    page.screenshot(path=str(screenshot_dir / "journey-cancelled.png"), full_page=True)

    # then: the policy cancelled in cooling-off, the card refunded in full, both in its history
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.CANCELLED_COOLING_OFF
    assert Payment.objects.get(reference_kind="application").status == PaymentStatus.REFUNDED
    page.goto(f"{base}{detail}history/")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("犹豫期内退保")
    expect(timeline).to_contain_text("受益人")
