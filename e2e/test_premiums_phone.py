"""The premiums page of a policy in grace and the reinstatement page of a lapsed one, on a phone
(390×844) and in elder mode: nothing scrolls sideways, each instalment reads as a labelled card,
the explanation stays visible in elder mode, and "pay now" opens the gateway's page for the
instalment's amount."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from huibao.application.states import ApplicationStatus
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.core.masking import mask_name
from huibao.esign import pdf
from huibao.payment.tests.factories import GOOD_CARD
from huibao.policy import lifecycle
from huibao.policy.states import PartyRole, PolicyStatus
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(settings: Any, live_server: Any, tmp_path: Path) -> Any:
    """The policy's owner; the gateway's pages at the live server's address."""
    settings.HUIBAO_PUBLIC_URL = live_server.url
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    pdf._signer.cache_clear()
    yield pf.customer("13900008888")
    pdf._signer.cache_clear()


def log_in(page: Page, base: str, user: Any, **cookies: str) -> None:
    client = Client()
    client.force_login(user)
    cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])


def monthly_policy_in(owner: Any, status: str) -> Any:
    """A monthly policy whose instalment 2 fell due ten days ago unpaid, moved to `status`."""
    version = pf.product_version()
    version.eligibility = {"health_questions": [{"code": "hospital", "text": "过去两年内是否住院治疗？"}]}
    version.save(update_fields=["eligibility"])
    app = pf.application(
        [(version, pf.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})],
        customer=owner,
        status=ApplicationStatus.AWAITING_PAYMENT,
    )
    policy = pf.issue(app)[0]
    today = timezone.localdate()
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    Instalment.objects.filter(schedule=schedule, number=2).update(
        due_on=today - datetime.timedelta(days=10), status="overdue"
    )
    moves = {
        PolicyStatus.IN_GRACE: [PolicyStatus.IN_FORCE, PolicyStatus.IN_GRACE],
        PolicyStatus.LAPSED: [PolicyStatus.IN_FORCE, PolicyStatus.IN_GRACE, PolicyStatus.LAPSED],
    }[status]
    for target in moves:
        with transaction.atomic():  # the lock is held by the caller's transaction
            lifecycle.transition(lifecycle.lock_policy(policy.pk), target, reason="test", actor="test")
    if status == PolicyStatus.LAPSED:
        PremiumSchedule.objects.filter(pk=schedule.pk).update(status="lapsed", lapsed_on=today)
    return policy


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_premiums_in_grace_on_a_phone_and_pay_now(
    live_server: Any, phone: Page, owner: Any, screenshot_dir: Path, settings: Any
) -> None:
    policy = monthly_policy_in(owner, PolicyStatus.IN_GRACE)
    # the gateway's notifications delivered at once to the live server (after issuance: the
    # e-policy's signing must not run inside the browser's event loop)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    page = phone
    log_in(page, live_server.url, owner)
    page.goto(f"{live_server.url}/policy/mine/{policy.public_id}/premiums/")
    expect(page.get_by_test_id("grace")).to_be_visible()
    rows = page.get_by_test_id("instalment")
    expect(rows).to_have_count(12)
    # each instalment a card whose cells say what they are
    label = rows.nth(1).locator("td").first.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"期数："'
    no_horizontal_scroll(page)
    page.screenshot(path=str(screenshot_dir / "premiums-in-grace-phone.png"), full_page=True)
    our_page = page.url
    # when: pay now, at the gateway's page, for the instalment's amount
    page.get_by_test_id("pay-now").click()
    page.wait_for_url(re.compile(r"/payment/sandbox/pay/"))
    expect(page.get_by_text("¥100.00").first).to_be_visible()
    # the payer is the holder the payment is bound to: shown masked, not typed again
    holder = policy.parties.get(role=PartyRole.HOLDER)
    expect(page.get_by_test_id("payer-name")).to_have_text(mask_name(holder.name))
    page.get_by_label("银行卡号").fill(GOOD_CARD)
    page.get_by_role("button", name="确认支付").click()
    # then: the cashier sends them back to the premiums page: the instalment paid, in force
    page.wait_for_url(our_page)
    expect(page.get_by_test_id("policy-status")).to_have_text("保障中")
    expect(page.get_by_test_id("grace")).to_have_count(0)
    expect(rows.nth(1)).to_have_attribute("data-status", "paid")


def test_reinstatement_in_elder_mode_keeps_the_explanation(
    live_server: Any, phone: Page, owner: Any, screenshot_dir: Path
) -> None:
    policy = monthly_policy_in(owner, PolicyStatus.LAPSED)
    page = phone
    log_in(page, live_server.url, owner, elder_mode="1")
    page.goto(f"{live_server.url}/policy/mine/{policy.public_id}/premiums/reinstate/")
    expect(page.locator("body")).to_have_class("elder")
    expect(page.get_by_test_id("owed-line")).to_have_count(1)
    expect(page.get_by_text("复效需补缴").first).to_be_visible()
    expect(page.get_by_test_id("question")).to_have_count(1)
    expect(page.get_by_test_id("pay-reinstatement")).to_be_visible()
    no_horizontal_scroll(page)
    page.screenshot(path=str(screenshot_dir / "reinstate-elder-phone.png"), full_page=True)
