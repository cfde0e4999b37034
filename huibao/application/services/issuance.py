"""The application's side of issuance: it hands the policy engine what was signed as typed values
(`policy.issuance.IssuanceRequest`), built from its own rows, and keeps the policies' retention
on the application. The policy never imports the application: the parties, beneficiaries,
subject and start of cover (by the product's `application_rules`) are resolved here.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from huibao.application.models import Application, ApplicationItem, Beneficiary
from huibao.application.rules import parse_rules
from huibao.application.states import ApplicationStatus, BeneficiaryMode
from huibao.core.errors import Conflict
from huibao.policy import services as policy_services
from huibao.policy.issuance import (
    BeneficiaryData,
    HolderData,
    InsuredData,
    IssuanceRequest,
    ItemToIssue,
    SubjectValue,
)
from huibao.policy.models import Policy

ISSUABLE_STATUSES = (ApplicationStatus.AWAITING_PAYMENT, ApplicationStatus.ISSUED)


def _subject(app: Application, item: ApplicationItem) -> tuple[SubjectValue, ...]:
    fields = parse_rules(item.product_version.application_rules).subject
    return tuple(
        SubjectValue(code=f.code, label=f.label, value=str(app.subject.get(f.code, "")))
        for f in fields
        if app.subject.get(f.code) not in (None, "")
    )


def _beneficiaries_by_insured(
    app: Application, items: Sequence[ApplicationItem]
) -> dict[int, tuple[BeneficiaryData, ...]]:
    """The named beneficiaries per insured person: one read, none in the legal mode (a policy
    keeps beneficiaries only when they are named)."""
    insured_ids = {item.insured_id for item in items if item.insured_id is not None}
    if app.beneficiary_mode != BeneficiaryMode.NAMED or not insured_ids:
        return {}
    found: dict[int, list[BeneficiaryData]] = {}
    for b in Beneficiary.objects.filter(insured_id__in=insured_ids).order_by("insured_id", "order", "id"):
        found.setdefault(b.insured_id, []).append(BeneficiaryData.of(b))
    return {insured_id: tuple(rows) for insured_id, rows in found.items()}


def issuance_request(
    app: Application,
    items: Sequence[ApplicationItem],
    *,
    paid_at: datetime.datetime,
    payment_ref: str = "",
    none_issued: bool = False,
) -> IssuanceRequest:
    """What the policies of `app` are issued from. `items` are its items in position order, read
    with their version (product, insurer), plan, quote and insured person."""
    beneficiaries = _beneficiaries_by_insured(app, items)
    local_paid_at = timezone.localtime(paid_at)
    to_issue = []
    for item in items:
        version = item.product_version
        insured = item.insured
        term = item.quote.inputs.get("term")
        to_issue.append(
            ItemToIssue(
                item_id=item.pk,
                quote_id=item.quote_id,
                position=item.position,
                product_version=version,
                plan=item.plan,
                sum_insured=item.sum_insured,
                base_premium=item.base_premium,
                premium=item.premium,
                loading_percent=item.loading_percent,
                payment_mode=str(item.quote.inputs.get("payment_mode") or "single"),
                term=str(term) if term is not None else None,
                effective_at=parse_rules(version.application_rules).effective_at(local_paid_at),
                exclusions=tuple(str(e) for e in item.exclusions or []),
                underwriting_outcome=item.underwriting_outcome,
                insured=None if insured is None else InsuredData.of(insured),
                beneficiaries=beneficiaries.get(insured.pk, ()) if insured is not None else (),
                subject=_subject(app, item),
            )
        )
    return IssuanceRequest(
        application_id=app.pk,
        application_public_id=app.public_id,
        application_number=app.number,
        channel=app.channel,
        customer_id=app.customer_id,
        holder=HolderData(
            name=app.applicant_name,
            id_number=app.applicant_id_number,
            id_hash=app.applicant_id_hash,
            birth_date=app.applicant_birth_date,
            sex=app.applicant_sex,
            phone=app.applicant_phone,
            email=app.applicant_email,
        ),
        beneficiary_mode=app.beneficiary_mode,
        paid_at=paid_at,
        payment_ref=payment_ref,
        items=tuple(to_issue),
        none_issued=none_issued,
        seller_id=app.seller_id,
    )


def items_to_issue(app: Application, **annotations: Any) -> list[ApplicationItem]:
    """The items of `app` in position order, with what issuance reads of each (version,
    product, insurer, plan, quote, insured person): one query, with `annotations` added."""
    return list(
        ApplicationItem.objects.filter(application=app)
        .select_related("product_version__product__insurer", "plan", "quote", "insured")
        .annotate(**annotations)
        .order_by("position")
    )


def issue_policies(
    application: Application,
    payment: Any,
    *,
    now: datetime.datetime | None = None,
    locked: bool = False,
    paid_at: datetime.datetime | None = None,
    items: Sequence[ApplicationItem] | None = None,
) -> list[Policy]:
    """Issues one policy per item of a paid application; returns all its policies (item order).
    `items`: its items as `items_to_issue` read them, when the caller has them already.

    Must run inside the transaction that confirms `payment` (`paid_at`, else `payment.paid_at`,
    is the payment time; the application's `paid_at`, then `now`, if it has none). Items that already have a
    policy are skipped, so calling it again — or concurrently — issues nothing twice (the
    application's row lock orders concurrent calls). Also sets `application.retention_until` to
    the latest retention date of its policies.

    `locked`: the caller read `application` under its row lock in the current transaction and
    saves it afterwards. It is not read again, its `retention_until` is set but not saved, and
    the issuance runs in the caller's transaction (no savepoint: an error aborts it)."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=not locked):
        app = application if locked else Application.objects.select_for_update().get(pk=application.pk)
        if app.status not in ISSUABLE_STATUSES:
            raise Conflict(
                f"application {app.number} is {app.status}: policies are issued only once it is paid",
                code="application_not_paid",
            )
        paid_at = paid_at or getattr(payment, "paid_at", None) or application.paid_at or app.paid_at or now
        items = items if items is not None else items_to_issue(app)
        policies = policy_services.issue_policies(
            issuance_request(
                app,
                items,
                paid_at=paid_at,
                payment_ref=str(getattr(payment, "merchant_ref", "") or ""),
                # Under the caller's lock, moving from awaiting payment to issued in this
                # transaction: no policy of it can exist yet.
                none_issued=locked and app.status == ApplicationStatus.AWAITING_PAYMENT,
            ),
            now=now,
        )
        latest = max((p.retention_until for p in policies), default=None)
        current = application.retention_until
        if latest is not None and (current is None or current < latest):
            application.retention_until = latest
            if not locked:
                application.save(update_fields=["retention_until", "updated_at"])
    return policies
