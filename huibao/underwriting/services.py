"""Underwriting use-cases: underwrite an application automatically, decide a referred case,
withdraw open cases.

`underwrite_application` runs the version's rules (`huibao.underwriting.rules`) on every item and
writes the outcome, reasons, loading, exclusions and premium on the item; it opens a case for each
referred item. It never changes the application's status: the application service moves it from
the returned outcome; after the last open case of an application is decided, `cases_decided`
announces it (the application app listens, registered in its `AppConfig.ready()`).
Every outcome and decision is written to the audit chain on the application.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.models import Application, ApplicationItem, InsuredPerson
from huibao.application.premium import total_premium
from huibao.catalog.models import Coverage
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from huibao.core.hooks import Hook
from huibao.core.money import to_fen
from huibao.core.states import check_transition
from huibao.policy.models import Policy, PolicyStatus
from huibao.underwriting import rules
from huibao.underwriting.models import UnderwritingCase
from huibao.underwriting.states import CASE_TRANSITIONS, CaseDecision, CaseStatus

OBJ_TYPE = "application"
DECIDE_PERMISSION = "underwriting.change_underwritingcase"
# Policies that count towards an insured person's aggregate limits.
LIVE_POLICY_STATUSES = (PolicyStatus.IN_FORCE, PolicyStatus.PENDING_START)
MAX_EXCLUSIONS = 10
PERCENT = Decimal("0.01")
MAX_EXCLUSION_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CasesDecided:
    """The underwriters decided the last open case of `application` (inside `decide_case`'s
    transaction, the application row locked)."""

    application: Application
    actor: Any
    request: HttpRequest | None


cases_decided: Hook[CasesDecided, None] = Hook("underwriting.cases_decided")


# --- helpers -----------------------------------------------------------------------------------


def age_on(birth: datetime.date, on: datetime.date) -> int:
    """Whole years of age on `on` (周岁)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def loaded_premium(base: Decimal, loading_percent: Decimal) -> Decimal:
    """The premium after a loading, rounded once to the fen."""
    return to_fen(base * (1 + loading_percent / 100))


def health_answers_of(insured: InsuredPerson) -> dict[str, bool]:
    raw = json.loads(insured.health_answers or "{}")
    return {str(k): v for k, v in raw.items() if isinstance(v, bool)}


def _coverages_by_plan(plan_ids: Iterable[int]) -> dict[int, list[tuple[str, str, Decimal | None]]]:
    result: dict[int, list[tuple[str, str, Decimal | None]]] = {}
    for plan_id, code, name, amount in Coverage.objects.filter(plan_id__in=set(plan_ids)).values_list(
        "plan_id", "code", "name", "sum_insured"
    ):
        result.setdefault(plan_id, []).append((code, name, amount))
    return result


def in_force_death_benefit(id_hashes: Iterable[str]) -> dict[str, Decimal]:
    """Death benefit of live policies on the platform per insured person (by ID hash)."""
    totals = (
        Policy.objects.filter(insured_id_hash__in=set(id_hashes), status__in=LIVE_POLICY_STATUSES)
        .values("insured_id_hash")
        .annotate(total=Sum("death_benefit"))
    )
    return {row["insured_id_hash"]: row["total"] or Decimal(0) for row in totals}


# Applications whose accepted (or still referred) items already claim cover for their insured
# persons: confirmed and not yet issued or closed. Declined items claim nothing.
CLAIMING_APPLICATION_STATUSES = ("referred", "accepted", "signed", "awaiting_payment")
CLAIMING_OUTCOMES = ("accept", "accept_with_terms", "refer")


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
    rows = list(items.values_list("insured__id_hash", "plan_id", "sum_insured"))
    coverages = _coverages_by_plan(plan_id for _, plan_id, _ in rows)
    totals: dict[str, Decimal] = {}
    for id_hash, plan_id, sum_insured in rows:
        benefit = rules.death_benefit(coverages.get(plan_id, []), sum_insured)
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


def facts_for(
    item: ApplicationItem,
    *,
    existing_death_benefit: Decimal,
    coverages: Sequence[tuple[str, str, Decimal | None]],
    on: datetime.date,
) -> rules.UnderwritingFacts:
    insured = item.insured
    assert insured is not None
    version = item.product_version
    return rules.UnderwritingFacts(
        product_code=version.product.code,
        line=version.product.line,
        age_days=(on - insured.birth_date).days,
        age_years=age_on(insured.birth_date, on),
        sex=insured.sex,
        relation=insured.relation,
        occupation_class=insured.occupation_class,
        sum_insured=item.sum_insured,
        death_benefit=rules.death_benefit(coverages, item.sum_insured),
        existing_death_benefit=existing_death_benefit,
        health_answers=health_answers_of(insured),
        premium=item.base_premium,
    )


def _case_state(case: UnderwritingCase) -> dict[str, Any]:
    return {
        "case": case.pk,
        "item": case.item.position,
        "status": case.status,
        "decision": case.decision,
        "loading_percent": case.loading_percent,
        "exclusions": case.exclusions,
    }


def _move_case(case: UnderwritingCase, target: str) -> None:
    check_transition(CASE_TRANSITIONS, case.status, target, what=f"underwriting case {case.pk}")
    case.status = target


# --- automatic underwriting --------------------------------------------------------------------


def underwrite_application(
    application: Application,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    items: Sequence[ApplicationItem] | None = None,
) -> str:
    """Underwrites every item of `application` and returns the overall outcome (the worst item's).

    Writes each item's outcome, reasons, loading, exclusions and premium and the application's
    total premium; opens a case per referred item (after withdrawing the application's older open
    cases). Raises `ValidationFailed` naming `insured[i].health_answers.<code>` for an unanswered
    health question, changing nothing.

    `items`: all the application's items in position order, with their insured and product
    version's product, already locked by the caller in this transaction
    (`select_for_update(of=("self",))`); they are updated in place. Without them they are read
    and locked here.
    """
    # With the caller's locked items the caller owns the transaction: no savepoint of its own.
    with transaction.atomic(savepoint=items is None):
        if items is None:
            items = list(
                ApplicationItem.objects.select_for_update(of=("self",))
                .filter(application=application)
                .select_related("insured", "product_version__product")
                .order_by("position")
            )
        if not items:
            raise Conflict("投保单没有投保项目", code="no_items")
        missing = [
            FieldError("insured", "required", f"第{item.position}项未填写被保险人")
            for item in items
            if item.insured is None
        ]
        if missing:
            raise ValidationFailed("insured persons missing", errors=missing)
        withdraw_open_cases(application, actor=actor, request=request)

        on = timezone.localdate()
        coverages = _coverages_by_plan(item.plan_id for item in items)
        hashes = [item.insured.id_hash for item in items if item.insured]
        lock_insured_persons(hashes)
        running = existing_death_benefit(hashes, exclude_application_id=application.pk)
        decisions: list[tuple[ApplicationItem, rules.UnderwritingDecision, Decimal]] = []
        errors: list[FieldError] = []
        for item in items:
            insured = item.insured
            assert insured is not None
            existing = running.get(insured.id_hash, Decimal(0))
            facts = facts_for(
                item, existing_death_benefit=existing, coverages=coverages.get(item.plan_id, []), on=on
            )
            try:
                decision = rules.evaluate(
                    item.product_version.underwriting, item.product_version.eligibility, facts
                )
            except ValidationFailed as exc:
                prefix = f"insured[{insured.position - 1}]."
                errors.extend(FieldError(prefix + e.field, e.code, e.message) for e in exc.errors)
                continue
            if decision.outcome != "decline":
                # A later item of the same insured sees this one's death benefit as existing.
                running[insured.id_hash] = existing + facts.death_benefit
            decisions.append((item, decision, facts.death_benefit))
        if errors:
            unique = list({(e.field, e.code): e for e in errors}.values())
            raise ValidationFailed("health questions not answered", errors=unique)

        for item, decision, benefit in decisions:
            terms = decision.outcome == "accept_with_terms"
            item.underwriting_outcome = decision.outcome
            item.underwriting_reasons = [r.as_json() for r in decision.reasons]
            item.loading_percent = (decision.loading_percent if terms else Decimal(0)).quantize(PERCENT)
            item.exclusions = list(decision.exclusions) if terms else []
            item.premium = loaded_premium(item.base_premium, item.loading_percent)
            item.save(
                update_fields=[
                    "underwriting_outcome",
                    "underwriting_reasons",
                    "loading_percent",
                    "exclusions",
                    "premium",
                ]
            )
            after: dict[str, Any] = {
                "item": item.position,
                "product": item.product_version.product.code,
                "outcome": decision.outcome,
                "reasons": item.underwriting_reasons,
                "loading": item.loading_percent,
                "exclusions": item.exclusions,
                "death_benefit": benefit,
                "premium": item.premium,
            }
            if decision.outcome == "refer":
                case = UnderwritingCase.objects.create(
                    item=item,
                    status=CaseStatus.OPEN,
                    referral_reasons=item.underwriting_reasons,
                    suggested_loading_percent=decision.loading_percent,
                    suggested_exclusions=list(decision.exclusions),
                )
                after["case"] = case.pk
            audit.record(
                f"underwriting.{decision.outcome}",
                OBJ_TYPE,
                str(application.public_id),
                actor=actor,
                after=after,
                request=request,
            )
        application.total_premium = total_premium(item for item, _decision, _benefit in decisions)
        Application.objects.filter(pk=application.pk).update(total_premium=application.total_premium)
    return rules.worst(d.outcome for _, d, _ in decisions)


# --- the underwriter's decision ----------------------------------------------------------------


def _parse_loading(value: Any, errors: list[FieldError]) -> Decimal:
    try:
        loading = Decimal(str(value if value not in (None, "") else 0)).quantize(PERCENT)
    except (InvalidOperation, ValueError):
        errors.append(FieldError("loading_percent", "invalid", "加费比例须为数字"))
        return Decimal(0)
    if not loading.is_finite() or not Decimal(0) <= loading <= rules.MAX_LOADING_PERCENT:
        errors.append(FieldError("loading_percent", "out_of_range", "加费比例须在0%至300%之间"))
    return loading


def _clean_exclusions(values: Iterable[str], errors: list[FieldError]) -> list[str]:
    result: list[str] = []
    for value in values:
        text = str(value).strip()
        if text and text not in result:
            result.append(text)
    if len(result) > MAX_EXCLUSIONS:
        errors.append(FieldError("exclusions", "too_many", f"除外责任最多{MAX_EXCLUSIONS}条"))
    if any(len(text) > MAX_EXCLUSION_LENGTH for text in result):
        errors.append(FieldError("exclusions", "too_long", f"每条除外责任不超过{MAX_EXCLUSION_LENGTH}字"))
    return result


def validate_decision(
    decision: str, reasons: str, loading_percent: Any, exclusions: Iterable[str]
) -> tuple[list[FieldError], Decimal, list[str]]:
    """Checks an underwriter's decision; returns (errors, loading, cleaned exclusions)."""
    errors: list[FieldError] = []
    if decision not in CaseDecision.values:
        errors.append(
            FieldError("decision", "invalid_choice", "请选择核保决定：标准体承保、加费/除外承保或拒保")
        )
    if not (reasons or "").strip():
        errors.append(FieldError("decision_reasons", "required", "请填写核保决定的理由"))
    loading = _parse_loading(loading_percent, errors)
    cleaned = _clean_exclusions(exclusions, errors)
    if decision == CaseDecision.ACCEPT_WITH_TERMS:
        if loading == 0 and not cleaned:
            errors.append(
                FieldError(
                    "loading_percent", "terms_required", "加费/除外承保须设置加费比例或至少一条除外责任"
                )
            )
    elif decision in CaseDecision.values:
        if loading != 0:
            errors.append(
                FieldError("loading_percent", "only_with_terms", "只有加费/除外承保可以设置加费比例")
            )
        if cleaned:
            errors.append(FieldError("exclusions", "only_with_terms", "只有加费/除外承保可以设置除外责任"))
    return errors, loading, cleaned


def decide_case(
    case: UnderwritingCase,
    *,
    decision: str,
    underwriter: Any,
    reasons: str,
    loading_percent: Decimal | int | str = 0,
    exclusions: Sequence[str] = (),
    request: HttpRequest | None = None,
) -> UnderwritingCase:
    """An underwriter decides an open case: the item gets the outcome, terms and premium; when it
    was the application's last open case, the application resumes (`resume_after_referral`)."""
    if not (getattr(underwriter, "is_active", False) and underwriter.has_perm(DECIDE_PERMISSION)):
        raise PermissionDenied("无人工核保权限", code="not_underwriter")
    errors, loading, cleaned = validate_decision(decision, reasons, loading_percent, exclusions)
    if errors:
        raise ValidationFailed("the decision is incomplete", errors=errors)

    with transaction.atomic():
        # The application first, then the case: the order every application service locks in.
        application_id = ApplicationItem.objects.values_list("application_id", flat=True).get(pk=case.item_id)
        application = Application.objects.select_for_update().get(pk=application_id)
        locked = UnderwritingCase.objects.select_for_update().select_related("item").get(pk=case.pk)
        if locked.status != CaseStatus.OPEN:
            raise Conflict(f"该核保案件{locked.get_status_display()}，不能再作决定", code="case_not_open")
        before = _case_state(locked)
        _move_case(locked, CaseStatus.DECIDED)
        locked.decision = decision
        locked.loading_percent = loading
        locked.exclusions = cleaned
        locked.decision_reasons = reasons.strip()
        locked.decided_by = underwriter
        locked.decided_at = timezone.now()
        locked.save(
            update_fields=[
                "status",
                "decision",
                "loading_percent",
                "exclusions",
                "decision_reasons",
                "decided_by",
                "decided_at",
            ]
        )

        item = ApplicationItem.objects.select_for_update().get(pk=locked.item_id)
        item.underwriting_outcome = decision
        item.loading_percent = loading
        item.exclusions = cleaned
        item.premium = loaded_premium(item.base_premium, loading)
        label = CaseDecision(decision).label
        item.underwriting_reasons = [
            {
                "code": f"underwriter_{decision}",
                "message": f"人工核保：{label}。{locked.decision_reasons}",
                "question": "",
            },
            *[r for r in locked.referral_reasons if not str(r.get("code", "")).startswith("underwriter_")],
        ]
        item.save(
            update_fields=[
                "underwriting_outcome",
                "underwriting_reasons",
                "loading_percent",
                "exclusions",
                "premium",
            ]
        )
        application.total_premium = total_premium(ApplicationItem.objects.filter(application=application))
        application.save(update_fields=["total_premium", "updated_at"])
        audit.record(
            "underwriting.case_decided",
            OBJ_TYPE,
            str(application.public_id),
            actor=underwriter,
            before=before,
            after={
                **_case_state(locked),
                "reasons": locked.decision_reasons,
                "premium": item.premium,
            },
            request=request,
        )
        still_open = UnderwritingCase.objects.filter(
            item__application=application, status=CaseStatus.OPEN
        ).exists()
        if not still_open:
            cases_decided.announce(CasesDecided(application, underwriter, request))
    locked.item = item
    return locked


def withdraw_open_cases(
    application: Application, *, actor: Any = None, request: HttpRequest | None = None
) -> int:
    """Withdraws the application's open cases (it was amended, re-underwritten or closed);
    returns how many."""
    with transaction.atomic(savepoint=False):  # nothing here is rolled back on its own
        cases = list(
            UnderwritingCase.objects.select_for_update(of=("self",))
            .filter(item__application=application, status=CaseStatus.OPEN)
            .select_related("item")
            .order_by("id")
        )
        now = timezone.now()
        for case in cases:
            before = _case_state(case)
            _move_case(case, CaseStatus.WITHDRAWN)
            case.withdrawn_at = now
            case.save(update_fields=["status", "withdrawn_at"])
            audit.record(
                "underwriting.case_withdrawn",
                OBJ_TYPE,
                str(application.public_id),
                actor=actor or "system",
                before=before,
                after=_case_state(case),
                request=request,
            )
    return len(cases)


def open_cases() -> Any:
    """The underwriter queue: open cases, oldest first."""
    return UnderwritingCase.objects.filter(status=CaseStatus.OPEN).order_by("created_at", "id")


__all__ = [
    "decide_case",
    "existing_death_benefit",
    "in_force_death_benefit",
    "loaded_premium",
    "open_cases",
    "underwrite_application",
    "validate_decision",
    "withdraw_open_cases",
]


def purge_for_application(application: Application, *, dry_run: bool = False) -> dict[str, int]:
    """Deletes the underwriting cases of `application`'s items (they hold the health answers and
    the underwriter's reasons) as the application is deleted at the end of its retention; returns
    the count (what would be deleted, with `dry_run`). Runs in the caller's transaction. The
    cascade from the items would delete them too; this makes it explicit and counted."""
    cases = UnderwritingCase.objects.filter(item__application=application)
    counts = {"underwriting_cases": cases.count()}
    if not dry_run and counts["underwriting_cases"]:
        UnderwritingCase.objects.filter(pk__in=list(cases.values_list("pk", flat=True))).delete()
    return counts
