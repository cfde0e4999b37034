"""Policy use-cases: issuance, recovery, status sweeps, verification and NPS.

`issue_policies` runs inside the transaction that confirms the payment (the application's paid
hook). It locks the application row, so concurrent or repeated calls issue each item once (the
one-to-one `Policy.item` is the last guard), takes numbers from `PolicyNumberSequence` under row
locks taken in insurer order (no deadlock between bundles of several insurers), writes the
policy, its insurer delivery and the audit entry, and — only after commit — enqueues the e-policy
rendering and the delivery to the insurer. A crash after commit loses at most those tasks, which
`recover_issuance` finds again.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.models import Application, ApplicationItem, Beneficiary
from huibao.application.rules import parse_rules
from huibao.application.states import ApplicationStatus
from huibao.catalog.documents import coverages_of_plans, is_frozen, version_documents
from huibao.catalog.models import Coverage, Insurer
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.hooks import Hook
from huibao.core.states import check_transition
from huibao.core.validators import text_problem
from huibao.policy import rules
from huibao.policy import schedule as schedule_mod
from huibao.policy.connector import connector_for
from huibao.policy.models import InsurerDelivery, NpsResponse, Policy, PolicyNumberSequence
from huibao.policy.states import POLICY_TRANSITIONS, PolicyStatus

logger = logging.getLogger(__name__)

OBJ_TYPE = "policy"
SYSTEM = "system"
ISSUABLE_STATUSES = (ApplicationStatus.AWAITING_PAYMENT, ApplicationStatus.ISSUED)
SEQUENCE_ATTEMPTS = 8


# --- numbers -----------------------------------------------------------------------------------


def _locked_sequence(insurer: Insurer, year: int) -> PolicyNumberSequence:
    """The insurer's sequence row for `year`, locked until the end of the transaction.

    The first policy of a year creates the row. Two transactions may try that at once: on
    PostgreSQL the second insert waits for the first to commit, then fails on the unique
    constraint inside its own savepoint, and the loop simply locks the row the first one made.
    The same happens when the prefix this insurer wants was just taken by another insurer: the
    next candidate prefix is tried."""
    for _ in range(SEQUENCE_ATTEMPTS):
        row = PolicyNumberSequence.objects.select_for_update().filter(insurer=insurer, year=year).first()
        if row is not None:
            return row
        previous = (
            PolicyNumberSequence.objects.filter(insurer=insurer)
            .order_by("-year")
            .values_list("prefix", flat=True)
        )
        taken = set(PolicyNumberSequence.objects.exclude(insurer=insurer).values_list("prefix", flat=True))
        candidates = [p for p in previous[:1] if p and p not in taken] + [
            p for p in rules.number_prefix_candidates(insurer.code, insurer.pk) if p not in taken
        ]
        if not candidates:
            raise Conflict(
                f"no free policy number prefix for insurer {insurer.code}", code="no_number_prefix"
            )
        try:
            with transaction.atomic():
                PolicyNumberSequence.objects.create(insurer=insurer, year=year, prefix=candidates[0])
        except IntegrityError:
            continue
    raise Conflict(f"could not create the policy number sequence of {insurer.code}", code="sequence_busy")


def _next_number(sequence: PolicyNumberSequence, year: int) -> str:
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return rules.format_number(sequence.prefix, year, sequence.last)


# --- issuance ----------------------------------------------------------------------------------


def _coverages(item: ApplicationItem) -> list[tuple[Coverage, Decimal]]:
    plan = item.plan
    # A frozen version's from the per-process cache (its plans' coverages never change).
    rows = coverages_of_plans({plan.pk: is_frozen(item.product_version)})[plan.pk]
    return [(c, rules.scaled_sum(c.sum_insured, plan.max_sum_insured, item.sum_insured)) for c in rows]


def _issue_item(
    app: Application,
    item: ApplicationItem,
    *,
    sequence: PolicyNumberSequence,
    paid_at: datetime.datetime,
    now: datetime.datetime,
) -> tuple[Policy, InsurerDelivery]:
    version = item.product_version
    insurer = version.product.insurer
    insured = item.insured
    local_now = timezone.localtime(now)
    effective_at = parse_rules(version.application_rules).effective_at(timezone.localtime(paid_at))
    effective_at = timezone.localtime(effective_at)
    term = rules.choose_term(version.term_options or [], item.quote.inputs.get("term"))
    birth = insured.birth_date if insured is not None else app.applicant_birth_date
    expires_at = rules.contract_end(term, effective_at, birth)
    coverages = _coverages(item)
    death_benefit = rules.death_benefit((c.code, c.name, amount) for c, amount in coverages)
    cooling_off_until = rules.cooling_off_until(local_now.date(), version.cooling_off_days)
    documents = version_documents(version)
    year = local_now.year
    number = _next_number(sequence, year)
    schedule = schedule_mod.build_schedule(
        number=number,
        app=app,
        item=item,
        insured=insured,
        term=term,
        issued_at=local_now,
        effective_at=effective_at,
        expires_at=expires_at,
        cooling_off_until=cooling_off_until,
        coverages=coverages,
        death_benefit=death_benefit,
        documents=documents,
    )
    policy = Policy.objects.create(
        number=number,
        insurer=insurer,
        application=app,
        item=item,
        product_version=version,
        plan=item.plan,
        customer_id=app.customer_id,
        channel=app.channel,
        status=PolicyStatus.PENDING_START if effective_at > now else PolicyStatus.IN_FORCE,
        holder_name=app.applicant_name,
        holder_id_hash=app.applicant_id_hash,
        insured_name=insured.name if insured is not None else app.applicant_name,
        insured_id_hash=insured.id_hash if insured is not None else app.applicant_id_hash,
        schedule=schedule_mod.dumps(schedule),
        premium=item.premium,
        sum_insured=item.sum_insured,
        death_benefit=death_benefit,
        effective_at=effective_at,
        expires_at=expires_at,
        issued_at=now,
        cooling_off_until=cooling_off_until,
        retention_until=rules.retention_until(effective_at, expires_at, birth),
    )
    delivery = InsurerDelivery.objects.create(
        policy=policy, connector=connector_for(insurer.code), next_attempt_at=now
    )
    audit.record(
        "policy.issued",
        OBJ_TYPE,
        number,
        actor=SYSTEM,
        after={
            "number": number,
            "public_id": policy.public_id,
            "application": app.number,
            "item": item.position,
            "insurer": insurer.code,
            "product": version.product.code,
            "product_version": version.number,
            "plan": item.plan.code,
            "channel": app.channel,
            "status": policy.status,
            "premium": policy.premium,
            "sum_insured": policy.sum_insured,
            "death_benefit": death_benefit,
            "effective_at": effective_at,
            "expires_at": expires_at,
            "cooling_off_until": cooling_off_until,
            "retention_until": policy.retention_until,
            "schedule_sha256": hashlib.sha256(policy.schedule.encode()).hexdigest(),
        },
    )
    return policy, delivery


def _enqueue_after_commit(policy_id: int, delivery_id: int) -> None:
    def enqueue() -> None:
        from huibao.policy.tasks import deliver_policy, render_epolicy_task

        render_epolicy_task.enqueue(policy_id)
        deliver_policy.enqueue(delivery_id)

    transaction.on_commit(enqueue)


def issue_policies(
    application: Application,
    payment: Any,
    *,
    now: datetime.datetime | None = None,
    locked: bool = False,
) -> list[Policy]:
    """Issues one policy per item of a paid application; returns all its policies (item order).

    Must run inside the transaction that confirms `payment` (`payment.paid_at` is the payment
    time; the application's `paid_at`, then `now`, if it has none). Items that already have a
    policy are skipped, so calling it again — or concurrently — issues nothing twice.
    Also sets `application.retention_until` to the latest retention date of its policies.

    `locked`: the caller read `application` under its row lock in the current transaction and
    saves it afterwards. It is not read again, its `retention_until` is set but not saved, and
    the issuance runs in the caller's transaction (no savepoint: an error aborts it)."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=not locked):
        return _issue_policies(application, payment, now, locked=locked)


def _issue_policies(
    application: Application, payment: Any, now: datetime.datetime, *, locked: bool
) -> list[Policy]:
    app = application if locked else Application.objects.select_for_update().get(pk=application.pk)
    if app.status not in ISSUABLE_STATUSES:
        raise Conflict(
            f"application {app.number} is {app.status}: policies are issued only once it is paid",
            code="application_not_paid",
        )
    paid_at = getattr(payment, "paid_at", None) or application.paid_at or app.paid_at or now
    items = list(
        ApplicationItem.objects.filter(application=app)
        .select_related("product_version__product__insurer", "plan", "quote", "insured")
        .order_by("position")
    )
    if getattr(app, "has_beneficiaries", None) is False:
        # The caller read the application knowing none of its insured has a named beneficiary.
        prefetch_related_objects(
            [i.insured for i in items if i.insured is not None],
            Prefetch("beneficiaries", Beneficiary.objects.none()),
        )
    # The application's policies so far (each of one of its items): one read for the items
    # already done and for the answer.
    policies = list(Policy.objects.filter(application=app).select_related("item"))
    done = {p.item_id for p in policies}
    todo = [item for item in items if item.pk not in done]
    if todo:
        year = timezone.localtime(now).year
        insurers = sorted({i.product_version.product.insurer for i in todo}, key=lambda ins: ins.pk)
        sequences = {insurer.pk: _locked_sequence(insurer, year) for insurer in insurers}
        for item in todo:
            policy, delivery = _issue_item(
                app,
                item,
                sequence=sequences[item.product_version.product.insurer_id],
                paid_at=paid_at,
                now=now,
            )
            _enqueue_after_commit(policy.pk, delivery.pk)
            policies.append(policy)
    policies.sort(key=lambda p: (p.item.position, p.pk))
    latest = max((p.retention_until for p in policies), default=None)
    if latest is not None and (application.retention_until is None or application.retention_until < latest):
        application.retention_until = latest
        if not locked:
            application.save(update_fields=["retention_until", "updated_at"])
    return policies


# --- recovery ----------------------------------------------------------------------------------

RECOVERY_BATCH = 500


@dataclass(frozen=True, slots=True)
class IssuanceRecovery:
    """A recovery run (`recover_issuance`): each listener issues what was paid but not issued
    and answers the numbers of what it issued."""

    now: datetime.datetime


issuance_recovery: Hook[IssuanceRecovery, list[str]] = Hook("policy.issuance_recovery")


def missing_epolicies(limit: int = RECOVERY_BATCH) -> list[int]:
    return list(
        Policy.objects.filter(epolicy__isnull=True).order_by("id").values_list("pk", flat=True)[:limit]
    )


def recover_issuance(now: datetime.datetime | None = None) -> dict[str, Any]:
    """Finishes whatever a crash or a lost task left undone, idempotently:

    (a) issues paid-but-unissued applications (the listeners of `issuance_recovery`: the
    application app registers its recovery there), (b) renders every missing e-policy (up to
    `RECOVERY_BATCH` per run), (c)
    re-enqueues the insurer deliveries that are pending, failed or unacknowledged and due.
    Each part runs on its own, so one failing does not stop the others."""
    from huibao.policy import delivery, documents
    from huibao.policy.tasks import deliver_policy

    now = now or timezone.now()
    result: dict[str, Any] = {"issued": [], "epolicies_rendered": 0, "deliveries_enqueued": 0, "errors": []}
    try:
        for issued in issuance_recovery.announce(IssuanceRecovery(now=now)):
            result["issued"].extend(issued)
    except Exception as exc:
        logger.exception("recovery of paid applications failed")
        result["errors"].append(f"issue: {exc}")
    for policy_id in missing_epolicies():
        try:
            documents.render_epolicy(Policy.objects.get(pk=policy_id))
            result["epolicies_rendered"] += 1
        except Exception as exc:
            logger.exception("rendering the e-policy of policy %s failed", policy_id)
            result["errors"].append(f"epolicy {policy_id}: {exc}")
    for delivery_id in delivery.due_deliveries(now):
        deliver_policy.enqueue(delivery_id)
        result["deliveries_enqueued"] += 1
    return result


# --- statuses ----------------------------------------------------------------------------------


def _move(policy: Policy, target: str, *, actor: Any = SYSTEM) -> None:
    check_transition(POLICY_TRANSITIONS, policy.status, target, what="policy")
    before = policy.status
    policy.status = target
    policy.save(update_fields=["status"])
    audit.record(
        f"policy.{target}",
        OBJ_TYPE,
        policy.number,
        actor=actor,
        before={"status": before},
        after={"status": target},
    )


def update_policy_statuses(now: datetime.datetime | None = None) -> dict[str, int]:
    """Sweep: policies whose start has come are in force, those past their end expired."""
    now = now or timezone.now()
    counts = {"in_force": 0, "expired": 0}
    starting = Policy.objects.filter(status=PolicyStatus.PENDING_START, effective_at__lte=now)
    ending = Policy.objects.filter(
        status__in=[PolicyStatus.PENDING_START, PolicyStatus.IN_FORCE],
        expires_at__isnull=False,
        expires_at__lte=now,
    )
    for pk in list(starting.values_list("pk", flat=True)):
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=pk)
            if policy.status == PolicyStatus.PENDING_START and policy.effective_at <= now:
                _move(policy, PolicyStatus.IN_FORCE)
                counts["in_force"] += 1
    for pk in list(ending.values_list("pk", flat=True)):
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=pk)
            if policy.status == PolicyStatus.IN_FORCE and policy.expires_at and policy.expires_at <= now:
                _move(policy, PolicyStatus.EXPIRED)
                counts["expired"] += 1
    return counts


# --- verification (public) -----------------------------------------------------------------------


def policy_by_code(code: str) -> Policy | None:
    """The policy a verification code belongs to, or None (not a genuine policy)."""
    code = (code or "").strip()
    if not code or len(code) > Policy._meta.get_field("verification_code").max_length:  # type: ignore[operator]
        return None
    return (
        Policy.objects.select_related("insurer", "product_version__product", "plan")
        .filter(verification_code=code)
        .first()
    )


def policy_by_number_and_code(number: str, code: str) -> Policy | None:
    """Both must match; a wrong code says no more than an unknown number."""
    policy = policy_by_code(code)
    if policy is None or policy.number != (number or "").strip().upper():
        return None
    return policy


@dataclass(frozen=True, slots=True)
class PdfCheck:
    """What the verification page says of an uploaded file, one fact per line, each true on its
    own: who signed (`signature_trusted`), whether what was signed is unchanged
    (`signature_intact`), whether anything was added after signing (`covers_whole_file`,
    `updated_after_signing`), and whether it is an e-policy the platform issued (`policy`)."""

    signature_valid: bool  # intact, platform-signed, covering the whole file
    signature_intact: bool  # the signed bytes are unchanged
    signature_trusted: bool  # signed by a certificate of the platform CA
    covers_whole_file: bool  # nothing follows the signed bytes
    updated_after_signing: bool  # incremental updates follow the signed revision
    signer: str
    problems: tuple[str, ...]
    sha256: str
    policy: Policy | None  # the issued e-policy with exactly these bytes, if any


MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def check_pdf(data: bytes) -> PdfCheck:
    """Whether an uploaded PDF carries a valid platform signature, and whether it is, byte for
    byte, an e-policy the platform issued."""
    from huibao.esign.pdf import Coverage, verify_pdf

    digest = hashlib.sha256(data).hexdigest()
    check = verify_pdf(data)
    policy = (
        Policy.objects.select_related("insurer", "product_version__product", "plan")
        .filter(epolicy_sha256=digest)
        .first()
    )
    return PdfCheck(
        signature_valid=check.valid,
        signature_intact=check.intact,
        signature_trusted=check.trusted,
        covers_whole_file=check.coverage is Coverage.ENTIRE_FILE,
        updated_after_signing=check.updated_after_signing,
        signer=check.signer_cn,
        problems=check.problems,
        sha256=digest,
        policy=policy,
    )


# --- NPS -----------------------------------------------------------------------------------------


def record_nps(
    application: Application,
    *,
    score: int,
    comment: str,
    user: Any,
    request: HttpRequest | None = None,
) -> NpsResponse:
    """The customer's rating (0–10 and a comment of at most 500 characters) of an issued
    application, once. Raises NotFound (not theirs), Conflict (not issued, already rated) or
    ValidationFailed (`score`, `comment`)."""
    errors: list[FieldError] = []
    if isinstance(score, bool) or not isinstance(score, int) or not rules.NPS_MIN <= score <= rules.NPS_MAX:
        errors.append(FieldError("score", "out_of_range", "请选择0到10之间的评分"))
    comment = (comment or "").strip()
    if len(comment) > rules.NPS_COMMENT_MAX:
        errors.append(
            FieldError("comment", "too_long", f"评价内容最多{rules.NPS_COMMENT_MAX}字，当前{len(comment)}字")
        )
    elif (problem := text_problem(comment, max_length=rules.NPS_COMMENT_MAX, multiline=True)) is not None:
        errors.append(FieldError("comment", problem[0], "评价内容" + problem[1]))
    if errors:
        raise ValidationFailed("invalid rating", errors=errors)
    with transaction.atomic():
        app = Application.objects.select_for_update().filter(pk=application.pk).first()
        if app is None or not getattr(user, "is_authenticated", False) or app.customer_id != user.pk:
            raise NotFound("投保单不存在", code="application_not_found")
        if app.status != ApplicationStatus.ISSUED:
            raise Conflict("保单签发后才能评价", code="not_issued")
        if NpsResponse.objects.filter(application=app).exists():
            raise Conflict("您已评价过本次投保，感谢您的反馈", code="already_rated")
        item = app.items.select_related("product_version__product").order_by("position").first()
        if item is None:
            raise Conflict("投保单没有产品", code="no_items")
        try:
            with transaction.atomic():
                response = NpsResponse.objects.create(
                    application=app,
                    product=item.product_version.product,
                    channel=app.channel,
                    score=score,
                    comment=comment,
                )
        except IntegrityError:
            raise Conflict("您已评价过本次投保，感谢您的反馈", code="already_rated") from None
        audit.record(
            "policy.nps_recorded",
            "application",
            str(app.public_id),
            actor=user,
            request=request,
            after={
                "score": score,
                "category": rules.nps_category(score),
                "product": item.product_version.product.code,
                "channel": app.channel,
                "comment_length": len(comment),
            },
        )
    return response


def nps_for(application: Application) -> NpsResponse | None:
    return NpsResponse.objects.filter(application=application).first()
