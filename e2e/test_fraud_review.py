"""A fraud analyst on a phone: the queue shows a claim screened with a duplicate invoice; the
case page shows the evidence and the earlier claim; the analyst takes it, confirms fraud and puts
the claimant on the shared blacklist, which then lists the person masked."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from playwright.sync_api import expect

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.fraud.models import FraudCase
from huibao.fraud.selectors import is_blacklisted
from huibao.fraud.services import screen_claim
from huibao.fraud.tests.factories import subject

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def analyst_session() -> str:
    sync_roles()
    staff = create_staff_user("e2e_analyst", "Sturdy-pass-2026", ["fraud_analyst"])
    device = enrol_totp(staff)
    client = Client()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.cookies["sessionid"].value


def test_an_analyst_confirms_a_duplicate_invoice_and_blacklists_the_claimant(
    live_server: Any, phone: Any, screenshot_dir: Any
) -> None:
    # given: an earlier claim at another insurer, and a new one with the same invoice number
    earlier = screen_claim(
        subject(invoice_numbers=("FP-2026-001",), insurer_code="CPIC", insured_id_hash="9" * 64)
    )
    screen_claim(subject(invoice_numbers=("FP-2026-001",)))
    case = FraudCase.objects.get()
    base = live_server.url
    phone.context.add_cookies([{"name": "sessionid", "value": analyst_session(), "url": base}])

    # when: the analyst opens the queue and the case
    phone.goto(base + "/fraud/")
    expect(phone.locator("h1")).to_have_text("风控复核队列")
    phone.get_by_role("link", name=case.claim.reference).click()
    expect(phone.locator('[data-rule="duplicate_invoice_number"]')).to_contain_text(earlier.claim.reference)
    expect(phone.get_by_test_id("earlier")).to_contain_text("CPIC")
    phone.get_by_role("button", name="领取审核").click()
    expect(phone.get_by_test_id("status")).to_contain_text("审核中")
    confirm = phone.get_by_test_id("confirm-form")
    confirm.locator("textarea[name=note]").fill("同一发票在另一家公司已报销")
    confirm.locator("input[name=blacklist]").check()
    confirm.locator("input[name=blacklist_reason]").fill("重复报销")
    phone.screenshot(path=str(screenshot_dir / "fraud-case.png"), full_page=True)
    confirm.get_by_role("button", name="确认欺诈").click()

    # then: the case is confirmed, and the claimant is on the blacklist, masked
    expect(phone.get_by_test_id("resolution")).to_contain_text("确认欺诈")
    assert is_blacklisted(case.claim.claimant_id_hash)
    phone.goto(base + "/fraud/blacklist/")
    expect(phone.get_by_test_id("entries")).to_contain_text("张**")
    expect(phone.get_by_test_id("entries")).to_contain_text("重复报销")
