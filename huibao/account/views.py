"""Account pages: sign-up, log-in (password or SMS code), staff log-in with TOTP, log-out, my account.

Views are thin: forms check fields, `services` do the work, and every log-in goes through
`authenticate(request, ...)` so django-axes counts failures and refuses locked-out users (its
middleware then answers with `account/locked_out.html`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from huibao.account import consent
from huibao.account.backends import auth_error
from huibao.account.errors import SmsThrottled
from huibao.account.forms import (
    ConsentForm,
    PasswordLoginForm,
    PasswordResetForm,
    SignupForm,
    SmsLoginForm,
    StaffLoginForm,
    add_domain_error,
)
from huibao.account.me import sections_for
from huibao.account.models import CodePurpose, User, UserKind
from huibao.account.roles import role_label
from huibao.account.rules import RESEND_INTERVAL
from huibao.account.services import (
    register_customer,
    reset_password,
    send_login_code,
    staff_has_totp,
    verify_staff_totp,
)
from huibao.core.backoffice import home_for
from huibao.core.errors import DomainError, NotFound
from huibao.core.http import client_ip

RESEND_SECONDS = int(RESEND_INTERVAL.total_seconds())


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _customer_home(request: HttpRequest) -> str:
    return _next_url(request, reverse("account:me"))


@dataclass
class CodeButton:
    """What the page says about its "send code" button: the seconds it stays disabled (a code was
    just sent, or asked for too soon: the same 60 s the server enforces) and the 429 to answer."""

    countdown: int = 0
    throttled: int | None = None


def _send_code(request: HttpRequest, form: forms.Form, purpose: str) -> CodeButton:
    """Handle a "send code" button (`form` bound with `sending_code=True`): send, report on the page.

    The page says the same for a registered number and for one that is not (see
    `send_login_code`)."""
    if not form.is_valid():
        return CodeButton()
    try:
        sent = send_login_code(form.cleaned_data["phone"], purpose, client_address=client_ip(request))
    except SmsThrottled as exc:
        add_domain_error(form, exc)
        return CodeButton(countdown=min(exc.retry_after, RESEND_SECONDS), throttled=exc.retry_after)
    except DomainError as exc:
        add_domain_error(form, exc)
        return CodeButton()
    messages.success(
        request,
        _("A verification code was sent to %(phone)s. It is valid for 5 minutes.")
        % {"phone": sent.receipt.phone_masked},
    )
    return CodeButton(countdown=sent.resend_after)


def _render(request: HttpRequest, template: str, context: dict[str, Any], button: CodeButton) -> HttpResponse:
    """The page; 429 with `Retry-After` when a code was asked for too often."""
    context = {**context, "code_countdown": button.countdown}
    response = render(request, template, context, status=429 if button.throttled else 200)
    if button.throttled:
        response["Retry-After"] = str(button.throttled)
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form: forms.Form
    button = CodeButton()
    texts = consent.current_texts()
    if request.method == "POST" and request.POST.get("action") == "send_code":
        form = SignupForm(request.POST, sending_code=True)
        button = _send_code(request, form, CodePurpose.SIGNUP)
    elif request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = register_customer(
                    data["phone"],
                    data["password"],
                    data["code"],
                    consents=texts,
                    client_address=client_ip(request),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                login(request, user, backend="huibao.account.backends.PhonePasswordBackend")
                messages.success(request, _("Welcome to Huibao, your account is ready."))
                return redirect(_customer_home(request))
    else:
        form = SignupForm()
    context = {"form": form, "next": _next_url(request, ""), "legal_texts": texts}
    return _render(request, "account/signup.html", context, button)


def _logged_in(request: HttpRequest, user: User) -> HttpResponse:
    """After a customer's log-in: their page, or first the consent to texts published since
    they last agreed (PIPL: a new version is agreed to before the account is used)."""
    login(request, user)
    if consent.consents_to_renew(user):
        return redirect(f"{reverse('account:consent')}?{urlencode({'next': _customer_home(request)})}")
    return redirect(_customer_home(request))


@login_required
@require_http_methods(["GET", "POST"])
def consent_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    missing = consent.consents_to_renew(user)
    if not missing:
        return redirect(_customer_home(request))
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        consent.record_consent(user, missing, client_address=client_ip(request))
        return redirect(_customer_home(request))
    context = {
        "form": form,
        "missing": missing,
        "next": _next_url(request, ""),
        "first_time": not consent.has_consented_before(user),
    }
    return render(request, "account/consent.html", context, status=422 if form.errors else 200)


@require_GET
def legal_document(request: HttpRequest, kind: str) -> HttpResponse:
    """The current text of the user agreement or the privacy policy (or `?version=`)."""
    try:
        version = request.GET.get("version", "")
        document = (
            consent.document_version(kind, int(version))
            if version.isdigit()
            else consent.current_document(kind)
        )
    except NotFound:
        raise Http404("no such document") from None
    return render(request, "account/legal.html", {"document": document})


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """忘记密码: a code by SMS to the registered number (the log-in code's limits), a new password."""
    form: forms.Form
    button = CodeButton()
    if request.method == "POST" and request.POST.get("action") == "send_code":
        form = PasswordResetForm(request.POST, sending_code=True)
        button = _send_code(request, form, CodePurpose.PASSWORD_RESET)
    elif request.method == "POST":
        form = PasswordResetForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                reset_password(data["phone"], data["code"], data["password"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("密码已重置，请用新密码登录。"))
                return redirect(f"{reverse('account:login')}?{urlencode({'next': _next_url(request, '')})}")
    else:
        form = PasswordResetForm()
    return _render(
        request, "account/password_reset.html", {"form": form, "next": _next_url(request, "")}, button
    )


def _refuse_non_customer(request: HttpRequest, username: str) -> None:
    """A staff account used on the customer page counts as a failed log-in (no hint given)."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    mode = request.POST.get("mode") or request.GET.get("mode") or "password"
    mode = "sms" if mode == "sms" else "password"
    password_form: forms.Form = PasswordLoginForm()
    sms_form: forms.Form = SmsLoginForm()
    button = CodeButton()
    if request.method == "POST" and mode == "sms":
        if request.POST.get("action") == "send_code":
            sms_form = SmsLoginForm(request.POST, sending_code=True)
            button = _send_code(request, sms_form, CodePurpose.LOGIN)
        else:
            sms_form = SmsLoginForm(request.POST)
            if sms_form.is_valid():
                phone = sms_form.cleaned_data["phone"]
                user = authenticate(request, username=phone, sms_code=sms_form.cleaned_data["code"])
                if user is not None and user.kind == UserKind.CUSTOMER:
                    return _logged_in(request, user)
                error = auth_error(request)
                if error is not None:
                    add_domain_error(sms_form, error)
                else:
                    sms_form.add_error(None, _("Mobile number or verification code is not correct."))
    elif request.method == "POST":
        password_form = PasswordLoginForm(request.POST)
        if password_form.is_valid():
            phone = password_form.cleaned_data["phone"]
            user = authenticate(request, username=phone, password=password_form.cleaned_data["password"])
            if user is not None and user.kind == UserKind.CUSTOMER:
                return _logged_in(request, user)
            if user is not None:
                _refuse_non_customer(request, phone)
            password_form.add_error(None, _("Mobile number or password is not correct."))
    context: dict[str, Any] = {
        "mode": mode,
        "password_form": password_form,
        "sms_form": sms_form,
        "next": _next_url(request, ""),
    }
    return _render(request, "account/login.html", context, button)


@require_http_methods(["GET", "POST"])
def staff_login(request: HttpRequest) -> HttpResponse:
    """Username + password + TOTP code; a staff user without a confirmed device cannot log in."""
    form = StaffLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        device = None
        if user is not None and user.kind == UserKind.STAFF and user.is_staff:
            if not staff_has_totp(user):
                form.add_error(
                    None,
                    _("Authenticator: this account has no confirmed authenticator device. Ask an admin."),
                )
                return render(
                    request, "account/staff_login.html", {"form": form, "next": _next_url(request, "")}
                )
            device = verify_staff_totp(user, form.cleaned_data["otp_token"])
        if user is not None and device is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, device)
            return redirect(_next_url(request, home_for(user) or reverse("admin:index")))
        if user is not None:
            # The password was right but the second factor was not: still a failed log-in.
            user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        form.add_error(None, _("Username, password or authenticator code is not correct."))
    return render(request, "account/staff_login.html", {"form": form, "next": _next_url(request, "")})


@require_http_methods(["GET", "POST"])
def logout_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        logout(request)
        messages.info(request, _("You have logged out."))
        return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "account/logout.html")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    roles = [role_label(g.name) for g in user.groups.all()] if user.kind == UserKind.STAFF else []
    # A customer's policies and applications, from the domains that own them (`account.me`).
    sections = sections_for(user) if user.is_customer else []
    return render(request, "account/me.html", {"account": user, "roles": roles, "sections": sections})
