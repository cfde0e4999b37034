"""Builders for underwriting tests: products with underwriting rules, and applications, insured
persons, items and policies made directly with the application and policy models."""

from __future__ import annotations

import datetime
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

from huibao.account.models import User, UserKind
from huibao.application.models import Application, ApplicationItem, InsuredPerson
from huibao.application.selectors import ID_HASH_CONTEXT
from huibao.application.states import ApplicationStatus
from huibao.catalog.models import LineOfBusiness, ProductStatus, ProductVersion, VersionStatus
from huibao.catalog.tests.factories import (
    CoverageFactory,
    InsurerFactory,
    PlanFactory,
    ProductFactory,
    ProductVersionFactory,
)
from huibao.core.fields import lookup_hash
from huibao.core.validators import id_check_digit
from huibao.policy.models import Policy, PolicyStatus
from huibao.rating.models import Quote

_seq = itertools.count(1)

QUESTIONS = [
    {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True},
    {"code": "chronic", "text": "是否患有高血压、糖尿病等慢性疾病？", "knock_out_answer": True},
    {"code": "abnormal_exam", "text": "体检结果是否有异常且未复查正常？", "knock_out_answer": True},
    {"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True},
]
NO = {q["code"]: False for q in QUESTIONS}
RULES: dict[str, Any] = {
    "questions": {
        "hospitalised": {"on_yes": "refer"},
        "chronic": {"on_yes": "loading", "loading_percent": "30"},
        "abnormal_exam": {"on_yes": "exclusion", "exclusion": "甲状腺结节及其并发症"},
    },
    "aggregate_limits": [
        {
            "benefit": "death",
            "max_age": 9,
            "limit": "200000",
            "reason": "未满10周岁未成年人身故保险金总额不得超过20万元",
        },
        {
            "benefit": "death",
            "min_age": 10,
            "max_age": 17,
            "limit": "500000",
            "reason": "10至17周岁不超过50万元",
        },
    ],
    "refer_age_above": 55,
}


def resident_id(birth: datetime.date, *, male: bool = True) -> str:
    serial = next(_seq) % 500 * 2 + (1 if male else 0)
    first17 = f"110105{birth:%Y%m%d}{serial:03d}"
    return first17 + id_check_digit(first17)


def years_ago(years: int, days: int = 10) -> datetime.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - datetime.timedelta(days=days)


def product_version(
    *,
    underwriting: dict[str, Any] | None = None,
    questions: Sequence[dict[str, Any]] = QUESTIONS,
    coverages: Sequence[tuple[str, str, int]] = (
        ("death", "身故保险金", 500_000),
        ("critical", "重大疾病", 500_000),
    ),
    max_age: int = 60,
    line: str = LineOfBusiness.CRITICAL_ILLNESS,
    name: str = "测试重疾险",
    insurer: Any = None,
) -> ProductVersion:
    product = ProductFactory(
        name=name, line=line, status=ProductStatus.ON_SALE, insurer=insurer or InsurerFactory()
    )
    version = ProductVersionFactory(
        product=product,
        status=VersionStatus.PUBLISHED,
        published_at=timezone.now(),
        eligibility={
            "min_age_days": 28,
            "max_age": max_age,
            "occupation_classes": [1, 2, 3, 4],
            "health_questions": list(questions),
        },
        underwriting=RULES if underwriting is None else underwriting,
    )
    top = max(si for _, _, si in coverages)
    plan = PlanFactory(
        version=version, code="basic", min_sum_insured=Decimal(50_000), max_sum_insured=Decimal(top)
    )
    for i, (code, cov_name, si) in enumerate(coverages):
        CoverageFactory(plan=plan, code=code, name=cov_name, sum_insured=Decimal(si), sort_order=i)
    product.current_version = version
    product.save(update_fields=["current_version"])
    return version


@dataclass
class Insured:
    birth: datetime.date = field(default_factory=lambda: years_ago(30))
    answers: dict[str, bool] | None = None
    relation: str = "self"
    sex: str = "M"
    occupation_class: int | None = 1
    id_number: str = ""
    name: str = "王小明"


def application(
    items: Sequence[tuple[ProductVersion, Insured, Decimal | int | None, Decimal | int]],
    *,
    status: str = ApplicationStatus.DRAFT,
    customer: User | None = None,
) -> Application:
    """An application with one item per (version, insured, sum insured, base premium); the same
    `Insured` object given twice is one insured person with two items."""
    number = f"UW{next(_seq):010d}"
    app = Application.objects.create(
        number=number,
        status=status,
        customer=customer,
        applicant_name="王小明",
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    persons: dict[int, InsuredPerson] = {}
    total = Decimal(0)
    for position, (version, insured, sum_insured, premium) in enumerate(items, start=1):
        person = persons.get(id(insured))
        if person is None:
            insured.id_number = insured.id_number or resident_id(insured.birth, male=insured.sex == "M")
            person = InsuredPerson.objects.create(
                application=app,
                position=len(persons) + 1,
                relation=insured.relation,
                name=insured.name,
                id_number=insured.id_number,
                id_hash=lookup_hash(insured.id_number, context=ID_HASH_CONTEXT),
                birth_date=insured.birth,
                sex=insured.sex,
                occupation_class=insured.occupation_class,
                health_answers=json.dumps(NO if insured.answers is None else insured.answers),
            )
            persons[id(insured)] = person
        plan = version.plans.get()
        quote = Quote.objects.create(
            product_version=version,
            plan=plan,
            inputs={"sum_insured": str(sum_insured)},
            steps=[],
            premium=Decimal(premium),
            engine_version="test",
        )
        ApplicationItem.objects.create(
            application=app,
            position=position,
            insured=person,
            product_version=version,
            plan=plan,
            origin_quote=quote,
            quote=quote,
            sum_insured=None if sum_insured is None else Decimal(sum_insured),
            base_premium=Decimal(premium),
            premium=Decimal(premium),
        )
        total += Decimal(premium)
    app.total_premium = total
    app.save(update_fields=["total_premium"])
    return app


def policy_in_force(insured: Insured, death_benefit: int, *, status: str = PolicyStatus.IN_FORCE) -> Policy:
    """A live policy of `insured` (made through its own application) with `death_benefit`."""
    version = product_version(underwriting={}, questions=(), line=LineOfBusiness.ACCIDENT, name="已有意外险")
    app = application([(version, insured, death_benefit, 100)], status=ApplicationStatus.ISSUED)
    item = app.items.get()
    now = timezone.now()
    return Policy.objects.create(
        number=f"P{next(_seq):012d}",
        insurer=version.product.insurer,
        application=app,
        item=item,
        product_version=version,
        plan=item.plan,
        channel="web",
        status=status,
        holder_name="王小明",
        holder_id_hash="h",
        insured_name=insured.name,
        insured_id_hash=item.insured.id_hash,
        schedule="{}",
        premium=Decimal(100),
        sum_insured=Decimal(death_benefit),
        death_benefit=Decimal(death_benefit),
        effective_at=now,
        issued_at=now,
        retention_until=now.date() + datetime.timedelta(days=3650),
    )


def underwriter(username: str = "uw1", *, can_decide: bool = True) -> User:
    user = User.objects.create_user(username=username, password=None, kind=UserKind.STAFF, is_staff=True)
    codenames = ["view_underwritingcase"] + (["change_underwritingcase"] if can_decide else [])
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="underwriting", codename__in=codenames)
    )
    return User.objects.get(pk=user.pk)  # fresh permission cache
