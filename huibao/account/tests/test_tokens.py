"""Personal API access tokens: issued by logging in through the API (password, SMS code, or staff
password + TOTP), used as `Authorization: Bearer …` on the existing `/api/v1` endpoints without a
session or CSRF header, listed without secrets, revoked by their owner only; refused tokens are
401 and change nothing; failed log-ins are locked out like on the log-in page."""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

import pyotp
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huibao.account.demo import totp_secret_base32
from huibao.account.models import ApiToken, User
from huibao.account.services import create_staff_user, customer_username
from huibao.account.tokens import authenticate_token, issue_token, revoke_token, tokens_of
from huibao.application.models import Application
from huibao.application.tests import factories as f
from huibao.core.models import AuditEntry
from huibao.rating.models import Quote

from .conftest import PASSWORD, code_from

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/auth/tokens"
PHONE = "13912345678"


def call(client: Client, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    response = client.generic(
        method,
        path,
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        **extra,
    )
    is_json = response.get("Content-Type", "").startswith("application/json")
    response.data = response.json() if is_json else None
    return response


@pytest.fixture
def client() -> Client:
    """An app: no cookies of its own, and Django's CSRF check enforced as for a real client."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR="10.1.2.3")


def issue(client: Client, **body: Any) -> Any:
    return call(client, "POST", TOKENS, body)


def password_token(client: Client, name: str = "汇保App") -> str:
    response = issue(client, phone=PHONE, password=PASSWORD, name=name)
    assert response.status_code == 201, response.data
    return str(response.data["token"])


def field_codes(response: Any) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.data["errors"]}


# --- issuing ------------------------------------------------------------------------------------


def test_issue_with_password_returns_the_secret_once_and_stores_only_its_hash(client, customer):
    # when
    response = issue(client, phone=PHONE, password=PASSWORD, name="汇保App iPhone")
    # then
    assert response.status_code == 201, response.data
    body = response.data
    secret = body["token"]
    assert secret.startswith("hb_") and len(secret) >= 40
    assert body["key_prefix"] == secret[:8] and body["name"] == "汇保App iPhone"
    row = ApiToken.objects.get(pk=body["id"])
    assert row.user == customer
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    expected_expiry = timezone.now() + datetime.timedelta(days=settings.HUIBAO_API_TOKEN_DAYS)
    assert abs((row.expires_at - expected_expiry).total_seconds()) < 60
    # the secret is in no column of the token, and not in the audit chain
    stored = [str(getattr(row, field.attname)) for field in ApiToken._meta.concrete_fields]
    assert not any(secret in value or secret[8:] in value for value in stored)
    audit = AuditEntry.objects.get(action="account.api_token.issue")
    assert audit.object_id == str(row.pk) and audit.actor_id == customer.pk
    assert secret[8:] not in json.dumps([audit.before, audit.after])
    assert row.key_hash not in json.dumps([audit.before, audit.after])
    # and no session was opened
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    customer.refresh_from_db()
    assert customer.last_login is not None


def test_issue_with_an_sms_code(client, customer, outbox):
    # given: the app asks for a log-in code
    sent = call(client, "POST", "/api/v1/auth/sms-codes", {"phone": PHONE})
    assert sent.status_code == 202, sent.data
    assert sent.data["phone"] == "139****5678" and sent.data["resend_after"] == 60
    code = code_from(outbox, PHONE)
    # when
    response = issue(client, phone=PHONE, sms_code=code, name="partner")
    # then
    assert response.status_code == 201, response.data
    assert ApiToken.objects.get(pk=response.data["id"]).user == customer
    # a code works once
    again = issue(client, phone=PHONE, sms_code=code)
    assert again.status_code == 422 and field_codes(again) == {"sms_code": "code_expired"}


def test_a_wrong_sms_code_names_the_field_and_counts(client, customer, outbox):
    call(client, "POST", "/api/v1/auth/sms-codes", {"phone": PHONE})
    wrong = f"{(int(code_from(outbox, PHONE)) + 1) % 1_000_000:06d}"
    response = issue(client, phone=PHONE, sms_code=wrong)
    assert response.status_code == 401 and response.data["code"] == "invalid_credentials"
    assert AccessAttempt.objects.get(username=customer.username).failures_since_start == 1
    assert not ApiToken.objects.exists()


def test_schema_and_input_errors_name_the_field(client, customer):
    cases = [
        ({"password": PASSWORD}, {"phone": "required"}),
        ({"phone": "12345", "password": PASSWORD}, {"phone": "phone_invalid"}),
        ({"phone": PHONE}, {"password": "required"}),
        ({"phone": PHONE, "password": PASSWORD, "name": "x" * 65}, {"name": "string_too_long"}),
        ({"phone": 13912345678, "password": PASSWORD}, {"phone": "string_type"}),
    ]
    for body, expected in cases:
        response = issue(client, **body)
        assert response.status_code == 422, (body, response.data)
        assert response.data["code"] in ("validation_failed", "phone_invalid")
        assert field_codes(response) == expected, body
        assert all(e["message"] for e in response.data["errors"])
    assert not ApiToken.objects.exists()
    assert not AccessAttempt.objects.exists()  # malformed requests never reached the password check


def test_schema_error_paths_use_the_apis_field_names():
    from huibao.api import schema_field_path

    assert schema_field_path(("body", "payload", "insured", 0, "beneficiaries")) == "insured[0].beneficiaries"
    assert schema_field_path(("body", "payload")) == "payload"
    assert schema_field_path(("query", "limit")) == "limit"
    assert schema_field_path(("path", "public_id")) == "public_id"


def test_other_endpoints_answer_schema_errors_in_the_same_shape(client, customer):
    token = issue_token(customer, "app").secret
    response = call(client, "POST", "/api/v1/applications", {"channel": "app"}, token=token)
    assert response.status_code == 422
    assert response.data["code"] == "validation_failed"
    assert field_codes(response) == {"quote_ids": "required"}


# --- using a token on the existing endpoints ----------------------------------------------------


def test_a_bearer_token_drives_the_application_flow_without_csrf(client, customer):
    # given: a product, and an app holding a token (no session, no CSRF cookie or header)
    product = f.simple_product(min_read_seconds=0)
    token = password_token(client)
    # when
    listed = call(client, "GET", "/api/v1/applications", token=token)
    quote = call(
        client,
        "POST",
        "/api/v1/quotes",
        {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}},
        token=token,
    )
    started = call(
        client,
        "POST",
        "/api/v1/applications",
        {"quote_ids": [quote.data["id"]], "channel": "app"},
        token=token,
    )
    # then
    assert listed.status_code == 200 and listed.data == {"total": 0, "items": []}
    assert quote.status_code == 201, quote.data
    assert started.status_code == 201, started.data
    app = Application.objects.get()
    assert app.customer == customer
    assert call(client, "GET", "/api/v1/applications", token=token).data["total"] == 1
    assert call(client, "GET", f"/api/v1/applications/{started.data['id']}", token=token).status_code == 200
    # the token's use was noted, and nothing was put in a session
    assert ApiToken.objects.get().last_used_at is not None
    assert settings.SESSION_COOKIE_NAME not in started.cookies


def test_a_session_without_csrf_is_still_refused_on_post(client, customer):
    # given: a logged-in browser session, but no CSRF header
    product = f.simple_product(min_read_seconds=0)
    quote = f.quote(product, customer)
    client.force_login(customer)
    # when
    response = call(client, "POST", "/api/v1/applications", {"quote_ids": [str(quote.pk)], "channel": "web"})
    # then
    assert response.status_code == 403
    assert not Application.objects.exists()
    # while reading with the session works as before
    assert call(client, "GET", "/api/v1/applications").status_code == 200


def test_a_bearer_token_wins_over_a_session_and_leaves_it_untouched(client, customer):
    # given: a browser session of another customer, and this customer's token on the same request
    other = f.customer("13700001111")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(other)
    session_cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    token = password_token(client)  # before the cookie: with one, even a log-in needs the CSRF token
    client.cookies[settings.SESSION_COOKIE_NAME] = session_cookie
    # when
    response = call(client, "GET", TOKENS, token=token)
    # then: the token's user answers, and the session was neither read nor written
    assert response.status_code == 200
    assert [t["key_prefix"] for t in response.data["items"]] == [token[:8]]
    assert "Cookie" not in response.get("Vary", "")
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert browser.session["_auth_user_id"] == str(other.pk)


@pytest.mark.parametrize("kind", ["revoked", "expired", "garbage", "unknown", "empty", "inactive_user"])
def test_refused_tokens_are_401_and_change_nothing(client, customer, kind):
    # given
    product = f.simple_product(min_read_seconds=0)
    quote = f.quote(product, customer)
    issued = issue_token(customer, "app")
    token = issued.secret
    if kind == "revoked":
        revoke_token(issued.token)
    elif kind == "expired":
        ApiToken.objects.filter(pk=issued.token.pk).update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
    elif kind == "garbage":
        token = "not-a-token"
    elif kind == "unknown":
        token = "hb_" + "A" * 43
    elif kind == "empty":
        token = ""
    elif kind == "inactive_user":
        User.objects.filter(pk=customer.pk).update(is_active=False)
    quotes_before = Quote.objects.count()
    audit_before = AuditEntry.objects.count()
    # when
    responses = [
        call(client, "GET", "/api/v1/applications", token=token),
        call(client, "POST", "/api/v1/applications", {"quote_ids": [str(quote.pk)]}, token=token),
        call(
            client,
            "POST",
            "/api/v1/quotes",
            {"product_code": product.code, "plan_code": "basic"},
            token=token,
        ),
        call(client, "DELETE", f"{TOKENS}/{issued.token.pk}", token=token),
    ]
    # then
    for response in responses:
        assert response.status_code == 401
        assert response.data == {
            "code": "invalid_token",
            "message": "令牌无效或已过期，请重新获取",
            "errors": [],
        }
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Application.objects.exists()
    assert Quote.objects.count() == quotes_before
    assert AuditEntry.objects.count() == audit_before
    token_row = ApiToken.objects.get(pk=issued.token.pk)
    assert token_row.last_used_at is None
    assert (token_row.revoked_at is not None) == (kind == "revoked")


def test_a_bearer_header_outside_the_api_is_ignored(client, customer):
    token = password_token(client)
    response = client.get(reverse("account:me"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 302 and response.url.startswith(reverse("account:login"))


# --- listing and revoking -----------------------------------------------------------------------


def test_list_shows_my_live_tokens_without_secrets(client, customer):
    first = password_token(client, "phone")
    second = password_token(client, "tablet")
    revoke_token(ApiToken.objects.get(key_prefix=first[:8]))
    other = f.customer("13700001111")
    issue_token(other, "not mine")
    # when
    live = call(client, "GET", TOKENS, token=second)
    everything = call(client, "GET", f"{TOKENS}?include_inactive=true", token=second)
    # then
    assert live.status_code == 200
    assert [(t["name"], t["active"], t["current"]) for t in live.data["items"]] == [("tablet", True, True)]
    assert [(t["name"], t["active"]) for t in everything.data["items"]] == [
        ("tablet", True),
        ("phone", False),
    ]
    text = json.dumps(everything.data)
    assert first[8:] not in text and second[8:] not in text and "token" not in everything.data["items"][0]


def test_a_customer_revokes_their_token_but_not_anothers(client, customer):
    # given
    mine = password_token(client)
    other = f.customer("13700001111")
    theirs = issue_token(other, "their app")
    # when: another's token
    refused = call(client, "DELETE", f"{TOKENS}/{theirs.token.pk}", token=mine)
    # then: 404 as if it did not exist, and it still works
    assert refused.status_code == 404 and refused.data["code"] == "token_not_found"
    assert authenticate_token(theirs.secret) is not None
    # when: my own, with my token
    mine_id = ApiToken.objects.get(key_prefix=mine[:8]).pk
    revoked = call(client, "DELETE", f"{TOKENS}/{mine_id}", token=mine)
    # then
    assert revoked.status_code == 204
    assert ApiToken.objects.get(pk=mine_id).revoked_at is not None
    assert call(client, "GET", TOKENS, token=mine).status_code == 401
    entry = AuditEntry.objects.get(action="account.api_token.revoke")
    assert entry.object_id == str(mine_id) and entry.actor_id == customer.pk


def test_a_session_may_list_and_revoke_tokens_with_csrf(customer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    issued = issue_token(customer, "old phone")
    assert [t["name"] for t in call(browser, "GET", TOKENS).data["items"]] == ["old phone"]
    assert call(browser, "DELETE", f"{TOKENS}/{issued.token.pk}").status_code == 403  # no CSRF header
    browser.get(reverse("account:me"))  # sets the CSRF cookie
    csrf = browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = browser.delete(f"{TOKENS}/{issued.token.pk}", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 204
    assert authenticate_token(issued.secret) is None


def test_anonymous_list_is_401(client):
    assert call(client, "GET", TOKENS).status_code == 401


# --- lock-out -----------------------------------------------------------------------------------


def test_wrong_passwords_are_counted_and_locked_out_like_the_log_in_page(client, customer):
    # given: five wrong passwords
    for _ in range(5):
        response = issue(client, phone=PHONE, password="wrong-password")
        assert response.status_code in (401, 429)
    assert response.status_code == 429  # the fifth already locks
    # when: the right one
    response = issue(client, phone=PHONE, password=PASSWORD)
    # then
    assert response.status_code == 429 and response.data["code"] == "locked_out"
    assert int(response["Retry-After"]) > 0
    assert not ApiToken.objects.exists()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == [customer.username]
    # and the log-in page is locked for this number and address too
    page = Client(REMOTE_ADDR="10.1.2.3").post(
        reverse("account:login"), {"mode": "password", "phone": PHONE, "password": PASSWORD}
    )
    assert page.status_code == 429


def test_a_wrong_password_is_401_and_a_later_success_resets_the_count(client, customer):
    wrong = issue(client, phone=PHONE, password="wrong-password")
    assert wrong.status_code == 401
    assert wrong.data == {"code": "invalid_credentials", "message": "手机号或密码错误", "errors": []}
    assert AccessAttempt.objects.get(username=customer_username(PHONE)).failures_since_start == 1
    assert issue(client, phone=PHONE, password=PASSWORD).status_code == 201
    assert not AccessAttempt.objects.exists()


def test_failures_on_the_log_in_page_count_for_the_api(client, customer):
    page = Client(REMOTE_ADDR="10.1.2.3")
    for _ in range(5):
        page.post(reverse("account:login"), {"mode": "password", "phone": PHONE, "password": "wrong"})
    assert issue(client, phone=PHONE, password=PASSWORD).status_code == 429


# --- staff --------------------------------------------------------------------------------------


def test_staff_get_no_token_without_totp(client, staff_with_totp):
    _user, device = staff_with_totp
    # the customer way: no customer has this "number"
    assert issue(client, phone="uw_li", password=PASSWORD).status_code == 422
    # password only
    no_code = issue(client, username="uw_li", password=PASSWORD)
    assert no_code.status_code == 422 and field_codes(no_code) == {"totp": "required"}
    # a wrong code is a counted failure
    right = pyotp.TOTP(totp_secret_base32(device)).now()
    wrong = issue(client, username="uw_li", password=PASSWORD, totp=f"{(int(right) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 401 and wrong.data["code"] == "invalid_credentials"
    assert AccessAttempt.objects.get(username="uw_li").failures_since_start == 1
    # a staff account without a device
    create_staff_user("cs_chen", PASSWORD, ["customer_service"])
    no_device = issue(client, username="cs_chen", password=PASSWORD, totp="123456")
    assert no_device.status_code == 403 and no_device.data["code"] == "totp_required"
    assert not ApiToken.objects.exists()


def test_a_customer_cannot_use_the_staff_way(client, customer):
    response = issue(client, username=customer.username, password=PASSWORD, totp="123456")
    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_verified_staff_get_a_token_that_carries_them_but_not_the_back_office(client, staff_with_totp):
    # given
    user, device = staff_with_totp
    code = pyotp.TOTP(totp_secret_base32(device)).now()
    # when
    response = issue(client, username="uw_li", password=PASSWORD, totp=code, name="ops script")
    # then
    assert response.status_code == 201, response.data
    token = response.data["token"]
    assert ApiToken.objects.get().user == user
    listed = call(client, "GET", TOKENS, token=token)
    assert listed.status_code == 200 and listed.data["items"][0]["name"] == "ops script"
    # the token opens no back-office page: the admin still wants a session verified by TOTP
    admin = client.get(reverse("admin:index"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert admin.status_code == 302
    # and a staff member who loses staff status loses the token's use
    User.objects.filter(pk=user.pk).update(is_staff=False)
    assert call(client, "GET", TOKENS, token=token).status_code == 401


# --- the rules, directly ------------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(customer):
    issued = issue_token(customer, "app")
    start = timezone.now()
    assert authenticate_token(issued.secret, now=start) is not None
    assert ApiToken.objects.get().last_used_at == start
    authenticate_token(issued.secret, now=start + datetime.timedelta(seconds=30))
    assert ApiToken.objects.get().last_used_at == start
    later = start + datetime.timedelta(seconds=61)
    authenticate_token(issued.secret, now=later)
    assert ApiToken.objects.get().last_used_at == later


def test_lifetime_follows_the_setting(customer, settings):
    settings.HUIBAO_API_TOKEN_DAYS = 7
    issued = issue_token(customer, "")
    assert issued.token.name == "API"
    delta = issued.token.expires_at - issued.token.created_at
    assert datetime.timedelta(days=7) - delta < datetime.timedelta(seconds=5)


def test_revoke_is_idempotent_and_audited_once(customer):
    issued = issue_token(customer, "app")
    assert revoke_token(issued.token) is True
    assert revoke_token(issued.token) is False
    assert AuditEntry.objects.filter(action="account.api_token.revoke").count() == 1
    assert list(tokens_of(customer)) == []
    assert list(tokens_of(customer, include_inactive=True)) == [issued.token]


def test_admin_lists_and_revokes_tokens(customer):
    from huibao.account.services import enrol_totp

    admin_user = create_staff_user("admin_wang", PASSWORD, ["admin"])
    device = enrol_totp(admin_user)
    issued = issue_token(customer, "app")
    browser = Client()
    login = browser.post(
        reverse("account:staff_login"),
        {
            "username": "admin_wang",
            "password": PASSWORD,
            "otp_token": pyotp.TOTP(totp_secret_base32(device)).now(),
        },
    )
    assert login.status_code == 302
    changelist = reverse("admin:account_apitoken_changelist")
    page = browser.get(changelist)
    assert page.status_code == 200 and issued.token.key_prefix in page.content.decode()
    assert issued.secret[8:] not in page.content.decode()
    response = browser.post(
        changelist, {"action": "revoke_action", "_selected_action": [issued.token.pk], "index": 0}
    )
    assert response.status_code == 302
    assert authenticate_token(issued.secret) is None
    assert AuditEntry.objects.get(action="account.api_token.revoke").actor_id == admin_user.pk


def test_openapi_documents_the_bearer_token_on_protected_endpoints(client) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert {"bearerToken": []} in schema["paths"]["/api/v1/applications"]["get"]["security"]
    assert "security" not in schema["paths"]["/api/v1/products"]["get"]  # public stays public
