"""A claim from the phone (390×844): from the policy's hub the customer taps 理赔, sees the
eligibility explained as they pick the incident date, reports, takes photos of the materials
(a file that is no image is refused on its field), sees the checklist complete, submits and
reads the timeline — in standard Chinese and in elder mode in English."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from playwright.sync_api import Page, expect

from e2e.test_policy_hub import log_in
from huibao.claim.models import Claim
from huibao.claim.tests.factories import GOOD_CARD, in_force, jpeg, medical_policy, pdf, start_of
from huibao.esign import pdf as esign_pdf
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def policy(settings: Any, tmp_path: Path) -> Any:
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    esign_pdf._signer.cache_clear()
    esign_pdf._validation_context_roots.cache_clear()
    yield in_force(medical_policy(pf.customer("13900007777")))
    esign_pdf._signer.cache_clear()
    esign_pdf._validation_context_roots.cache_clear()


@pytest.mark.parametrize(
    ("elder", "language"), [(False, "zh-hans"), (True, "en")], ids=["standard", "elder-en"]
)
def test_report_upload_and_submit_a_claim_on_a_phone(
    live_server: Any,
    phone: Page,
    policy: Any,
    elder: bool,
    language: str,
    screenshot_dir: Path,
    tmp_path: Path,
) -> None:
    english = language == "en"
    mode = ("elder" if elder else "standard") + f"-{language}"
    start = start_of(policy)
    with time_machine.travel(
        datetime.datetime.combine(start, datetime.time(10)) + datetime.timedelta(days=130)
    ):
        # given: the owner of an in-force medical policy, past its waiting period, on a phone
        page = phone
        log_in(
            page,
            live_server.url,
            policy.customer,
            django_language=language,
            **({"elder_mode": "1"} if elder else {}),
        )
        page.goto(f"{live_server.url}/policy/mine/{policy.public_id}/")
        # when: they tap 理赔 in the policy's hub
        page.locator('.hub-action[data-action="claim"]').tap()
        page.wait_for_url(f"**/claims/report/{policy.public_id}/")
        # then: an incident in the waiting period is explained at once, a later one passes
        page.fill("#incident_date", (start + datetime.timedelta(days=10)).isoformat())
        page.locator("#incident_date").dispatch_event("change")
        # (in the customer's language: the eligibility reasons are translated)
        expect(page.get_by_test_id("not-eligible")).to_contain_text("waiting period" if english else "等待期")
        page.fill("#incident_date", (start + datetime.timedelta(days=120)).isoformat())
        page.locator("#incident_date").dispatch_event("change")
        expect(page.get_by_test_id("eligible")).to_be_visible()
        page.fill("#region_code", "310101")
        page.fill("#place", "上海市第一人民医院")
        page.fill("#description", "急性阑尾炎住院手术")
        page.fill("#amount_claimed", "0")
        page.fill("#payee_name", "李春花")
        page.fill("#payee_account", GOOD_CARD)
        page.screenshot(path=str(screenshot_dir / f"claim-report-{mode}.png"), full_page=True)
        page.get_by_test_id("report-submit").tap()
        # then: the amount 0 is refused on its field, nothing saved
        expect(page.get_by_test_id("error-amount_claimed")).to_contain_text("索赔金额须大于0元")
        assert not Claim.objects.exists()
        page.fill("#amount_claimed", "8600")
        page.fill("#payee_account", GOOD_CARD)
        page.get_by_test_id("report-submit").tap()
        page.wait_for_url("**/claims/*/")
        claim = Claim.objects.get()
        expect(page.get_by_test_id("claim-number")).to_have_text(claim.number)
        expect(page.get_by_test_id("checklist-missing")).to_be_visible()
        # when: a text file named .jpg, then photos of the ID card and the invoice PDF
        fake = tmp_path / "photo.jpg"
        fake.write_bytes(b"just some text")
        page.select_option("#kind", "id_card")
        page.set_input_files("#file", str(fake))
        page.get_by_test_id("upload").tap()
        expect(page.get_by_test_id("error-file")).to_contain_text("不是图片或PDF")
        for kind, name, data in (("id_card", "id.jpg", jpeg()), ("invoice", "invoice.pdf", pdf())):
            path = tmp_path / name
            path.write_bytes(data)
            page.select_option("#kind", kind)
            page.set_input_files("#file", str(path))
            page.get_by_test_id("upload").tap()
            page.wait_for_load_state()
        # then: the checklist is complete; submitting shows the step in the timeline
        expect(page.get_by_test_id("checklist-complete")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.get_by_test_id("submit").tap()
        expect(page.get_by_test_id("timeline")).to_contain_text(
            "Materials complete, waiting for review" if english else "材料已齐全，等待审核"
        )
        # 8,600 yuan is over the fast-track limit: screened and queued for an adjuster at once
        expect(page.get_by_test_id("claim-status")).to_have_text("Under review" if english else "审核中")
        page.screenshot(path=str(screenshot_dir / f"claim-detail-{mode}.png"), full_page=True)
        claim.refresh_from_db()
        assert claim.status == "under_review" and claim.materials_complete_at is not None
