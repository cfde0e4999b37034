"""Builders for policy tests: products with terms, coverages and key clauses; paid applications
made directly with the application models (no flow), issued through `issue_policies`; a private
platform CA per test session; signed insurer acknowledgements."""

from __future__ import annotations

import datetime
import itertools
import json
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account import consent
from huibao.account.models import User, UserKind
from huibao.application.models import Application, ApplicationItem, Beneficiary, InsuredPerson
from huibao.application.selectors import ID_HASH_CONTEXT
from huibao.application.services.issuance import issue_policies
from huibao.application.states import ApplicationStatus, BeneficiaryMode
from huibao.catalog.models import LineOfBusiness, ProductStatus, ProductVersion, VersionStatus
from huibao.catalog.tests.factories import (
    CoverageFactory,
    DocumentFactory,
    InsurerFactory,
    PlanFactory,
    ProductFactory,
    ProductVersionFactory,
)
from huibao.core.fields import lookup_hash
from huibao.core.validators import id_check_digit
from huibao.policy.models import Policy
from huibao.rating.models import Quote
from huibao.sandbox import insurer as sandbox
from huibao.sandbox import notifications

_seq = itertools.count(1)

HOLDER_NAME = "王小明"
INSURED_NAME = "李春花"


def resident_id(birth: datetime.date, *, male: bool = True) -> str:
    serial = next(_seq) % 500 * 2 + (1 if male else 0)
    first17 = f"110105{birth:%Y%m%d}{serial:03d}"
    return first17 + id_check_digit(first17)


def years_ago(years: int, days: int = 10) -> datetime.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - datetime.timedelta(days=days)


def customer(phone: str | None = None) -> User:
    phone = phone or f"139{next(_seq):08d}"
    user = User(username=f"c{phone}", kind=UserKind.CUSTOMER)
    user.set_phone(phone)
    user.set_unusable_password()
    user.save()
    consent.record_current(user)  # as at sign-up: the log-in does not stop at the consent page
    return user


def staff(username: str, codenames: Sequence[str], *, app_label: str = "policy") -> User:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )
    return User.objects.get(pk=user.pk)


def staff_login(client: Any, user: User) -> Any:
    """Logs `user` in with a verified TOTP device, as the back office requires."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


CI_COVERAGES: tuple[tuple[str, str, int, bool], ...] = (
    ("critical", "重大疾病保险金", 1_000_000, False),
    ("moderate", "中症疾病保险金", 600_000, False),
    ("death", "身故保险金", 1_000_000, True),
)


def product_version(
    *,
    insurer: Any = None,
    insurer_code: str | None = None,
    name: str = "汇保安心重疾险",
    line: str = LineOfBusiness.CRITICAL_ILLNESS,
    term_options: list[dict[str, Any]] | None = None,
    cooling_off_days: int = 15,
    rules: dict[str, Any] | None = None,
    coverages: Sequence[tuple[str, str, int, bool]] = CI_COVERAGES,
    min_sum: int = 100_000,
    max_sum: int = 1_000_000,
) -> ProductVersion:
    if insurer is None:
        insurer = InsurerFactory(**({"code": insurer_code} if insurer_code else {}))
    product = ProductFactory(name=name, line=line, status=ProductStatus.ON_SALE, insurer=insurer)
    version = ProductVersionFactory(
        product=product,
        status=VersionStatus.PUBLISHED,
        published_at=timezone.now(),
        term_options=term_options
        if term_options is not None
        else [{"code": "1y", "label": "1年", "years": 1}],
        cooling_off_days=cooling_off_days,
        application_rules=rules if rules is not None else {"signature": "confirmation"},
        value_added_services=[{"code": "green_channel", "name": "就医绿通"}],
    )
    plan = PlanFactory(
        version=version,
        code="basic",
        name="标准版",
        min_sum_insured=Decimal(min_sum),
        max_sum_insured=Decimal(max_sum),
    )
    for i, (code, cov_name, amount, optional) in enumerate(coverages):
        CoverageFactory(
            plan=plan,
            code=code,
            name=cov_name,
            sum_insured=Decimal(amount),
            sort_order=i,
            is_optional=optional,
            waiting_period_days=90 if code != "death" else 0,
            description=f"{cov_name}说明",
        )
    DocumentFactory(
        version=version,
        title="保险条款",
        key_clauses=[
            {"code": "excl-1", "kind": "exclusion", "title": "责任免除", "text": "投保前已患疾病不赔。"},
            {"code": "wait-1", "kind": "waiting_period", "title": "等待期", "text": "等待期90天内确诊不赔。"},
        ],
    )
    product.current_version = version
    product.save(update_fields=["current_version"])
    return version


@dataclass
class Person:
    name: str = INSURED_NAME
    birth: datetime.date = field(default_factory=lambda: years_ago(30))
    sex: str = "F"
    relation: str = "spouse"
    beneficiaries: list[tuple[str, str, Decimal]] = field(default_factory=list)  # name, relation, share
    id_number: str = ""


def application(
    items: Sequence[tuple[ProductVersion, Person, Decimal | int | None, Decimal | int, dict[str, Any]]],
    *,
    customer: User | None = None,
    status: str = ApplicationStatus.AWAITING_PAYMENT,
    channel: str = "web",
    subject: dict[str, str] | None = None,
    loading_percent: Decimal | int = 0,
    exclusions: Sequence[str] = (),
) -> Application:
    """A signed application waiting for its payment: one item per (version, person, sum insured,
    premium, quote inputs); the same Person object twice is one insured person."""
    holder_id = resident_id(years_ago(35))
    named = any(p.beneficiaries for _, p, _, _, _ in items)
    app = Application.objects.create(
        number=f"TB{next(_seq):012d}",
        status=status,
        channel=channel,
        customer=customer,
        applicant_name=HOLDER_NAME,
        applicant_id_number=holder_id,
        applicant_id_hash=lookup_hash(holder_id, context=ID_HASH_CONTEXT),
        applicant_birth_date=years_ago(35),
        applicant_sex="M",
        applicant_phone="13900001111",
        subject=subject or {},
        beneficiary_mode=BeneficiaryMode.NAMED if named else BeneficiaryMode.LEGAL,
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    persons: dict[int, InsuredPerson] = {}
    total = Decimal(0)
    for position, (version, person, sum_insured, premium, inputs) in enumerate(items, start=1):
        insured = persons.get(id(person))
        if insured is None:
            person.id_number = person.id_number or resident_id(person.birth, male=person.sex == "M")
            insured = InsuredPerson.objects.create(
                application=app,
                position=len(persons) + 1,
                relation=person.relation,
                name=person.name,
                id_number=person.id_number,
                id_hash=lookup_hash(person.id_number, context=ID_HASH_CONTEXT),
                birth_date=person.birth,
                sex=person.sex,
                occupation="教师",
                occupation_class=1,
                health_answers="{}",
            )
            for order, (b_name, relation, share) in enumerate(person.beneficiaries, start=1):
                b_id = resident_id(years_ago(8))
                Beneficiary.objects.create(
                    insured=insured,
                    name=b_name,
                    id_number=b_id,
                    id_hash=lookup_hash(b_id, context=ID_HASH_CONTEXT),
                    relation=relation,
                    order=order,
                    share_percent=share,
                )
            persons[id(person)] = insured
        plan = version.plans.get()
        quote_inputs = {**({"sum_insured": str(sum_insured)} if sum_insured is not None else {}), **inputs}
        quote = Quote.objects.create(
            product_version=version,
            plan=plan,
            inputs=quote_inputs,
            steps=[],
            premium=Decimal(premium),
            engine_version="test",
        )
        loaded = Decimal(premium) * (1 + Decimal(loading_percent) / 100)
        ApplicationItem.objects.create(
            application=app,
            position=position,
            insured=insured,
            product_version=version,
            plan=plan,
            origin_quote=quote,
            quote=quote,
            sum_insured=None if sum_insured is None else Decimal(sum_insured),
            base_premium=Decimal(premium),
            premium=loaded.quantize(Decimal("0.01")),
            loading_percent=Decimal(loading_percent),
            exclusions=list(exclusions),
            underwriting_outcome="accept_with_terms" if loading_percent or exclusions else "accept",
        )
        total += loaded
    app.total_premium = total.quantize(Decimal("0.01"))
    app.save(update_fields=["total_premium"])
    return app


def payment(paid_at: datetime.datetime | None = None) -> Any:
    """What `issue_policies` reads of the payment."""
    return types.SimpleNamespace(paid_at=paid_at or timezone.now(), public_id="test-payment")


def issue(
    app: Application, *, paid_at: datetime.datetime | None = None, now: datetime.datetime | None = None
):
    """What the lead's paid hook does: issue and mark the application issued, in one transaction."""
    with transaction.atomic():
        policies = issue_policies(app, payment(paid_at), now=now)
        Application.objects.filter(pk=app.pk).update(
            status=ApplicationStatus.ISSUED, issued_at=timezone.now()
        )
    app.refresh_from_db()
    return policies


def simple_issued(customer_user: User | None = None, **version_kwargs: Any) -> Policy:
    """One issued policy of a one-year product (sum insured 500,000)."""
    version = product_version(**version_kwargs)
    app = application([(version, Person(), 500_000, "320.00", {"term": "1y"})], customer=customer_user)
    return issue(app)[0]


def signed_ack(body: dict[str, Any], *, notify_id: str | None = None, now: datetime.datetime | None = None):
    """Headers and body of an acknowledgement exactly as the sandbox insurer signs them."""
    notify_id = notify_id or str(body.get("notify_id") or f"A{next(_seq):031d}")
    raw = json.dumps({**body, "notify_id": notify_id}, ensure_ascii=False).encode()
    return sandbox.signed_headers(notify_id, raw, now or timezone.now()), raw


def client_transport(client: Any) -> notifications.HttpPost:
    """Delivers the sandbox insurer's callbacks through Django's test client (no network)."""
    from urllib.parse import urlparse

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.generic(
            "POST",
            urlparse(url).path,
            body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
        return response.status_code, response.content.decode()

    return post
