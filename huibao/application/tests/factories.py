"""Builders for application tests: products with application rules, customers, valid ID numbers,
and a walk through the flow up to any step."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.account import consent
from huibao.account.models import User, UserKind
from huibao.application.models import Application
from huibao.application.rules import ApplicantInput, ApplicationData, InsuredInput
from huibao.application.selectors import key_clauses, required_documents
from huibao.application.services.confirm import agree_terms, confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import confirm_clause, finish_reading, open_document, show_clause
from huibao.application.services.identity import verify_identity
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.catalog.documents import clear_document_cache
from huibao.catalog.models import Document, DocumentKind, LineOfBusiness, Product
from huibao.catalog.tests.factories import on_sale_product
from huibao.core.validators import id_check_digit
from huibao.rating.models import Quote
from huibao.rating.services import clear_cache, create_quote

_seq = itertools.count(100)


def resident_id(birth: datetime.date, *, male: bool = True, region: str = "110105") -> str:
    """A valid 18-digit resident ID number for `birth` (GB 11643 check digit)."""
    serial = next(_seq) % 500 * 2 + (1 if male else 0)
    first17 = f"{region}{birth:%Y%m%d}{serial:03d}"
    return first17 + id_check_digit(first17)


def years_ago(years: int, days: int = 0) -> datetime.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - datetime.timedelta(days=days)


APPLICANT_NAME = "王小明"


def customer(phone: str = "13900001111") -> User:
    user = User(username=f"c{phone}", kind=UserKind.CUSTOMER)
    user.set_phone(phone)
    user.set_password("pw-123456")
    user.save()
    consent.record_current(user)  # as at sign-up: the log-in does not stop at the consent page
    return user


def simple_product(
    *,
    code: str | None = None,
    rules: dict[str, Any] | None = None,
    underwriting: dict[str, Any] | None = None,
    health_questions: list[dict[str, Any]] | None = None,
    min_read_seconds: int = 0,
    one_document: bool = True,
    insurer: Any = None,
    line: str = LineOfBusiness.ACCIDENT,
) -> Product:
    """An accident product on sale (premium = 0.1% of 100,000 = ¥100), one plan `basic`."""
    eligibility: dict[str, Any] = {"min_age_days": 28, "max_age": 65, "occupation_classes": [1, 2, 3]}
    if health_questions:
        eligibility["health_questions"] = health_questions
    product = on_sale_product(code=code, eligibility=eligibility, insurer=insurer, line=line)
    version = product.current_version
    assert version is not None
    version.application_rules = rules if rules is not None else {"signature": "confirmation"}
    version.underwriting = underwriting or {}
    version.save(update_fields=["application_rules", "underwriting"])
    if one_document:
        Document.objects.filter(version=version).exclude(kind=DocumentKind.TERMS).delete()
    for doc in Document.objects.filter(version=version):
        doc.min_read_seconds = min_read_seconds
        doc.content_sha256 = f"{doc.pk:064d}"
        doc.save(update_fields=["min_read_seconds", "content_sha256"])
    clear_cache()
    clear_document_cache()
    return product


def distinct_clauses(product: Product) -> None:
    """Each document's key clauses made its own (the second document's text marked 第2份, …): the
    same clause in several documents is otherwise asked once (`rules.clause_identity`)."""
    docs = Document.objects.filter(version=product.current_version).order_by("sort_order", "pk")
    for n, doc in enumerate(docs, start=1):
        if n > 1:
            doc.key_clauses = [{**c, "text": f"{c['text']}（第{n}份）"} for c in doc.key_clauses or []]
            doc.save(update_fields=["key_clauses"])
    clear_document_cache()


def quote(product: Product, user: User | None = None, **inputs: Any) -> Quote:
    return create_quote(product_code=product.code, plan_code="basic", inputs={"age": 30, **inputs}, user=user)


def data(
    *,
    applicant_id: str | None = None,
    name: str = APPLICANT_NAME,
    insured: list[InsuredInput] | None = None,
    beneficiary_mode: str = "legal",
    subject: dict[str, str] | None = None,
    answers: dict[str, bool] | None = None,
) -> ApplicationData:
    return ApplicationData(
        applicant=ApplicantInput(
            name=name,
            id_number=applicant_id or resident_id(years_ago(35)),
            phone="13900001111",
            email="wang@example.com",
            address="北京市朝阳区建国路1号",
        ),
        insured=insured or [InsuredInput(relation="self", health_answers=answers or {})],
        beneficiary_mode=beneficiary_mode,
        subject=subject or {},
    )


def read_everything(app: Application, user: User) -> None:
    later = timezone.now() + datetime.timedelta(hours=1)
    for doc in required_documents(app):
        open_document(app, doc.pk, user=user)
        finish_reading(app, doc.pk, scrolled_to_end=True, user=user, now=later)
    for doc, clause in key_clauses(app):
        show_clause(app, doc.pk, clause["code"], user=user)
        confirm_clause(app, doc.pk, clause["code"], user=user, now=later)


def to_signed(product: Product, user: User, **data_kwargs: Any) -> Application:
    """A fresh application walked through data, identity, confirmation, reading and signature
    (by confirmation)."""
    app = start_application(quote_ids=[quote(product, user).pk], user=user)
    d = data(**data_kwargs)
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    if app.terms_agreed_at is None:
        agree_terms(app, user=user)
    read_everything(app, user)
    return sign(app, user=user, confirmed=True)


PREMIUM = Decimal("100.00")
