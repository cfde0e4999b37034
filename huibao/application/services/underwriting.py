"""The application's side of underwriting: it hands the engine its items as typed values
(`underwriting.services.UnderwritingRequest`) and writes the outcomes on its items and its
total (the underwriter's decision of a referred item is `referral.decide_case`). Underwriting
never imports the application, nor the policy app: what an insured person already has on the
platform is read here — live policies from `policy.selectors`, the items of other open
applications from the application's own rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from huibao.application.models import Application, ApplicationItem, InsuredPerson
from huibao.application.premium import total_premium
from huibao.catalog.models import VersionStatus
from huibao.core.errors import FieldError, ValidationFailed
from huibao.policy.selectors import in_force_death_benefit
from huibao.underwriting import rules as underwriting_rules
from huibao.underwriting import services as underwriting

# Applications whose accepted (or still referred) items already claim cover for their insured
# persons: confirmed and not yet issued or closed. Declined items claim nothing.
CLAIMING_APPLICATION_STATUSES = ("referred", "accepted", "signed", "awaiting_payment")
CLAIMING_OUTCOMES = ("accept", "accept_with_terms", "refer")
ITEM_OUTCOME_FIELDS = [
    "underwriting_outcome",
    "underwriting_reasons",
    "loading_percent",
    "exclusions",
    "premium",
]


def health_answers_of(insured: InsuredPerson) -> dict[str, bool]:
    return underwriting.health_answers(json.loads(insured.health_answers or "{}"))


def lock_insured_persons(id_hashes: Iterable[str]) -> None:
    """Serialises underwriting of the same insured persons across applications: locks every
    insured-person row with one of `id_hashes` (in any application, in primary-key order), so two
    applications of the same person confirmed at the same time are underwritten one after the
    other, the second seeing the first's items (no aggregate limit passed twice)."""
    hashes = sorted(set(id_hashes))
    if hashes:
        list(
            InsuredPerson.objects.select_for_update()
            .filter(id_hash__in=hashes)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def open_application_death_benefit(
    id_hashes: Iterable[str], *, exclude_application_id: int | None = None
) -> dict[str, Decimal]:
    """Death benefit per insured person (by ID hash) claimed by other confirmed applications that
    are not issued yet (their policies do not count in `in_force_death_benefit` until then)."""
    items = ApplicationItem.objects.filter(
        insured__id_hash__in=set(id_hashes),
        application__status__in=CLAIMING_APPLICATION_STATUSES,
        underwriting_outcome__in=CLAIMING_OUTCOMES,
    )
    if exclude_application_id is not None:
        items = items.exclude(application_id=exclude_application_id)
    rows = list(items.values_list("insured__id_hash", "plan_id", "sum_insured", "product_version__status"))
    coverages = underwriting.coverages_by_plan(
        {plan_id: status != VersionStatus.DRAFT for _, plan_id, _, status in rows}
    )
    totals: dict[str, Decimal] = {}
    for id_hash, plan_id, sum_insured, _status in rows:
        benefit = underwriting_rules.death_benefit(coverages.get(plan_id, []), sum_insured)
        totals[id_hash] = totals.get(id_hash, Decimal(0)) + benefit
    return totals


def existing_death_benefit(
    id_hashes: Iterable[str], *, exclude_application_id: int | None = None
) -> dict[str, Decimal]:
    """What an insured person already has or claims on the platform, across insurers and
    products: live policies plus the items of other open, confirmed applications."""
    hashes = set(id_hashes)
    totals = dict(in_force_death_benefit(hashes))
    pending = open_application_death_benefit(hashes, exclude_application_id=exclude_application_id)
    for id_hash, amount in pending.items():
        totals[id_hash] = totals.get(id_hash, Decimal(0)) + amount
    return totals


def _to_underwrite(item: ApplicationItem, insured: InsuredPerson) -> underwriting.ItemToUnderwrite:
    return underwriting.ItemToUnderwrite(
        item_id=item.pk,
        position=item.position,
        product_version=item.product_version,
        plan_id=item.plan_id,
        sum_insured=item.sum_insured,
        base_premium=item.base_premium,
        insured=underwriting.InsuredToUnderwrite(
            position=insured.position,
            id_hash=insured.id_hash,
            birth_date=insured.birth_date,
            sex=insured.sex,
            relation=insured.relation,
            occupation_class=insured.occupation_class,
            health_answers=health_answers_of(insured),
        ),
    )


def underwrite_application(
    application: Application,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    items: Sequence[ApplicationItem] | None = None,
    locked: bool = False,
) -> str:
    """Underwrites every item of `application` and returns the overall outcome (the worst item's).

    Writes each item's outcome, reasons, loading, exclusions and premium and the application's
    total premium; underwriting opens a case per referred item (after
    withdrawing the application's older open cases). Raises `ValidationFailed` naming
    `insured[i].health_answers.<code>` for an unanswered health question, changing nothing.

    `items`: all the application's items in position order, with their insured and product
    version's product, already locked by the caller in this transaction
    (`select_for_update(of=("self",))`); they are updated in place. Without them they are read
    and locked here.

    `locked`: the caller read `application` under its row lock in the transaction it owns and
    saves the row afterwards: the total premium is set on `application`, not written here (one
    UPDATE of the row, the caller's), and no savepoint is taken (an error aborts the caller's
    transaction anyway). Otherwise an error changes nothing (a savepoint of its own).
    """
    with transaction.atomic(savepoint=not locked):
        if items is None:
            items = list(
                ApplicationItem.objects.select_for_update(of=("self",))
                .filter(application=application)
                .select_related("insured", "product_version__product")
                .order_by("position")
            )
        missing = [
            FieldError("insured", "required", f"第{item.position}项未填写被保险人")
            for item in items
            if item.insured is None
        ]
        if missing:
            raise ValidationFailed("insured persons missing", errors=missing)
        hashes = [item.insured.id_hash for item in items if item.insured]
        lock_insured_persons(hashes)
        result = underwriting.underwrite(
            underwriting.UnderwritingRequest(
                subject=application,
                items=tuple(_to_underwrite(item, item.insured) for item in items if item.insured),
                existing_death_benefit=existing_death_benefit(hashes, exclude_application_id=application.pk),
                # Known from the locked read (`has_open_cases`) when the caller asked for it.
                has_open_cases=getattr(application, "has_open_cases", True) is not False,
            ),
            actor=actor,
            request=request,
        )
        by_id = {item.pk: item for item in items}
        for outcome in result.items:
            item = by_id[outcome.item_id]
            item.underwriting_outcome = outcome.outcome
            item.underwriting_reasons = outcome.reasons
            item.loading_percent = outcome.loading_percent
            item.exclusions = outcome.exclusions
            item.premium = outcome.premium
            item.save(update_fields=ITEM_OUTCOME_FIELDS)
        application.total_premium = total_premium(by_id[o.item_id] for o in result.items)
        if not locked:
            Application.objects.filter(pk=application.pk).update(total_premium=application.total_premium)
    return result.outcome
