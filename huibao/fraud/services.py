"""Risk control's use-cases: screening a subject, the analysts' case moves, rule changes and the
shared blacklist. Each runs in the caller's transaction (a savepoint of its own), writes the
audit chain, and announces a resolved case on `screening_resolved[kind]`. Holds live in
`fraud.holds`, the threshold versions in `fraud.thresholds`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.hooks import KeyedHook
from huibao.core.inserts import insert_unless_taken
from huibao.core.masking import mask_id_number, mask_name
from huibao.core.states import check_transition
from huibao.core.validators import text_problem, validate_resident_id
from huibao.fraud import holds, rules, selectors
from huibao.fraud.models import (
    BlacklistEntry,
    BlacklistSource,
    FraudCase,
    FraudRule,
    ScreenedClaim,
    ScreenedInvoice,
    Screening,
)
from huibao.fraud.rules import ClaimSubject, Match, Route
from huibao.fraud.states import CASE_TRANSITIONS, CaseStatus, InvoiceKind


@dataclass(frozen=True, slots=True)
class ScreeningResolved:
    """An analyst cleared or confirmed a case: the subject's side continues or denies."""

    subject_kind: str
    reference: str
    screening_id: str
    case_id: str
    outcome: str  # "cleared" | "confirmed"
    note: str
    blacklisted: bool


# Keyed by subject kind ("claim"): the claim side registers its listener in its AppConfig.ready().
screening_resolved: KeyedHook[ScreeningResolved, None] = KeyedHook("fraud.screening_resolved")


def id_hash_of(id_number: str) -> str:
    """The hash a subject's and the blacklist's ID columns hold (ID numbers are never stored)."""
    return lookup_hash(id_number, context=rules.ID_HASH_CONTEXT)


# --- screening ---------------------------------------------------------------------------------


def _subject_digest(subject: ClaimSubject) -> str:
    payload = json.dumps(asdict(subject), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _claim_fields(subject: ClaimSubject, digest: str) -> dict[str, Any]:
    return {
        "policy_reference": subject.policy_reference,
        "insurer_code": subject.insurer_code,
        "product_code": subject.product_code,
        "line": subject.line,
        "claimant_id_hash": subject.claimant_id_hash,
        "insured_id_hash": subject.insured_id_hash,
        "region_code": subject.region_code,
        "institution": subject.medical_institution[:200],
        "institution_key": rules.normalise_institution(subject.medical_institution)[:200],
        "claim_type": subject.claim_type,
        "amount": subject.amount_claimed,
        "incident_date": subject.incident_date,
        "reported_at": subject.reported_at,
        "policy_effective_date": subject.policy_effective_date,
        "waiting_period_end": subject.waiting_period_end,
        "sum_insured_increased_on": subject.sum_insured_increased_on,
        "claimant_name_masked": mask_name(subject.claimant_name),
        "subject_digest": digest,
    }


def _check_subject(subject: ClaimSubject) -> None:
    errors = []
    if not subject.reference.strip():
        errors.append(FieldError("reference", "required", "理赔号：必填"))
    if subject.amount_claimed < 0:
        errors.append(FieldError("amount_claimed", "negative", "申请金额：不能为负"))
    if errors:
        raise ValidationFailed("筛查对象有误", errors=errors)


def _store(subject: ClaimSubject, digest: str) -> tuple[ScreenedClaim, bool, bool]:
    """The subject's row, locked, with its invoices; whether it was new or changed, and whether
    it was new (a new subject has no hold to end)."""
    fields = _claim_fields(subject, digest)
    # A first screening (the common case) in one statement: the insert skips a reference that
    # exists — also one a concurrent first screening has just committed (it waits for it) — with
    # no IntegrityError, so no savepoint; a row that went in is ours and new.
    fresh = ScreenedClaim(reference=subject.reference, **fields)
    if insert_unless_taken([fresh]):
        _write_invoices(fresh, subject)
        return fresh, True, True
    claim = ScreenedClaim.objects.select_for_update().get(reference=subject.reference)
    if claim.subject_digest == digest:
        return claim, False, False
    for name, value in fields.items():
        setattr(claim, name, value)
    claim.save(update_fields=[*fields, "updated_at"])
    ScreenedInvoice.objects.filter(claim=claim).delete()
    _write_invoices(claim, subject)
    return claim, True, False


def _write_invoices(claim: ScreenedClaim, subject: ClaimSubject) -> None:
    rows = {(InvoiceKind.NUMBER, rules.normalise_invoice(n)) for n in subject.invoice_numbers if n.strip()}
    rows |= {(InvoiceKind.DIGEST, d.lower()) for d in subject.file_digests if d.strip()}
    ScreenedInvoice.objects.bulk_create(
        [ScreenedInvoice(claim=claim, kind=kind, value=value[:128]) for kind, value in sorted(rows)]
    )


def gather(subject: ClaimSubject, active: list[rules.ActiveRule]) -> dict[str, tuple[Match, ...]]:
    """The history every rule needs (none for the others): the rows queries together in one
    round trip (`selectors.run_together`), any other query on its own."""
    found: dict[str, tuple[Match, ...]] = {}
    together: dict[str, selectors.HistoryRows | None] = {}
    for rule in active:
        name = rule.spec.query
        if not name:
            continue
        if name in selectors.ROWS_QUERIES:
            together[rule.spec.code] = selectors.ROWS_QUERIES[name](subject, rule.params)
        else:
            found[rule.spec.code] = selectors.QUERIES[name](subject, rule.params)
    found.update(selectors.run_together(together))
    return found


def screen_claim(subject: ClaimSubject) -> Screening:
    """Screens a claim: stores (or updates) the subject, evaluates every active claim rule against
    it and the history under the thresholds in force, and writes the Screening — in the caller's
    transaction. A review or block route opens a case in the analysts' queue (its evidence: the
    screening's fired rules); a hold route holds it (`fraud.holds`). The same subject screened
    again under the same rule and threshold versions answers the same Screening; a changed
    subject, rule or threshold version makes a new one."""
    _check_subject(subject)
    digest = _subject_digest(subject)
    # No savepoint inside the caller's transaction (nothing here is caught and gone on from; the
    # first insert of a subject skips a concurrent first screening's row instead of failing).
    with transaction.atomic(savepoint=False):
        claim, changed, created = _store(subject, digest)
        active = selectors.active_rules(subject.kind)
        thresholds = selectors.thresholds_in_force()
        versions = {r.spec.code: r.version for r in active}
        if not changed:
            latest = claim.screenings.order_by("-created_at", "-id").first()
            if (
                latest is not None
                and latest.rule_versions == versions
                and latest.policy_version == thresholds.version
            ):
                return latest
        verdict = rules.evaluate(subject, active, gather(subject, active), thresholds)
        screening = Screening.objects.create(
            subject_kind=subject.kind,
            claim=claim,
            subject_digest=digest,
            score=verdict.score,
            route=verdict.route.value,
            fired=[f.as_dict() for f in verdict.fired],
            fired_codes="," + ",".join(f.code for f in verdict.fired) + "," if verdict.fired else "",
            rule_versions=versions,
            policy_version=thresholds.version,
        )
        if verdict.route == Route.HOLD:
            holds.hold(claim, screening, verdict)
        else:
            if not created:
                holds.end_hold_on_rescreen(claim, verdict.route)
            if verdict.route in (Route.REVIEW, Route.BLOCK):
                _open_case(claim, screening)
        audit.record(
            "fraud.screened",
            "fraud.screening",
            str(screening.public_id),
            actor="system",
            after={
                "reference": subject.reference,
                "score": verdict.score,
                "route": verdict.route.value,
                "thresholds": thresholds.version,
                "fired": [f"{f.code}@v{f.version}" for f in verdict.fired],
            },
        )
        return screening


_open_case = holds.open_case


# --- the analysts' cases ----------------------------------------------------------------------


def _locked(case: FraudCase) -> FraudCase:
    return FraudCase.objects.select_for_update().select_related("claim", "screening").get(pk=case.pk)


def _move(case: FraudCase, target: str, *, actor: Any, request: HttpRequest | None, note: str = "") -> None:
    check_transition(CASE_TRANSITIONS, case.status, target, what="fraud case")
    before = case.status
    case.status = target
    fields = ["status"]
    if target == CaseStatus.IN_REVIEW:
        case.assigned_to = actor
        fields.append("assigned_to")
    elif target == CaseStatus.OPEN:
        case.assigned_to = None
        fields.append("assigned_to")
    else:
        case.resolved_by, case.resolved_at, case.note = actor, timezone.now(), note
        fields += ["resolved_by", "resolved_at", "note"]
    case.save(update_fields=fields)
    audit.record(
        f"fraud.case_{target}",
        "fraud.case",
        str(case.public_id),
        actor=actor,
        before={"status": before},
        after={"status": target, "note": note},
        request=request,
    )


def take_case(case: FraudCase, *, actor: Any, request: HttpRequest | None = None) -> FraudCase:
    with transaction.atomic():
        case = _locked(case)
        _move(case, CaseStatus.IN_REVIEW, actor=actor, request=request)
        return case


def release_case(case: FraudCase, *, actor: Any, request: HttpRequest | None = None) -> FraudCase:
    with transaction.atomic():
        case = _locked(case)
        _move(case, CaseStatus.OPEN, actor=actor, request=request)
        return case


def _note(note: str) -> str:
    note = (note or "").strip()
    problem = text_problem(note, max_length=2000, multiline=True) if note else ("required", "必填")
    if problem:
        raise ValidationFailed(
            f"处理意见：{problem[1]}", errors=[FieldError("note", problem[0], f"处理意见：{problem[1]}")]
        )
    return note


def clear_case(case: FraudCase, *, actor: Any, note: str, request: HttpRequest | None = None) -> FraudCase:
    """The analyst found nothing: the subject's side continues."""
    return _resolve(case, CaseStatus.CLEARED, actor=actor, note=note, blacklist_reason="", request=request)


def confirm_case(
    case: FraudCase, *, actor: Any, note: str, blacklist_reason: str = "", request: HttpRequest | None = None
) -> FraudCase:
    """Fraud confirmed: the subject's side denies. With `blacklist_reason`, the claimant (and the
    insured, when another person) go on the shared blacklist."""
    return _resolve(
        case, CaseStatus.CONFIRMED, actor=actor, note=note, blacklist_reason=blacklist_reason, request=request
    )


def _resolve(
    case: FraudCase, target: str, *, actor: Any, note: str, blacklist_reason: str, request: HttpRequest | None
) -> FraudCase:
    note = _note(note)
    with transaction.atomic():
        case = _locked(case)
        _move(case, target, actor=actor, request=request, note=note)
        listed = False
        if target == CaseStatus.CONFIRMED and blacklist_reason.strip():
            claim = case.claim
            for id_hash, name in dict.fromkeys(
                [(claim.claimant_id_hash, claim.claimant_name_masked), (claim.insured_id_hash, "")]
            ):
                if id_hash and not selectors.is_blacklisted(id_hash):
                    _add_entry(
                        id_hash=id_hash,
                        name_masked=name,
                        id_masked="",
                        reason=blacklist_reason,
                        source=BlacklistSource.PLATFORM,
                        insurer_code="",
                        valid_until=None,
                        actor=actor,
                        case=case,
                        request=request,
                    )
            listed = True
        screening_resolved.announce(
            case.screening.subject_kind,
            ScreeningResolved(
                subject_kind=case.screening.subject_kind,
                reference=case.claim.reference,
                screening_id=str(case.screening.public_id),
                case_id=str(case.public_id),
                outcome=target,
                note=note,
                blacklisted=listed,
            ),
        )
        # Claims of the same people held until this case was resolved continue.
        holds.release_waiting_on(case)
        return case


# --- rules ------------------------------------------------------------------------------------


def update_rule(
    code: str,
    *,
    actor: Any,
    parameters: Mapping[str, Any] | None = None,
    enabled: bool | None = None,
    score: int | None = None,
    route: str | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> FraudRule:
    """A new version of the rule with the changes (parameters validated against the rule's
    declared schema: refused naming the field, nothing written). The old version stays."""
    spec = rules.RULES.get(code)
    errors: list[FieldError] = []
    if spec is None:
        errors.append(FieldError("code", "unknown_rule", f"规则{code}未在代码中注册"))
        raise ValidationFailed("风控规则不存在", errors=errors)
    clean: dict[str, Any] | None = None
    if parameters is not None:
        clean, errors = rules.validate_parameters(spec.params, parameters)
    if score is not None and not (0 <= score <= 1000):
        errors.append(FieldError("score", "out_of_range", "分值：须在0到1000之间"))
    if route is not None and route not in {r.value for r in Route}:
        errors.append(FieldError("route", "invalid_choice", "路由：须为 pass、review 或 block"))
    if errors:
        raise ValidationFailed("规则参数有误：" + "；".join(e.message for e in errors), errors=errors)
    with transaction.atomic():
        current = FraudRule.objects.select_for_update().get(code=code, is_current=True)
        FraudRule.objects.filter(pk=current.pk).update(is_current=False)
        new = FraudRule.objects.create(
            code=code,
            version=current.version + 1,
            subject_kind=current.subject_kind,
            name=current.name,
            description=current.description,
            enabled=current.enabled if enabled is None else enabled,
            score=current.score if score is None else score,
            route=current.route if route is None else route,
            parameters=current.parameters if clean is None else clean,
            changed_by=actor if getattr(actor, "pk", None) else None,
            change_reason=reason[:200],
        )
        audit.record(
            "fraud.rule_changed",
            "fraud.rule",
            code,
            actor=actor,
            request=request,
            before={
                "version": current.version,
                "parameters": current.parameters,
                "enabled": current.enabled,
                "score": current.score,
                "route": current.route,
            },
            after={
                "version": new.version,
                "parameters": new.parameters,
                "enabled": new.enabled,
                "score": new.score,
                "route": new.route,
                "reason": reason,
            },
        )
        return new


def seed_rule_rows(model: Any, *, using: str = "default") -> int:
    """Creates version 1 of every registered rule that has no row (`model`: the live FraudRule,
    or a migration's historical one)."""
    existing = set(model.objects.using(using).values_list("code", flat=True))
    # A migration's historical model knows only the routes of its time: a rule forcing a later
    # route is seeded by the later migration that allows it.
    known_routes = {value for value, _label in model._meta.get_field("route").choices}
    created = [
        model(
            code=spec.code,
            version=1,
            is_current=True,
            subject_kind=spec.subject_kind,
            name=spec.name,
            description=spec.description,
            enabled=True,
            score=spec.score,
            route=spec.route.value,
            parameters=dict(spec.defaults),
        )
        for spec in rules.RULES.values()
        if spec.code not in existing and spec.route.value in known_routes
    ]
    model.objects.using(using).bulk_create(created)
    return len(created)


# --- the blacklist ------------------------------------------------------------------------------


def _add_entry(
    *,
    id_hash: str,
    name_masked: str,
    id_masked: str,
    reason: str,
    source: str,
    insurer_code: str,
    valid_until: datetime.date | None,
    actor: Any,
    case: FraudCase | None,
    request: HttpRequest | None,
) -> BlacklistEntry:
    entry = BlacklistEntry.objects.create(
        id_hash=id_hash,
        name_masked=name_masked,
        id_masked=id_masked,
        reason=reason.strip()[:500],
        source=source,
        insurer_code=insurer_code,
        case=case,
        added_by=actor,
        valid_from=timezone.localdate(),
        valid_until=valid_until,
    )
    audit.record(
        "fraud.blacklist_added",
        "fraud.blacklist",
        str(entry.public_id),
        actor=actor,
        request=request,
        after={
            "name": name_masked,
            "id": id_masked,
            "reason": entry.reason,
            "source": source,
            "insurer_code": insurer_code,
            "valid_until": valid_until,
            "case": str(case.public_id) if case else None,
        },
    )
    return entry


def add_to_blacklist(
    *,
    id_number: str,
    name: str,
    reason: str,
    actor: Any,
    source: str = BlacklistSource.PLATFORM,
    insurer_code: str = "",
    valid_until: datetime.date | None = None,
    request: HttpRequest | None = None,
) -> BlacklistEntry:
    """Puts a person on the shared blacklist. Only the ID hash and masked forms are kept."""
    errors: list[FieldError] = []
    number = ""
    try:
        number = validate_resident_id(id_number, field="id_number").number
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    reason = (reason or "").strip()
    problem = text_problem(reason, max_length=500) if reason else ("required", "必填")
    if problem:
        errors.append(FieldError("reason", problem[0], f"原因：{problem[1]}"))
    if source not in BlacklistSource.values:
        errors.append(FieldError("source", "invalid_choice", "来源：须为平台或保险公司"))
    insurer_code = (insurer_code or "").strip()
    if source == BlacklistSource.INSURER and not insurer_code:
        errors.append(FieldError("insurer_code", "required", "保险公司代码：来源为保险公司时必填"))
    if source == BlacklistSource.PLATFORM:
        insurer_code = ""
    if valid_until is not None and valid_until < timezone.localdate():
        errors.append(FieldError("valid_until", "in_past", "失效日：不能早于今天"))
    if errors:
        raise ValidationFailed("黑名单信息有误：" + "；".join(e.message for e in errors), errors=errors)
    id_hash = id_hash_of(number)
    with transaction.atomic():
        if selectors.active_blacklist().select_for_update().filter(id_hash=id_hash).exists():
            raise Conflict(
                "此人已在黑名单上",
                code="already_blacklisted",
                errors=[FieldError("id_number", "already_blacklisted", "证件号：此人已在黑名单上")],
            )
        return _add_entry(
            id_hash=id_hash,
            name_masked=mask_name(name.strip()),
            id_masked=mask_id_number(number),
            reason=reason,
            source=source,
            insurer_code=insurer_code,
            valid_until=valid_until,
            actor=actor,
            case=None,
            request=request,
        )


def remove_from_blacklist(
    entry: BlacklistEntry, *, reason: str, actor: Any, request: HttpRequest | None = None
) -> BlacklistEntry:
    """Takes a person off the list: the entry stays, marked removed with the reason."""
    reason = (reason or "").strip()
    problem = text_problem(reason, max_length=500) if reason else ("required", "必填")
    if problem:
        raise ValidationFailed(
            f"移除原因：{problem[1]}", errors=[FieldError("reason", problem[0], f"移除原因：{problem[1]}")]
        )
    with transaction.atomic():
        entry = BlacklistEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.removed_at is not None:
            raise Conflict("该记录已移除", code="already_removed")
        entry.removed_at, entry.removed_by, entry.removal_reason = timezone.now(), actor, reason
        entry.save(update_fields=["removed_at", "removed_by", "removal_reason"])
        audit.record(
            "fraud.blacklist_removed",
            "fraud.blacklist",
            str(entry.public_id),
            actor=actor,
            request=request,
            after={"reason": reason},
        )
        return entry
