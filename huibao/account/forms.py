"""Account forms: field checks only; the use-cases live in `services.py`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huibao.account.errors import InvalidPhone
from huibao.account.services import clean_phone
from huibao.core.errors import DomainError

# As long as any password may be (the API's limit too): hashing is never fed a megabyte.
PASSWORD_MAX_LENGTH = 256


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a domain error inline: on its field when the form has it, else above the form."""
    if not exc.errors:
        form.add_error(None, exc.message)
        return
    for error in exc.errors:
        form.add_error(error.field if error.field in form.fields else None, error.message)


class PhoneField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "inputmode": "numeric",
                    "autocomplete": "tel",
                    "placeholder": _("11-digit mobile number"),
                }
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        try:
            return clean_phone(value)
        except InvalidPhone as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


def _code_field(label: Any, autocomplete: str = "one-time-code") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=6,
        min_length=6,
        required=False,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": autocomplete, "pattern": "[0-9]{6}"}
        ),
    )


class CodeRequestMixin(forms.Form):
    """A form with a "send code" button: bound with `sending_code=True`, only the number counts."""

    def __init__(self, *args: Any, sending_code: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sending_code = sending_code
        if sending_code:
            for name, field in self.fields.items():
                if name != "phone":
                    field.required = False

    def clean_code(self) -> str:
        code: str = self.cleaned_data.get("code") or ""
        if not code and not self.sending_code:
            raise forms.ValidationError(
                _("SMS code: enter the 6 digits sent to your phone."), code="required"
            )
        return code


# Shown under a new password before anything is typed (the validators of AUTH_PASSWORD_VALIDATORS).
PASSWORD_RULES = _("至少8位；不能全是数字；不能是常见密码（如12345678、password）；不能与手机号相近。")


def _new_password_field(label: Any, *, rules: bool) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        help_text=PASSWORD_RULES if rules else "",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class NewPasswordMixin(CodeRequestMixin):
    """A phone, its SMS code and a new password typed twice (sign-up, password reset)."""

    phone = PhoneField()
    code = _code_field(_("SMS code"))
    password = _new_password_field(_("Password"), rules=True)
    password2 = _new_password_field(_("Confirm password"), rules=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            not self.sending_code
            and data.get("password")
            and data.get("password2")
            and data["password"] != data["password2"]
        ):
            self.add_error("password2", _("Confirm password: the two passwords do not match."))
        return data


class SignupForm(NewPasswordMixin):
    agree = forms.BooleanField(
        label=_("我已阅读并同意《汇保用户服务协议》和《汇保隐私政策》"),
        required=False,
    )

    def clean_agree(self) -> bool:
        agreed = bool(self.cleaned_data.get("agree"))
        if not agreed and not self.sending_code:
            raise forms.ValidationError(
                _("用户协议和隐私政策：请阅读并勾选同意后再注册。"), code="consent_required"
            )
        return agreed


class PasswordResetForm(NewPasswordMixin):
    """找回密码: the registered number, the code sent to it, a new password."""


class ConsentForm(forms.Form):
    agree = forms.BooleanField(label=_("我已阅读并同意以上更新后的文本"), required=False)

    def clean_agree(self) -> bool:
        if not self.cleaned_data.get("agree"):
            raise forms.ValidationError(_("请阅读并勾选同意后再继续。"), code="consent_required")
        return True


class PasswordLoginForm(forms.Form):
    phone = PhoneField()
    password = forms.CharField(
        label=_("Password"),
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SmsLoginForm(CodeRequestMixin):
    phone = PhoneField()
    code = _code_field(_("SMS code"))


class StaffLoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label=_("Authenticator code"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
