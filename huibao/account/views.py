"""Account pages: sign-up, log-in (password or SMS code), staff log-in with TOTP, log-out, my account.

Views are thin: forms check fields, `services` do the work, and every log-in goes through
`authenticate(request, ...)` so django-axes counts failures and refuses locked-out users (its
middleware then answers with `account/locked_out.html`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from huibao.account.backends import auth_error
from huibao.account.errors import SmsThrottled
from huibao.account.forms import (
    PasswordLoginForm,
    SignupForm,
    SmsLoginForm,
    StaffLoginForm,
    add_domain_error,
)
from huibao.account.me import sections_for
from huibao.account.models import CodePurpose, User, UserKind
from huibao.account.roles import role_label
from huibao.account.services import register_customer, send_login_code, staff_has_totp, verify_staff_totp
from huibao.core.errors import DomainError
from huibao.core.http import client_ip


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _customer_home(request: HttpRequest) -> str:
    return _next_url(request, reverse("account:me"))


def _send_code(request: HttpRequest, form: forms.Form, purpose: str) -> int | None:
    """Handle a "send code" button (`form` bound with `sending_code=True`): send, report on the page.

    The page says the same for a registered number and for one that is not (see
    `send_login_code`). Returns the seconds to wait when throttled (the page answers 429)."""
    if not form.is_valid():
        return None
    try:
        sent = send_login_code(form.cleaned_data["phone"], purpose, client_address=client_ip(request))
    except SmsThrottled as exc:
        add_domain_error(form, exc)
        return exc.retry_after
    except DomainError as exc:
        add_domain_error(form, exc)
        return None
    messages.success(
        request,
        _("A verification code was sent to %(phone)s. It is valid for 5 minutes.")
        % {"phone": sent.receipt.phone_masked},
    )
    return None


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], retry_after: int | None
) -> HttpResponse:
    """The page; 429 with `Retry-After` when a code was asked for too often."""
    response = render(request, template, context, status=429 if retry_after else 200)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form: forms.Form
    retry_after = None
    if request.method == "POST" and request.POST.get("action") == "send_code":
        form = SignupForm(request.POST, sending_code=True)
        retry_after = _send_code(request, form, CodePurpose.SIGNUP)
    elif request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = register_customer(data["phone"], data["password"], data["code"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                login(request, user, backend="huibao.account.backends.PhonePasswordBackend")
                messages.success(request, _("Welcome to Huibao, your account is ready."))
                return redirect(_customer_home(request))
    else:
        form = SignupForm()
    return _render(
        request, "account/signup.html", {"form": form, "next": _next_url(request, "")}, retry_after
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
    retry_after = None
    if request.method == "POST" and mode == "sms":
        if request.POST.get("action") == "send_code":
            sms_form = SmsLoginForm(request.POST, sending_code=True)
            retry_after = _send_code(request, sms_form, CodePurpose.LOGIN)
        else:
            sms_form = SmsLoginForm(request.POST)
            if sms_form.is_valid():
                phone = sms_form.cleaned_data["phone"]
                user = authenticate(request, username=phone, sms_code=sms_form.cleaned_data["code"])
                if user is not None and user.kind == UserKind.CUSTOMER:
                    login(request, user)
                    return redirect(_customer_home(request))
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
                login(request, user)
                return redirect(_customer_home(request))
            if user is not None:
                _refuse_non_customer(request, phone)
            password_form.add_error(None, _("Mobile number or password is not correct."))
    context: dict[str, Any] = {
        "mode": mode,
        "password_form": password_form,
        "sms_form": sms_form,
        "next": _next_url(request, ""),
    }
    return _render(request, "account/login.html", context, retry_after)


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
            return redirect(_next_url(request, reverse("admin:index")))
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
