"""A claim decided by the insurer's own system, on a phone (390×844): the claim, complete, is sent
to the insurer; twelve days later (promised: ten) the agency's claims adjuster sees it flagged
overdue on the chase board and chases it; the insurer's decision and payment come back as signed
notices; the customer's timeline shows 已转保险公司审核 … 保险公司已赔付."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from playwright.sync_api import Page, expect

from e2e.test_policy_hub import log_in
from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.claim import insurer
from huibao.claim.insurer_models import InsurerClaimDelivery
from huibao.claim.tests.factories import in_force, medical_policy, start_of
from huibao.claim.tests.insurer_factories import complete_claim, connector_mode, notice_of
from huibao.esign import pdf as esign_pdf
from huibao.payment.tests.factories import client_transport
from huibao.policy.tests import factories as pf
from huibao.sandbox import insurer_claims, notifications

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def policy(settings: Any, tmp_path: Path, monkeypatch: Any) -> Any:
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.HUIBAO_INSURER_CLAIM_SANDBOX_OUTCOME = "approve"
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    esign_pdf._signer.cache_clear()
    esign_pdf._validation_context_roots.cache_clear()
    yield in_force(medical_policy(pf.customer("13900006666")))
    esign_pdf._signer.cache_clear()
    esign_pdf._validation_context_roots.cache_clear()


def adjuster_session() -> str:
    sync_roles()
    staff = create_staff_user("e2e_adjuster", "Sturdy-pass-2026", ["claims_adjuster"])
    device = enrol_totp(staff)
    client = Client()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.cookies["sessionid"].value


def test_an_adjuster_chases_an_overdue_insurer_and_the_customer_sees_it_paid(
    live_server: Any, phone: Page, policy: Any, screenshot_dir: Path
) -> None:
    # given: an insurer deciding in its own system (promised 10 days); a complete claim sent to it
    connector_mode(policy, days=10, payer="insurer")
    day = datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(days=130)
    with time_machine.travel(day, tick=False):
        claim = complete_claim(policy.customer, policy)
        insurer.deliver_claim(InsurerClaimDelivery.objects.get(claim=claim).pk)
        insurer_claims.deliver_notice(notice_of(claim.number, "received").notify_id)
    base = live_server.url
    with time_machine.travel(day + datetime.timedelta(days=12)):
        # when: the claims adjuster opens the chase board
        phone.context.add_cookies([{"name": "sessionid", "value": adjuster_session(), "url": base}])
        phone.goto(base + "/claims/staff/insurers/")
        row = phone.locator(f'[data-claim="{claim.number}"]')
        # then: flagged overdue, with the time since complete materials
        expect(row.get_by_test_id("overdue")).to_contain_text("已超时")
        expect(row).to_contain_text("已转保险公司")
        phone.screenshot(path=str(screenshot_dir / "claim-insurer-board.png"), full_page=True)
        # when: 催办
        row.locator("input[name=note]").fill("客户来电询问进度")
        row.get_by_role("button", name="催办").click()
        # then: the insurer was asked; what it owed comes now
        expect(phone.locator("body")).to_contain_text(f"已催办赔案{claim.number}")
        for kind in ("decision", "paid"):
            assert insurer_claims.deliver_notice(notice_of(claim.number, kind).notify_id)
        # then: the customer reads one timeline, the insurer's steps in it
        phone.context.clear_cookies()
        log_in(phone, base, policy.customer)
        phone.goto(f"{base}/claims/{claim.public_id}/")
        timeline = phone.get_by_test_id("timeline")
        expect(timeline).to_contain_text("已转保险公司审核")
        expect(timeline).to_contain_text("保险公司已赔付")
        expect(phone.get_by_test_id("claim-status")).to_have_text("已赔付")
        phone.screenshot(path=str(screenshot_dir / "claim-insurer-paid.png"), full_page=True)
