"""Sign-up and log-in on a phone: the password rules before any error, large password fields with
显示/隐藏, the send-code button counting down 60 s, consent to the user agreement and the privacy
policy (refused without it, recorded with the version), 忘记密码 by SMS code, and a new version of
the privacy policy asked at the next log-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from huibao.account import consent
from huibao.account.models import Consent, LegalDocumentKind
from huibao.account.selectors import customer_by_phone
from huibao.account.sms import get_sms_backend, reset_sms_backends

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Sturdy-pass-2026"
NEW_PASSWORD = "Brand-new-pass-77"
PHONE = "13900004444"


@pytest.fixture
def sms(settings: Any) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    yield
    reset_sms_backends()


def last_code(phone: str) -> str:
    text = get_sms_backend().last_text_to(phone)  # type: ignore[attr-defined]
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text or "")
    assert match, text
    return match.group(1)


def send_code_and_check_the_countdown(page: Page) -> None:
    page.get_by_test_id("send-code").click()
    button = page.get_by_test_id("send-code")
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"^(60|59|58)秒后重新获取$"))


def test_sign_up_with_consent_then_reset_the_forgotten_password(
    live_server: Any, phone: Page, sms: None
) -> None:
    base = live_server.url
    page = phone
    # given: the sign-up page; the password rules are there before anything is typed
    page.goto(f"{base}/account/signup/", timeout=60_000)  # the live server's first page loads its URLs
    expect(page.get_by_test_id("password-rules")).to_contain_text("至少8位")
    # the password field is large and its 显示 button shows what was typed
    password = page.locator("#id_password")
    box = password.bounding_box()
    assert box is not None and box["height"] >= 44, box
    password.fill(PASSWORD)
    toggle = page.locator("[data-password-toggle=id_password]")
    toggle.click()
    expect(password).to_have_attribute("type", "text")
    expect(toggle).to_have_text("隐藏")
    toggle.click()
    expect(password).to_have_attribute("type", "password")
    # when: a code is asked for, the button counts down (the server refuses a resend for 60 s)
    page.locator("#id_phone").fill(PHONE)
    send_code_and_check_the_countdown(page)
    # and everything is filled in but the consent box
    page.locator("#id_code").fill(last_code(PHONE))
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("form.account-form button[value=signup]").click()
    # then: refused beside the box, no account
    expect(page.get_by_test_id("consent")).to_contain_text("请阅读并勾选同意后再注册")
    assert customer_by_phone(PHONE) is None
    # the texts open from their links
    expect(page.get_by_test_id("consent").get_by_role("link", name="《汇保隐私政策》")).to_be_visible()
    # when: they tick it and sign up
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#id_agree").check()
    page.locator("form.account-form button[value=signup]").click()
    expect(page.locator("h1")).to_have_text("我的")
    # then: consent to both texts recorded with their versions
    user = customer_by_phone(PHONE)
    assert user is not None
    assert sorted(Consent.objects.filter(user=user).values_list("kind", "version")) == [
        ("privacy_policy", 1),
        ("user_agreement", 1),
    ]

    # when: logged out, they forgot the password: 忘记密码 on the log-in page
    page.get_by_role("button", name="退出登录").click()
    page.goto(f"{base}/account/login/")
    page.get_by_test_id("forgot-password").click()
    expect(page.locator("h1")).to_have_text("找回密码")
    expect(page.get_by_test_id("password-rules")).to_contain_text("至少8位")
    page.locator("#id_phone").fill(PHONE)
    send_code_and_check_the_countdown(page)
    page.locator("#id_code").fill(last_code(PHONE))
    page.locator("#id_password").fill(NEW_PASSWORD)
    page.locator("#id_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="重置密码").click()
    # then: the new password logs in
    expect(page.locator(".messages")).to_contain_text("密码已重置")
    consent.publish(
        LegalDocumentKind.PRIVACY_POLICY, title="汇保隐私政策", body="第二版：新增了人脸识别信息的处理说明。"
    )
    page.locator("#id_phone").fill(PHONE)
    page.locator("#id_password").fill(NEW_PASSWORD)
    page.locator("form.account-form button[type=submit]").click()
    # and: the new privacy policy is asked for first
    expect(page.locator("h1")).to_have_text("协议更新")
    expect(page.get_by_test_id("updated-texts")).to_contain_text("《汇保隐私政策》（第2版）")
    page.get_by_label("我已阅读并同意以上更新后的文本").check()
    page.get_by_role("button", name="同意并继续").click()
    expect(page.locator("h1")).to_have_text("我的")
    assert Consent.objects.filter(user=user, kind="privacy_policy", version=2).exists()
