"""Underwriting use-cases: underwrite the items of an application, decide a referred case,
withdraw open cases.

Underwriting knows the application only through typed values the application builds
(`Subject`, `UnderwritingRequest` and its items): it never imports the application app, nor the
policy app. `underwrite` runs the version's rules (`huibao.underwriting.rules`) on every item and
answers each item's outcome, reasons, loading, exclusions and premium, which the application
writes on its items; it opens a case for each referred item. `decide_case` records an
underwriter's decision on a case and answers what the item becomes and whether the subject
still has open cases. Every outcome and decision is written to the audit chain on the
application.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.catalog.documents import coverages_of_plans, is_frozen
from huibao.catalog.models import ProductVersion
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from huibao.core.money import to_fen
from huibao.core.states import check_transition
from huibao.underwriting import rules
from huibao.underwriting.models import UnderwritingCase
from huibao.underwriting.states import CASE_TRANSITIONS, CaseDecision, CaseStatus

OBJ_TYPE = "application"
DECIDE_PERMISSION = "underwriting.change_underwritingcase"
MAX_EXCLUSIONS = 10
PERCENT = Decimal("0.01")
MAX_EXCLUSION_LENGTH = 200

Coverages = Sequence[tuple[str, str, Decimal | None]]


# --- what underwriting is given ------------------------------------------------------------------


class Subject(Protocol):
    """The application the underwritten items (and so the cases) belong to."""

    @property
    def pk(self) -> Any: ...

    @property
    def public_id(self) -> uuid.UUID: ...


@dataclass(frozen=True, slots=True)
class InsuredToUnderwrite:
    """The insured person of an item, as the rules see them."""

    position: int  # 1-based, for the field names of errors (`insured[position - 1]`)
    id_hash: str
    birth_date: datetime.date
    sex: str
    relation: str
    occupation_class: int | None
    health_answers: Mapping[str, bool]


@dataclass(frozen=True, slots=True)
class ItemToUnderwrite:
    item_id: int
    position: int
    product_version: ProductVersion  # with its product
    plan_id: int
    sum_insured: Decimal | None
    base_premium: Decimal
    insured: InsuredToUnderwrite


@dataclass(frozen=True, slots=True)
class UnderwritingRequest:
    """All the items of `subject` in position order. `existing_death_benefit`: per insured
    person (ID hash), the death benefit they already have or claim on the platform — live
    policies and the items of other open, confirmed applications — read under the locks of those
    persons (so no aggregate limit is passed twice by two applications at once)."""

    subject: Subject
    items: tuple[ItemToUnderwrite, ...]
    existing_death_benefit: Mapping[str, Decimal]
    # False when the caller knows, under the subject's lock, that it has no open case: none is
    # read to be withdrawn.
    has_open_cases: bool = True


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What an item becomes: the caller writes it on the item."""

    item_id: int
    outcome: str
    reasons: list[dict[str, Any]]
    loading_percent: Decimal
    exclusions: list[str]
    premium: Decimal
    death_benefit: Decimal
    case_id: int | None  # the case opened for a referred item


@dataclass(frozen=True, slots=True)
class UnderwritingResult:
    outcome: str  # the worst item's
    items: tuple[ItemOutcome, ...]


# --- helpers -----------------------------------------------------------------------------------


def age_on(birth: datetime.date, on: datetime.date) -> int:
    """Whole years of age on `on` (周岁)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def loaded_premium(base: Decimal, loading_percent: Decimal) -> Decimal:
    """The premium after a loading, rounded once to the fen."""
    return to_fen(base * (1 + loading_percent / 100))


def health_answers(raw: Mapping[str, Any]) -> dict[str, bool]:
    """The answers that are booleans, by question code (anything else counts as unanswered)."""
    return {str(k): v for k, v in raw.items() if isinstance(v, bool)}


def coverages_by_plan(plans: Mapping[int, bool]) -> dict[int, list[tuple[str, str, Decimal | None]]]:
    """(code, name, sum insured) of each plan's coverages, by plan id; `plans`: plan id → its
    version is frozen (then read once per process, `catalog.documents.coverages_of_plans`; no
    query for none)."""
    return {
        plan_id: [(c.code, c.name, c.sum_insured) for c in rows]
        for plan_id, rows in coverages_of_plans(plans).items()
        if rows
    }


def facts_for(
    item: ItemToUnderwrite,
    *,
    existing_death_benefit: Decimal,
    coverages: Coverages,
    on: datetime.date,
) -> rules.UnderwritingFacts:
    insured = item.insured
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
        health_answers=dict(insured.health_answers),
        premium=item.base_premium,
    )


def _case_state(case: UnderwritingCase, position: int) -> dict[str, Any]:
    return {
        "case": case.pk,
        "item": position,
        "status": case.status,
        "decision": case.decision,
        "loading_percent": case.loading_percent,
        "exclusions": case.exclusions,
    }


def _move_case(case: UnderwritingCase, target: str) -> None:
    check_transition(CASE_TRANSITIONS, case.status, target, what=f"underwriting case {case.pk}")
    case.status = target


# --- automatic underwriting --------------------------------------------------------------------


def underwrite(
    to_underwrite: UnderwritingRequest,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> UnderwritingResult:
    """Underwrites every item of the request and answers each item's outcome and the overall
    outcome (the worst item's). Withdraws the subject's older open cases first and opens a case
    per referred item. Raises `ValidationFailed` naming `insured[i].health_answers.<code>` for an
    unanswered health question (the caller's transaction then changes nothing).

    Runs in the caller's transaction, which holds the subject's row lock."""
    subject = to_underwrite.subject
    items = to_underwrite.items
    if not items:
        raise Conflict("投保单没有投保项目", code="no_items")
    # No savepoint: an error (an unanswered question) aborts the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        if to_underwrite.has_open_cases:
            withdraw_open_cases(subject, actor=actor, request=request)
        on = timezone.localdate()
        coverages = coverages_by_plan({item.plan_id: is_frozen(item.product_version) for item in items})
        running = dict(to_underwrite.existing_death_benefit)
        decisions: list[tuple[ItemToUnderwrite, rules.UnderwritingDecision, Decimal]] = []
        errors: list[FieldError] = []
        for item in items:
            insured = item.insured
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

        outcomes: list[ItemOutcome] = []
        for item, decision, benefit in decisions:
            terms = decision.outcome == "accept_with_terms"
            reasons = [r.as_json() for r in decision.reasons]
            loading = (decision.loading_percent if terms else Decimal(0)).quantize(PERCENT)
            exclusions = list(decision.exclusions) if terms else []
            premium = loaded_premium(item.base_premium, loading)
            after: dict[str, Any] = {
                "item": item.position,
                "product": item.product_version.product.code,
                "outcome": decision.outcome,
                "reasons": reasons,
                "loading": loading,
                "exclusions": exclusions,
                "death_benefit": benefit,
                "premium": premium,
            }
            case_id: int | None = None
            if decision.outcome == "refer":
                case = UnderwritingCase.objects.create(
                    item_id=item.item_id,
                    status=CaseStatus.OPEN,
                    referral_reasons=reasons,
                    suggested_loading_percent=decision.loading_percent,
                    suggested_exclusions=list(decision.exclusions),
                )
                case_id = after["case"] = case.pk
            audit.record(
                f"underwriting.{decision.outcome}",
                OBJ_TYPE,
                str(subject.public_id),
                actor=actor,
                after=after,
                request=request,
            )
            outcomes.append(
                ItemOutcome(
                    item_id=item.item_id,
                    outcome=decision.outcome,
                    reasons=reasons,
                    loading_percent=loading,
                    exclusions=exclusions,
                    premium=premium,
                    death_benefit=benefit,
                    case_id=case_id,
                )
            )
    return UnderwritingResult(outcome=rules.worst(o.outcome for o in outcomes), items=tuple(outcomes))


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


def check_decision(
    underwriter: Any, decision: str, reasons: str, loading_percent: Any, exclusions: Iterable[str]
) -> tuple[Decimal, list[str]]:
    """The underwriter may decide and the decision is complete: answers (loading, cleaned
    exclusions); raises PermissionDenied or ValidationFailed naming the fields."""
    if not (getattr(underwriter, "is_active", False) and underwriter.has_perm(DECIDE_PERMISSION)):
        raise PermissionDenied("无人工核保权限", code="not_underwriter")
    errors, loading, cleaned = validate_decision(decision, reasons, loading_percent, exclusions)
    if errors:
        raise ValidationFailed("the decision is incomplete", errors=errors)
    return loading, cleaned


@dataclass(frozen=True, slots=True)
class CaseItem:
    """The item a case is on, as the decision needs it."""

    position: int
    base_premium: Decimal  # before any loading


@dataclass(frozen=True, slots=True)
class CaseDecided:
    """An underwriter decided `case`: what its item becomes (the caller writes it on the item)
    and whether the subject still has open cases."""

    case: UnderwritingCase
    item_id: int
    outcome: str
    reasons: list[dict[str, Any]]  # the underwriter's first, then the rules' referral reasons
    loading_percent: Decimal
    exclusions: list[str]
    premium: Decimal
    still_open: bool


def decide_case(
    case: UnderwritingCase,
    *,
    subject: Subject,
    item: CaseItem,
    decision: str,
    underwriter: Any,
    reasons: str,
    loading_percent: Decimal | int | str = 0,
    exclusions: Sequence[str] = (),
    request: HttpRequest | None = None,
) -> CaseDecided:
    """An underwriter decides an open case of `subject` on `item`: the case is decided and
    written to the audit chain.

    Runs in the caller's transaction, which holds the subject's and the item's row locks (in
    that order, as every application use-case locks: the case is locked after them)."""
    loading, cleaned = check_decision(underwriter, decision, reasons, loading_percent, exclusions)
    with transaction.atomic(savepoint=False):
        locked = UnderwritingCase.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.OPEN:
            raise Conflict(f"该核保案件{locked.get_status_display()}，不能再作决定", code="case_not_open")
        before = _case_state(locked, item.position)
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
        premium = loaded_premium(item.base_premium, loading)
        label = CaseDecision(decision).label
        item_reasons = [
            {
                "code": f"underwriter_{decision}",
                "message": f"人工核保：{label}。{locked.decision_reasons}",
                "question": "",
            },
            *[r for r in locked.referral_reasons if not str(r.get("code", "")).startswith("underwriter_")],
        ]
        audit.record(
            "underwriting.case_decided",
            OBJ_TYPE,
            str(subject.public_id),
            actor=underwriter,
            before=before,
            after={
                **_case_state(locked, item.position),
                "reasons": locked.decision_reasons,
                "premium": premium,
            },
            request=request,
        )
        still_open = UnderwritingCase.objects.filter(
            item__application_id=subject.pk, status=CaseStatus.OPEN
        ).exists()
    return CaseDecided(
        case=locked,
        item_id=locked.item_id,
        outcome=decision,
        reasons=item_reasons,
        loading_percent=loading,
        exclusions=cleaned,
        premium=premium,
        still_open=still_open,
    )


def withdraw_open_cases(subject: Subject, *, actor: Any = None, request: HttpRequest | None = None) -> int:
    """Withdraws the subject's open cases (it was amended, re-underwritten or closed); returns
    how many."""
    # No savepoint of its own: inside a caller's transaction a failure aborts it anyway.
    with transaction.atomic(savepoint=False):
        cases = list(
            UnderwritingCase.objects.select_for_update(of=("self",))
            .filter(item__application_id=subject.pk, status=CaseStatus.OPEN)
            .select_related("item")
            .order_by("id")
        )
        now = timezone.now()
        for case in cases:
            before = _case_state(case, case.item.position)
            _move_case(case, CaseStatus.WITHDRAWN)
            case.withdrawn_at = now
            case.save(update_fields=["status", "withdrawn_at"])
            audit.record(
                "underwriting.case_withdrawn",
                OBJ_TYPE,
                str(subject.public_id),
                actor=actor or "system",
                before=before,
                after=_case_state(case, case.item.position),
                request=request,
            )
    return len(cases)


def open_cases() -> Any:
    """The underwriter queue: open cases, oldest first."""
    return UnderwritingCase.objects.filter(status=CaseStatus.OPEN).order_by("created_at", "id")


def purge_for_application(application_id: int, *, dry_run: bool = False) -> dict[str, int]:
    """Deletes the underwriting cases of the application's items (they hold the health answers
    and the underwriter's reasons) as the application is deleted at the end of its retention;
    returns the count (what would be deleted, with `dry_run`). Runs in the caller's transaction.
    The cascade from the items would delete them too; this makes it explicit and counted."""
    cases = UnderwritingCase.objects.filter(item__application_id=application_id)
    counts = {"underwriting_cases": cases.count()}
    if not dry_run and counts["underwriting_cases"]:
        UnderwritingCase.objects.filter(pk__in=list(cases.values_list("pk", flat=True))).delete()
    return counts


__all__ = [
    "CaseDecided",
    "CaseItem",
    "InsuredToUnderwrite",
    "ItemOutcome",
    "ItemToUnderwrite",
    "Subject",
    "UnderwritingRequest",
    "UnderwritingResult",
    "check_decision",
    "decide_case",
    "loaded_premium",
    "open_cases",
    "purge_for_application",
    "underwrite",
    "validate_decision",
    "withdraw_open_cases",
]
