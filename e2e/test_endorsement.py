"""A customer changes the beneficiary of their policy on a phone: from the policy's hub to its
changes page, the form (a bad share refused beside its field), the summary, the SMS code, and
the applied change with the link to the signed endorsement PDF (批单)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from huibao.account.sms import get_sms_backend
from huibao.esign import pdf
from huibao.policy.models import PolicyBeneficiary
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Sturdy-pass-2026"
SPOUSE_ID = "110105198802020310"


@pytest.fixture
def policy(settings: Any, tmp_path: Path) -> Iterator[Any]:
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    user = pf.customer("13900006677")
    user.set_password(PASSWORD)
    user.save()
    yield ef.covered_policy(customer=user)
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()


def test_a_customer_changes_a_beneficiary_on_a_phone(
    live_server: Any, phone: Page, policy: Any, screenshot_dir: Path
) -> None:
    page = phone
    base = live_server.url
    changes = f"/policy/mine/{policy.public_id}/changes/"
    detail = f"/policy/mine/{policy.public_id}/"
    page.goto(f"{base}/account/login/?next={detail}")
    page.locator("#id_phone").fill("13900006677")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.account-form button[type=submit]").click()
    # one tap from the policy: its "what can I do" hub
    page.locator("[data-testid=actions] a[data-action=endorse]").click()
    expect(page).to_have_url(f"{base}{changes}")
    # the changes the product allows, as buttons
    page.get_by_test_id("kind-beneficiaries").click()
    row = page.get_by_test_id("beneficiary-0")
    row.locator("input[name='b-0-name']").fill("王大伟")
    row.locator("input[name='b-0-id_number']").fill(SPOUSE_ID)
    row.locator("select[name='b-0-relation']").select_option("spouse")
    row.locator("input[name='b-0-share_percent']").fill("50.005")
    page.get_by_test_id("submit-change").click()
    # a share with three decimals is refused beside its field, nothing recorded
    expect(page.get_by_test_id("beneficiary-0")).to_contain_text("受益比例最多保留两位小数")
    page.get_by_test_id("beneficiary-0").locator("input[name='b-0-share_percent']").fill("100")
    page.get_by_test_id("submit-change").click()
    page.screenshot(path=str(screenshot_dir / "endorsement-form-error.png"), full_page=True)
    # the summary: before and after (ID numbers masked), no premium change
    expect(page.get_by_test_id("after")).to_contain_text("王大伟")
    expect(page.get_by_test_id("premium")).to_contain_text("不涉及保险费变化")
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_test_id("send-code").click()
    text = get_sms_backend().last_text_to(ef.HOLDER_PHONE)  # type: ignore[attr-defined]
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", text or "")
    assert code, text
    page.locator("#id_code").fill(code.group(1))
    page.get_by_test_id("confirm").click()
    # applied: the new version and the PDF link
    expect(page.get_by_test_id("applied")).to_contain_text("保单数据第2版")
    page.screenshot(path=str(screenshot_dir / "endorsement-applied.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("applied").get_by_test_id("endorsement-pdf").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    assert list(PolicyBeneficiary.objects.filter(policy=policy).values_list("name", flat=True)) == ["王大伟"]
    page.goto(f"{base}{changes}")
    expect(page.get_by_test_id("endorsement-status").first).to_have_text("已生效")
