"""An adjuster on the desk (phone-sized, the worst case of a desk-first page): the queue shows a
claim the triage queued (too large for the fast track, and why); the review page shows the photo
inline and the benefit line by line; a partial amount above the benefit is refused on its field;
the adjuster approves; the sandbox bank pays; the customer sees the claim paid on their timeline."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from huibao.claim.states import ClaimStatus
from huibao.claim.tests.adjud_factories import adjuster, bank_result, complete_claim
from huibao.payment.tests.factories import client_transport
from huibao.provider.tests.factories import login
from huibao.sandbox import notifications

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _cookie(client: Client) -> str:
    return client.cookies["sessionid"].value


def test_an_adjuster_approves_and_the_customer_sees_it_paid(
    live_server: Any, phone: Any, screenshot_dir: Any, settings: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    # given: the sandbox bank's notifications reach the notify endpoint through the test client
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    claim = complete_claim()
    staff = login(Client(), adjuster("e2e_adjuster"))
    base = live_server.url
    phone.context.add_cookies([{"name": "sessionid", "value": _cookie(staff), "url": base}])

    # when: the adjuster opens the queue and the claim
    phone.goto(base + "/claims/desk/")
    expect(phone.locator("h1")).to_have_text("理赔工作台")
    phone.get_by_role("link", name=claim.number).click()
    # the triage queued it (too large for the fast track) and says why the system did not decide
    expect(phone.get_by_test_id("claim-status")).to_have_text("审核中")
    expect(phone.get_by_test_id("triage-reasons")).to_contain_text("申请金额超过小额快赔限额")
    expect(phone.locator(".desk-materials img").first).to_be_visible()
    expect(phone.get_by_test_id("preview")).to_contain_text("应赔付金额")
    # a partial amount above the calculated benefit is refused on its field
    form = phone.get_by_test_id("decide-form")
    form.get_by_test_id("kind").select_option("partial")
    form.get_by_test_id("amount").fill("9999")
    form.get_by_test_id("reason").select_option("other")
    form.get_by_test_id("decide").click()
    expect(phone.get_by_test_id("error-amount")).to_contain_text("不能超过核算的应赔付金额")
    expect(phone.get_by_test_id("claim-status")).to_have_text("审核中")
    # approve in full
    form = phone.get_by_test_id("decide-form")
    form.get_by_test_id("kind").select_option("approve")
    form.get_by_test_id("decide").click()
    expect(phone.get_by_test_id("claim-status")).to_have_text("支付中")
    expect(phone.get_by_test_id("approved")).to_contain_text("8600.00")
    phone.screenshot(path=str(screenshot_dir / "claim-desk-review.png"), full_page=True)

    # then: the bank pays, and the customer sees it on their timeline
    bank_result(claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    owner = Client()
    owner.force_login(claim.claimant)
    phone.context.clear_cookies()
    phone.context.add_cookies([{"name": "sessionid", "value": _cookie(owner), "url": base}])
    phone.goto(base + f"/claims/{claim.public_id}/")
    expect(phone.get_by_test_id("claim-status")).to_have_text("已赔付")
    expect(phone.get_by_test_id("timeline")).to_contain_text("赔款已到账")
    expect(phone.get_by_test_id("approved")).to_contain_text("8600.00")
