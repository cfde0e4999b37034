"""Account use-cases: one-time SMS codes, customer sign-up, staff accounts and their TOTP devices.

SMS codes live in `PhoneCode` (one row per number and purpose): the code is stored as a keyed
HMAC, never in the clear; it expires after 5 minutes, a new one can be asked for after 60
seconds, and after 5 wrong tries it is burnt. Log-in itself goes through
`django.contrib.auth.authenticate` (see `backends.py`) so django-axes counts every failure.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import match_token, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account import consent, rules, throttle
from huibao.account.errors import (
    CodeExpired,
    CodeInvalid,
    InvalidPhone,
    PhoneAlreadyRegistered,
    SmsThrottled,
    TooManyAttempts,
)
from huibao.account.models import CodePurpose, PhoneCode, User, UserKind
from huibao.account.selectors import customer_by_phone, phone_hash_of, phone_is_registered
from huibao.account.sms import SmsReceipt, get_sms_backend
from huibao.core import audit
from huibao.core.crypto import key_ring
from huibao.core.errors import FieldError, ValidationFailed


@dataclass(frozen=True, slots=True)
class CodeSent:
    receipt: SmsReceipt
    expires_at: datetime
    resend_after: int  # seconds


def clean_phone(raw: str, *, field: str = "phone") -> str:
    """Normalise a mainland mobile number or raise `InvalidPhone` naming the field."""
    phone = rules.normalize_phone(raw)
    if not rules.is_valid_phone(phone):
        message = _("Mobile number: enter an 11-digit mainland China mobile number starting with 13-19.")
        raise InvalidPhone(message, errors=[FieldError(field, InvalidPhone.code, message)])
    return phone


def customer_username(phone: str) -> str:
    """The `username` of a customer: a pseudonym derived from the number's keyed hash.

    The mobile number is the customer's log-in name, but it must not sit in clear text in
    `username` (nor in django-axes' attempt log): `axes_username` maps a number to this value,
    so failures before and the reset after a successful log-in land on the same key.
    """
    return "c_" + phone_hash_of(phone)[:32]


def _digest(code: str, *, salt: str, phone_hash: str, purpose: str) -> str:
    return key_ring().lookup_hash(f"{salt}:{code}", context=f"account.otp:{purpose}:{phone_hash}")


def send_servicing_code(phone: str, *, operation: str, client_address: str | None = None) -> CodeSent:
    """Send a code confirming a change to one's own policy (保全) to the number on the policy.

    `operation` names what is being confirmed in the text (e.g. 「退保」); the caller has already
    checked that `phone` is the policy holder's. Checked with `verify_code(phone, "servicing", …)`
    or `require_code`; the same resend wait and limits as the log-in codes."""
    return send_login_code(phone, CodePurpose.SERVICING, client_address=client_address, operation=operation)


def send_login_code(
    phone: str,
    purpose: str = CodePurpose.LOGIN,
    *,
    client_address: str | None = None,
    operation: str = "",
) -> CodeSent:
    """Send a fresh 6-digit code for `purpose` ("login", "signup", "password_reset" or "servicing")
    by SMS (a password-reset code only to a registered number, as a log-in code).

    The answer does not depend on whether the number is registered, so it cannot be used to find
    out who is a customer: for a log-in code to an unknown number, or a sign-up code to a known
    one, the number gets a notice instead of the code (telling its owner to sign up, or to log
    in), and the code row is stored all the same, with a code nobody is told — the same work, the
    same resend wait, the same limits. Such a code can never log in nor sign up.

    Raises `InvalidPhone`, `SmsThrottled` (asked again within 60 s, too many codes for the number
    or from `client_address`, or the gateway's limit) and `SmsDeliveryFailed`. A failed send
    leaves the previous code as it was.
    """
    throttle.check_address(client_address)
    phone = clean_phone(phone)
    purpose = CodePurpose(purpose)
    registered = phone_is_registered(phone)
    usable = (
        True
        if purpose == CodePurpose.SERVICING
        else registered
        if purpose in (CodePurpose.LOGIN, CodePurpose.PASSWORD_RESET)
        else not registered
    )
    phone_hash = phone_hash_of(phone)
    now = timezone.now()
    code = f"{secrets.randbelow(10**rules.CODE_LENGTH):0{rules.CODE_LENGTH}d}"
    salt = secrets.token_hex(8)
    minutes = int(rules.CODE_TTL.total_seconds() // 60)
    if purpose == CodePurpose.SERVICING:
        text = _(
            "【汇保】您正在办理保单业务：%(operation)s。"
            "验证码 %(code)s，%(minutes)d 分钟内有效，请勿泄露给他人。"
        ) % {"operation": operation, "code": code, "minutes": minutes}
    elif usable:
        text = _(
            "[Huibao] Your verification code is %(code)s, valid for %(minutes)d minutes. Do not share it."
        ) % {"code": code, "minutes": minutes}
    else:
        text = _notice(purpose)
    try:
        with transaction.atomic():
            row = PhoneCode.objects.select_for_update().filter(phone_hash=phone_hash, purpose=purpose).first()
            wait = rules.resend_wait(now=now, last_sent_at=row.sent_at if row else None)
            if wait:
                raise SmsThrottled(
                    _("Verification code: please wait %(seconds)d seconds before asking again.")
                    % {"seconds": wait},
                    retry_after=wait,
                )
            throttle.check_number(phone_hash)
            row = row or PhoneCode(phone_hash=phone_hash, purpose=purpose)
            row.code_digest = _digest(code, salt=salt, phone_hash=phone_hash, purpose=purpose)
            row.salt = salt
            row.sent_at = now
            row.expires_at = now + rules.CODE_TTL
            row.attempts = 0
            row.burnt = False
            # Sent while the row is locked: if the gateway refuses, the new code is rolled back.
            # `template`/`params`: for gateways that send registered templates (阿里云短信).
            receipt = get_sms_backend().send(
                phone,
                text,
                template=(
                    "account.servicing_code"
                    if purpose == CodePurpose.SERVICING
                    else "account.login_code"
                    if usable
                    else f"account.{purpose}_notice"
                ),
                params=(
                    {"code": code, "operation": operation}
                    if purpose == CodePurpose.SERVICING
                    else {"code": code}
                    if usable
                    else {}
                ),
            )
            row.receipt_id = receipt.receipt_id[:64]
            row.save()
    except IntegrityError as exc:  # a concurrent first send for the same number won the insert
        raise SmsThrottled(
            _("Verification code: a code was just sent, please wait before asking again."),
            retry_after=int(rules.RESEND_INTERVAL.total_seconds()),
        ) from exc
    return CodeSent(
        receipt=receipt, expires_at=row.expires_at, resend_after=int(rules.RESEND_INTERVAL.total_seconds())
    )


def _notice(purpose: str) -> str:
    """What a number gets instead of a code it could not use (see `send_login_code`)."""
    if purpose == CodePurpose.LOGIN:
        return _(
            "【汇保】有人用本号码申请登录汇保，但本号码尚未注册。如需投保，请先注册；如非本人操作，请忽略本短信。"
        )
    if purpose == CodePurpose.PASSWORD_RESET:
        return _(
            "【汇保】有人用本号码申请找回汇保密码，但本号码尚未注册。如需投保，请先注册；如非本人操作，请忽略本短信。"
        )
    return _("【汇保】有人用本号码申请注册汇保，但本号码已经注册，请直接登录。如非本人操作，请忽略本短信。")


def verify_code(phone: str, purpose: str, code: str) -> bool:
    """Check a code; True uses it up. False: wrong digits (the try is counted).

    Raises `CodeInvalid` (malformed, or none was sent), `CodeExpired` (older than 5 minutes or
    already used) and `TooManyAttempts` (the 5th wrong try burns the code; later tries, even
    with the right digits, are refused).
    """
    phone = clean_phone(phone)
    purpose = CodePurpose(purpose)
    code = (code or "").strip()
    if len(code) != rules.CODE_LENGTH or not code.isdigit():
        raise CodeInvalid(_("Verification code: enter the 6 digits from the SMS."))
    phone_hash = phone_hash_of(phone)
    with transaction.atomic():
        row = PhoneCode.objects.select_for_update().filter(phone_hash=phone_hash, purpose=purpose).first()
        if row is None:
            raise CodeInvalid(_("Verification code: no code was sent to this number, please request one."))
        expected = row.code_digest
        given = _digest(code, salt=row.salt, phone_hash=phone_hash, purpose=purpose)
        outcome = rules.check_code(
            now=timezone.now(),
            expires_at=row.expires_at,
            attempts=row.attempts,
            burnt=row.burnt,
            matches=hmac.compare_digest(expected, given),
        )
        if outcome.reason == "ok":
            row.burnt = True
            row.save(update_fields=["burnt"])
        elif outcome.reason in ("mismatch", "exhausted") and not row.burnt:
            row.attempts += 1
            row.burnt = outcome.reason == "exhausted"
            row.save(update_fields=["attempts", "burnt"])
    # Raised after the commit, so the counted attempt is kept.
    if outcome.reason == "exhausted":
        raise TooManyAttempts(_("Verification code: too many wrong tries, please request a new code."))
    if outcome.reason in ("expired", "burnt"):
        raise CodeExpired(
            _("Verification code: the code has expired or was already used, please request a new one.")
        )
    return outcome.ok


def require_code(phone: str, purpose: str, code: str) -> None:
    """`verify_code` that raises `CodeInvalid` for wrong digits too."""
    if not verify_code(phone, purpose, code):
        raise CodeInvalid(_("Verification code: the code is not correct."))


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        messages = [str(m) for m in exc.messages]
        raise ValidationFailed(
            _("Password: %(problems)s") % {"problems": " ".join(messages)},
            errors=[FieldError("password", "password_weak", m) for m in messages],
        ) from exc


def register_customer(
    phone: str,
    password: str,
    code: str,
    *,
    display_name: str = "",
    consents: list[consent.CurrentText] | None = None,
    client_address: str | None = None,
) -> User:
    """Create a customer after the sign-up code proved the number, with their consent to
    `consents` (the texts shown on the sign-up page) recorded in the same transaction. Raises the
    errors above, `PhoneAlreadyRegistered`, or `ValidationFailed` on `password`."""
    phone = clean_phone(phone)
    user = User(username=customer_username(phone), kind=UserKind.CUSTOMER, display_name=display_name[:64])
    user.set_phone(phone)
    _validate_password(password, user)
    # The code first: only who holds the number learns that it is registered (a known number
    # was sent a notice, not a code, so its sign-up code is never right).
    require_code(phone, CodePurpose.SIGNUP, code)
    if phone_is_registered(phone):
        raise PhoneAlreadyRegistered(
            _("Mobile number: this number is already registered, please log in."),
            errors=[
                FieldError("phone", PhoneAlreadyRegistered.code, _("This number is already registered."))
            ],
        )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            audit.record(
                "account.customer.register",
                "account.user",
                str(user.pk),
                actor=user,
                after=audit.snapshot(user),
            )
            if consents:
                consent.record_consent(user, consents, client_address=client_address)
    except IntegrityError as exc:
        raise PhoneAlreadyRegistered(
            _("Mobile number: this number is already registered, please log in.")
        ) from exc
    return user


def reset_password(phone: str, code: str, password: str) -> User:
    """A new password for the customer of `phone`, proved by a password-reset SMS code. The same
    errors as sign-up (the code, or `ValidationFailed` on `password`); an unknown number was sent a
    notice, never a code, so its reset fails on the code like a wrong one."""
    phone = clean_phone(phone)
    user = customer_by_phone(phone)
    _validate_password(password, user or User(username=customer_username(phone), kind=UserKind.CUSTOMER))
    require_code(phone, CodePurpose.PASSWORD_RESET, code)
    if user is None:  # a code for an unknown number is never sent: unreachable but refused
        raise CodeInvalid(_("Verification code: the code is not correct."))
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record("account.customer.reset_password", "account.user", str(user.pk), actor=user)
    return user


def find_customer(phone: str) -> User | None:
    return customer_by_phone(clean_phone(phone))


# --- Staff ------------------------------------------------------------------------------------


def create_staff_user(username: str, password: str, roles: list[str], *, display_name: str = "") -> User:
    """Create or update a staff account with exactly these role groups (see `roles.py`)."""
    from huibao.account.roles import ROLES

    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed(
            _("Roles: unknown role %(roles)s.") % {"roles": ", ".join(unknown)},
            errors=[FieldError("roles", "role_unknown", ", ".join(unknown))],
        )
    with transaction.atomic():
        user, _created = User.objects.get_or_create(
            username=username, defaults={"kind": UserKind.STAFF, "is_staff": True}
        )
        if user.kind != UserKind.STAFF:
            raise ValidationFailed(
                _("Username: %(username)s belongs to a customer account.") % {"username": username},
                errors=[FieldError("username", "not_staff", username)],
            )
        before = (
            None if _created else {**audit.snapshot(user), "roles": sorted(g.name for g in user.groups.all())}
        )
        user.is_staff = True
        user.display_name = display_name or user.display_name
        user.set_password(password)
        user.save()
        groups = [Group.objects.get_or_create(name=code)[0] for code in roles]
        user.groups.set(groups)
        audit.record(
            "account.staff.create" if _created else "account.staff.update",
            "account.user",
            str(user.pk),
            before=before,
            after={**audit.snapshot(user), "roles": sorted(roles)},
        )
    return user


def enrol_totp(user: User, *, key_hex: str | None = None, name: str = "default") -> TOTPDevice:
    """Give a staff user a confirmed TOTP device (replacing one of the same name)."""
    device = TOTPDevice.objects.filter(user=user, name=name).first() or TOTPDevice(user=user, name=name)
    if key_hex:
        device.key = key_hex
    device.confirmed = True
    with transaction.atomic():
        device.save()
        # The secret itself never enters the audit chain.
        audit.record("account.staff.enrol_totp", "account.user", str(user.pk), after={"device": name})
    return device


def staff_has_totp(user: User) -> bool:
    return user_has_device(user, confirmed=True)


def verify_staff_totp(user: User, token: str) -> Device | None:
    """The confirmed device that accepts `token`, or None. A used token is not accepted twice."""
    token = (token or "").strip()
    if not token.isdigit():
        return None
    device: Device | None = match_token(user, token)
    return device


# --- Roles ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleSync:
    role: str
    granted: int
    missing: tuple[str, ...]


def sync_roles(*, using: str = "default") -> list[RoleSync]:
    """Create the role groups and give each exactly the permissions `roles.ROLES` declares.

    Idempotent. Permissions named in the table that do not exist yet are skipped and reported.
    """
    from django.contrib.auth.models import Permission

    from huibao.account.roles import ROLES, resolve_permissions

    by_name = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    report: list[RoleSync] = []
    with transaction.atomic(using=using):
        for role in ROLES.values():
            resolution = resolve_permissions(role.permissions, by_name)
            group, _created = Group.objects.using(using).get_or_create(name=role.code)
            group.permissions.set(sorted(by_name[name] for name in resolution.granted))
            report.append(RoleSync(role.code, len(resolution.granted), resolution.missing))
    return report
