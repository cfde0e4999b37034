"""Finance reconciles a month in the browser: imports the insurer's statement (GBK CSV), sees the
four categories with totals, resolves the difference in place (htmx), and closes the month."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from playwright.sync_api import expect

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.finance.models import CommissionEntry, Reconciliation
from huibao.finance.tests import reconciliation_factories as f

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def finance_session() -> str:
    sync_roles()
    staff = create_staff_user("e2e_finance", "Sturdy-pass-2026", ["finance"])
    device = enrol_totp(staff)
    client = Client()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.cookies["sessionid"].value


def test_finance_imports_a_statement_resolves_a_difference_and_closes_the_month(
    live_server: Any, phone: Any, screenshot_dir: Any, tmp_path: Any
) -> None:
    # given: two policies of one insurer booked in November, and its statement listing one at
    # another commission rate
    insurer = f.insurer(code="e2e-ins", short_name="示例保险")
    for number, premium, commission in (("E2E-001", "1000.00", "150.00"), ("E2E-002", "2000.00", "300.00")):
        p = f.policy(insurer, number=number)
        f.book_premium(p, premium)
        f.commission(p, commission)
    statement = tmp_path / "e2e-2026-11.csv"
    statement.write_bytes(
        f.csv_bytes(
            [
                ["E2E-001", "1,000.00", "150.00", "2026-11-12", "承保"],
                ["E2E-002", "2,000.00", "280.00", "2026-11-12", "承保"],
            ],
            encoding="gbk",
        )
    )
    base = live_server.url
    phone.context.add_cookies([{"name": "sessionid", "value": finance_session(), "url": base}])

    # when: finance chooses the insurer and uploads the file
    phone.goto(base + "/finance/reconciliation/")
    expect(phone.locator("h1")).to_have_text("对账")
    phone.get_by_test_id("choose-party").locator("select").select_option(label="示例保险")
    phone.get_by_role("button", name="导入对账单").click()
    form = phone.get_by_test_id("import-form")
    form.locator("input[name=month]").fill("2026-11")
    form.locator("input[name=file]").set_input_files(str(statement))
    form.get_by_role("button", name="导入并核对").click()

    # then: one matched, one amount differs, with both commissions shown
    expect(phone.get_by_test_id("total-matched")).to_have_attribute("data-count", "1")
    expect(phone.get_by_test_id("total-amount_differs")).to_have_attribute("data-count", "1")
    row = phone.locator('[data-testid=item][data-policy="E2E-002"]')
    expect(row).to_contain_text("300.00 / 280.00")
    expect(phone.get_by_test_id("close-month")).to_be_disabled()
    phone.screenshot(path=str(screenshot_dir / "reconciliation-results.png"), full_page=True)

    # when: finance adjusts our books to the insurer's figure, in place
    row.locator("select[name=action]").select_option("adjust")
    row.locator("input[name=reason]").fill("保险公司按14%结算，已与渠道经理确认")
    row.get_by_role("button", name="处理").click()
    resolved = phone.locator('[data-testid=item][data-policy="E2E-002"]')
    expect(resolved).to_have_attribute("data-status", "adjusted")
    expect(resolved.get_by_test_id("resolved")).to_contain_text("已调账")
    assert CommissionEntry.objects.filter(event="adjustment", policy__number="E2E-002").exists()

    # and closes the month (the page reloaded: the button is enabled now)
    phone.reload()
    phone.get_by_test_id("close-month").click()
    expect(phone.get_by_test_id("rec-status")).to_have_text("已结账")
    assert Reconciliation.objects.get().status == "closed"
