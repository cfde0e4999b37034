"""Distribution use-cases: agreements (created, changed, moved through their states), the sales
hierarchy (units created, moved, deactivated), attribution of a sale to its seller, and the
demo/test helper that gives an insurer an active agreement."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from huibao.catalog.models import Insurer, LineOfBusiness, Product
from huibao.core import audit
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.core.states import check_transition
from huibao.distribution import rules, selectors
from huibao.distribution.models import (
    ALLOWED_PARENTS,
    AgencyEntity,
    AgreementStatus,
    AgreementStatusChange,
    InsurerAgreement,
    SalesUnit,
    SalesUnitKind,
    SalesUnitPathChange,
)
from huibao.distribution.states import AGREEMENT_TRANSITIONS

OBJ_AGREEMENT = "distribution.agreement"
OBJ_UNIT = "distribution.sales_unit"

# --- agreements -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgreementData:
    """What a form or the API hands in to create or change an agreement."""

    number: str
    agency: AgencyEntity
    insurer: Insurer
    lines: tuple[str, ...]
    product_ids: tuple[int, ...]
    valid_from: datetime.date
    valid_until: datetime.date | None
    settlement_period: str = "monthly"
    days_to_pay: int = 15
    premium_collector: str = "agency"
    net_settlement: bool = True
    notes: str = ""


def _data_errors(data: AgreementData, *, pk: int | None) -> list[FieldError]:
    errors: list[FieldError] = []
    if not data.number.strip():
        errors.append(FieldError("number", "required", "请填写协议编号"))
    elif InsurerAgreement.objects.filter(number=data.number.strip()).exclude(pk=pk or 0).exists():
        errors.append(FieldError("number", "duplicate", "协议编号已存在"))
    unknown = [line for line in data.lines if line not in LineOfBusiness.values]
    if unknown:
        errors.append(FieldError("lines", "unknown_line", f"未知险种：{'、'.join(unknown)}"))
    if data.valid_until is not None and data.valid_until < data.valid_from:
        errors.append(FieldError("valid_until", "before_start", "协议终止日期不能早于起始日期"))
    if data.days_to_pay < 0 or data.days_to_pay > 365:
        errors.append(FieldError("days_to_pay", "out_of_range", "结算付款天数须在0到365之间"))
    if data.product_ids:
        found = dict(Product.objects.filter(pk__in=data.product_ids).values_list("pk", "insurer_id"))
        if len(found) != len(set(data.product_ids)):
            errors.append(FieldError("products", "unknown_product", "所选产品不存在"))
        elif any(insurer_id != data.insurer.pk for insurer_id in found.values()):
            errors.append(FieldError("products", "other_insurer", "所选产品须属于本协议的保险公司"))
    return errors


def create_agreement(data: AgreementData, *, actor: Any) -> InsurerAgreement:
    """A draft agreement. Raises ValidationFailed naming every bad field (nothing written)."""
    errors = _data_errors(data, pk=None)
    if errors:
        raise ValidationFailed("the agreement is not valid", errors=errors)
    with transaction.atomic():
        agreement = InsurerAgreement.objects.create(
            number=data.number.strip(),
            agency=data.agency,
            insurer=data.insurer,
            status=AgreementStatus.DRAFT,
            lines=list(dict.fromkeys(data.lines)),
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            settlement_period=data.settlement_period,
            days_to_pay=data.days_to_pay,
            premium_collector=data.premium_collector,
            net_settlement=data.net_settlement,
            notes=data.notes,
        )
        agreement.products.set(data.product_ids)
        AgreementStatusChange.objects.create(
            agreement=agreement,
            from_status="",
            to_status=AgreementStatus.DRAFT,
            reason="created",
            actor=_user(actor),
        )
        audit.record(
            "distribution.agreement_created",
            OBJ_AGREEMENT,
            agreement.number,
            actor=actor,
            after=audit.snapshot(agreement),
        )
    return agreement


def update_agreement(agreement: InsurerAgreement, data: AgreementData, *, actor: Any) -> InsurerAgreement:
    """Changes the terms of an agreement. An active or suspended agreement is checked again as
    on activation (it must still cover only licensed lines and overlap no other); an ended one
    is not changed."""
    if agreement.status == AgreementStatus.ENDED:
        raise ValidationFailed(
            "an ended agreement", errors=[FieldError("status", "ended", "已终止的协议不能修改")]
        )
    if data.insurer.pk != agreement.insurer_id:
        raise ValidationFailed(
            "insurer changed", errors=[FieldError("insurer", "immutable", "协议的保险公司不能更改")]
        )
    errors = _data_errors(data, pk=agreement.pk)
    if errors:
        raise ValidationFailed("the agreement is not valid", errors=errors)
    if agreement.status != AgreementStatus.DRAFT:
        terms = rules.AgreementTerms(
            pk=agreement.pk,
            number=data.number,
            insurer_id=agreement.insurer_id,
            lines=tuple(data.lines),
            product_ids=frozenset(data.product_ids),
            valid_from=data.valid_from,
            valid_until=data.valid_until,
        )
        errors = _activation_errors(terms, data.agency)
        if errors:
            raise ValidationFailed("the agreement may not be changed so", errors=errors)
    with transaction.atomic():
        locked = InsurerAgreement.objects.select_for_update().get(pk=agreement.pk)
        before = audit.snapshot(locked)
        before["products"] = sorted(locked.products.values_list("pk", flat=True))
        for name, value in (
            ("number", data.number.strip()),
            ("agency", data.agency),
            ("lines", list(dict.fromkeys(data.lines))),
            ("valid_from", data.valid_from),
            ("valid_until", data.valid_until),
            ("settlement_period", data.settlement_period),
            ("days_to_pay", data.days_to_pay),
            ("premium_collector", data.premium_collector),
            ("net_settlement", data.net_settlement),
            ("notes", data.notes),
        ):
            setattr(locked, name, value)
        locked.save()
        locked.products.set(data.product_ids)
        after = audit.snapshot(locked)
        after["products"] = sorted(data.product_ids)
        audit.record(
            "distribution.agreement_changed",
            OBJ_AGREEMENT,
            locked.number,
            actor=actor,
            before=before,
            after=after,
        )
    return locked


def _activation_errors(terms: rules.AgreementTerms, agency: AgencyEntity) -> list[FieldError]:
    listed = dict(Product.objects.filter(pk__in=terms.product_ids).values_list("pk", "line"))
    insurers = dict(Product.objects.filter(pk__in=terms.product_ids).values_list("pk", "insurer_id"))
    others = [
        selectors.terms_of(a)
        for a in InsurerAgreement.objects.filter(
            insurer_id=terms.insurer_id, status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
        )
        .exclude(pk=terms.pk or 0)
        .prefetch_related("products")
    ]
    other_ids = {p for o in others for p in o.product_ids}
    lines_of = dict(listed)
    lines_of.update(Product.objects.filter(pk__in=other_ids).values_list("pk", "line"))
    return rules.activation_errors(
        terms,
        licence_lines=agency.licence_lines or [],
        licence_valid_until=agency.licence_valid_until,
        product_lines=lines_of,
        product_insurers=insurers,
        others=others,
        line_labels={v: str(label) for v, label in LineOfBusiness.choices},
        today=timezone.localdate(),
    )


def transition(
    agreement: InsurerAgreement, to: str, *, actor: Any, reason: str = ""
) -> AgreementStatusChange:
    """Moves an agreement to `to`: the one guard of its states. Activation (from draft or from
    suspended) checks the agency's licence scope, the dates and overlaps with the insurer's
    other active agreements. Raises InvalidTransition or ValidationFailed (nothing written);
    writes the history row and the audit entry."""
    with transaction.atomic():
        locked = InsurerAgreement.objects.select_for_update().select_related("agency").get(pk=agreement.pk)
        check_transition(AGREEMENT_TRANSITIONS, locked.status, to, what=f"agreement {locked.number}")
        if to in (AgreementStatus.SUSPENDED, AgreementStatus.ENDED) and not reason.strip():
            raise ValidationFailed("a reason", errors=[FieldError("reason", "required", "请填写原因")])
        if to == AgreementStatus.ACTIVE:
            # Serialise activations of one insurer so two overlapping agreements never both pass.
            Insurer.objects.select_for_update().filter(pk=locked.insurer_id).first()
            errors = _activation_errors(selectors.terms_of(locked), locked.agency)
            if errors:
                raise ValidationFailed("the agreement may not be activated", errors=errors)
        before = locked.status
        locked.status = to
        changed = ["status", "updated_at"]
        if to == AgreementStatus.ENDED and (
            locked.valid_until is None or locked.valid_until > timezone.localdate()
        ):
            locked.valid_until = max(timezone.localdate(), locked.valid_from)
            changed.append("valid_until")
        locked.save(update_fields=changed)
        change = AgreementStatusChange.objects.create(
            agreement=locked,
            from_status=before,
            to_status=to,
            reason=reason.strip()[:200],
            actor=_user(actor),
        )
        audit.record(
            "distribution.agreement_status_changed",
            OBJ_AGREEMENT,
            locked.number,
            actor=actor,
            before={"status": before},
            after={"status": to, "reason": reason.strip()[:200]},
        )
    agreement.status = locked.status
    agreement.valid_until = locked.valid_until
    return change


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None


DEMO_AGENCY_CODE = "huibao-agency"


def default_agency() -> AgencyEntity:
    """The agency entity the platform runs as (created on first use, every line licensed)."""
    agency, _ = AgencyEntity.objects.get_or_create(
        code=DEMO_AGENCY_CODE,
        defaults={
            "name": "汇保保险代理有限公司",
            "licence_number": "260131000000800",
            "licence_lines": list(LineOfBusiness.values),
            "credit_code": "91310000MA1FL8XQ3K",
        },
    )
    return agency


def ensure_demo_agreement(insurer: Insurer, *, on: datetime.date | None = None) -> InsurerAgreement:
    """An active agreement of the default agency with `insurer` covering every line, from a
    year before `on`: what the demo and the test factories give every insurer they make, so that
    its products sell. Idempotent: an insurer with an active agreement keeps it."""
    existing = InsurerAgreement.objects.filter(insurer=insurer, status=AgreementStatus.ACTIVE).first()
    if existing is not None:
        return existing
    on = on or timezone.localdate()
    agency = default_agency()
    with transaction.atomic():
        agreement = InsurerAgreement.objects.create(
            number=f"HB-{insurer.code[:24].upper()}-{on.year - 1}",
            agency=agency,
            insurer=insurer,
            status=AgreementStatus.ACTIVE,
            lines=list(LineOfBusiness.values),
            valid_from=on.replace(year=on.year - 1, day=min(on.day, 28)),
        )
        AgreementStatusChange.objects.bulk_create(
            [
                AgreementStatusChange(
                    agreement=agreement, from_status="", to_status=AgreementStatus.DRAFT, reason="created"
                ),
                AgreementStatusChange(
                    agreement=agreement,
                    from_status=AgreementStatus.DRAFT,
                    to_status=AgreementStatus.ACTIVE,
                    reason="demo",
                ),
            ]
        )
    return agreement


def ensure_demo_agreements(insurer_ids: Iterable[int]) -> None:
    """`ensure_demo_agreement` for many insurers in a few queries (the demo market's loader)."""
    ids = set(insurer_ids)
    covered = set(
        InsurerAgreement.objects.filter(insurer_id__in=ids, status=AgreementStatus.ACTIVE).values_list(
            "insurer_id", flat=True
        )
    )
    todo = list(Insurer.objects.filter(pk__in=ids - covered).order_by("pk"))
    if not todo:
        return
    on = timezone.localdate()
    agency = default_agency()
    with transaction.atomic():
        made = InsurerAgreement.objects.bulk_create(
            [
                InsurerAgreement(
                    number=f"HB-{i.code[:24].upper()}-{on.year - 1}",
                    agency=agency,
                    insurer=i,
                    status=AgreementStatus.ACTIVE,
                    lines=list(LineOfBusiness.values),
                    valid_from=on.replace(year=on.year - 1, day=min(on.day, 28)),
                )
                for i in todo
            ]
        )
        AgreementStatusChange.objects.bulk_create(
            [
                AgreementStatusChange(agreement=a, from_status=s0, to_status=s1, reason=why)
                for a in made
                for s0, s1, why in (
                    ("", AgreementStatus.DRAFT, "created"),
                    (AgreementStatus.DRAFT, AgreementStatus.ACTIVE, "demo"),
                )
            ]
        )


def forget_all_agreements(_: None = None) -> None:
    """Deletes every agreement: the demo market (its insurers) is wiped."""
    InsurerAgreement.objects.all().delete()


def may_see_hierarchy(user: Any) -> bool:
    """Staff who read the hierarchy, and channel or branch managers (their own subtree)."""
    return selectors.sees_all(user) or bool(selectors.managed_units(user))


# --- the hierarchy ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitData:
    code: str
    name: str
    kind: str
    parent: SalesUnit | None
    agency: AgencyEntity | None = None
    user: Any = None
    licence_number: str = ""
    licence_lines: tuple[str, ...] = ()
    licence_valid_until: datetime.date | None = None


def _parent_problem(kind: str, parent: SalesUnit | None) -> FieldError | None:
    why = rules.parent_error(kind, parent.kind if parent else None, ALLOWED_PARENTS)
    if why is not None:
        return FieldError("parent", "not_allowed", why)
    if parent is not None and not parent.is_active:
        return FieldError("parent", "inactive", "上级组织已停用")
    return None


def create_unit(data: UnitData, *, actor: Any) -> SalesUnit:
    """A unit under `parent` (ALLOWED_PARENTS), its path the parent's plus its code."""
    errors: list[FieldError] = []
    code = data.code.strip()
    if not code:
        errors.append(FieldError("code", "required", "请填写编码"))
    elif "/" in code or not code.replace("-", "").replace("_", "").isalnum():
        errors.append(FieldError("code", "invalid", "编码只能包含字母、数字、连字符和下划线"))
    elif SalesUnit.objects.filter(code=code).exists():
        errors.append(FieldError("code", "duplicate", "编码已存在"))
    if not data.name.strip():
        errors.append(FieldError("name", "required", "请填写名称"))
    if data.kind not in SalesUnitKind.values:
        errors.append(FieldError("kind", "invalid", "未知的组织类型"))
    else:
        problem = _parent_problem(data.kind, data.parent)
        if problem is not None:
            errors.append(problem)
    unknown = [line for line in data.licence_lines if line not in LineOfBusiness.values]
    if unknown:
        errors.append(FieldError("licence_lines", "unknown_line", f"未知险种：{'、'.join(unknown)}"))
    if data.user is not None and data.kind != SalesUnitKind.AGENT:
        errors.append(FieldError("user", "only_agent", "只有代理人可关联登录账号"))
    elif data.user is not None and SalesUnit.objects.filter(user=data.user).exists():
        errors.append(FieldError("user", "taken", "该账号已关联其他代理人"))
    if errors:
        raise ValidationFailed("the unit is not valid", errors=errors)
    agency = data.parent.agency if data.parent is not None else (data.agency or default_agency())
    path = f"{data.parent.path}/{code}" if data.parent is not None else code
    with transaction.atomic():
        unit = SalesUnit.objects.create(
            code=code,
            name=data.name.strip(),
            kind=data.kind,
            parent=data.parent,
            path=path,
            agency=agency,
            user=data.user,
            licence_number=data.licence_number.strip(),
            licence_lines=list(dict.fromkeys(data.licence_lines)),
            licence_valid_until=data.licence_valid_until,
        )
        audit.record(
            "distribution.unit_created", OBJ_UNIT, unit.code, actor=actor, after=audit.snapshot(unit)
        )
    return unit


def move_unit(unit: SalesUnit, new_parent: SalesUnit, *, actor: Any) -> SalesUnit:
    """Moves a unit and its whole subtree under `new_parent`; every path under it is rewritten
    by one UPDATE. Refuses a move under itself or its own descendants."""
    with transaction.atomic():
        locked = SalesUnit.objects.select_for_update().get(pk=unit.pk)
        target = SalesUnit.objects.select_for_update().get(pk=new_parent.pk)
        if target.pk == locked.pk or target.path.startswith(locked.path + "/"):
            raise ValidationFailed(
                "a move under itself", errors=[FieldError("parent", "cycle", "不能移到自身或其下级组织之下")]
            )
        problem = _parent_problem(locked.kind, target)
        if problem is not None:
            raise ValidationFailed("the parent is not allowed", errors=[problem])
        old = locked.path
        new = f"{target.path}/{locked.code}"
        # Where each unit of the subtree stood until now (the reports' sales before the move).
        subtree = [
            (locked.pk, old),
            *SalesUnit.objects.filter(path__startswith=old + "/").values_list("pk", "path"),
        ]
        moved_at = timezone.now()
        SalesUnitPathChange.objects.bulk_create(
            SalesUnitPathChange(
                unit_id=pk, old_path=path, new_path=new + path[len(old) :], changed_at=moved_at
            )
            for pk, path in subtree
        )
        # One statement for the subtree: every path starting with the old prefix gets the new one.
        SalesUnit.objects.filter(path__startswith=old + "/").update(
            path=Concat(Value(new), Substr(F("path"), len(old) + 1))
        )
        locked.parent = target
        locked.path = new
        locked.save(update_fields=["parent", "path"])
        audit.record(
            "distribution.unit_moved",
            OBJ_UNIT,
            locked.code,
            actor=actor,
            before={"path": old},
            after={"path": new},
        )
    return locked


def deactivate_unit(unit: SalesUnit, *, actor: Any, reason: str = "") -> int:
    """Deactivates a unit and its whole subtree (they sell no more); returns how many changed."""
    with transaction.atomic():
        scope = selectors.subtree(unit).filter(is_active=True)
        codes = list(scope.values_list("code", flat=True))
        count = SalesUnit.objects.filter(code__in=codes).update(is_active=False)
        audit.record(
            "distribution.unit_deactivated",
            OBJ_UNIT,
            unit.code,
            actor=actor,
            before={"active": codes},
            after={"active": [], "reason": reason[:200]},
        )
    unit.is_active = False
    return count


def set_licence(
    unit: SalesUnit,
    *,
    licence_number: str,
    licence_lines: Iterable[str],
    valid_until: datetime.date | None,
    actor: Any,
) -> SalesUnit:
    lines = list(dict.fromkeys(licence_lines))
    unknown = [line for line in lines if line not in LineOfBusiness.values]
    if unknown:
        raise ValidationFailed(
            "unknown line",
            errors=[FieldError("licence_lines", "unknown_line", f"未知险种：{'、'.join(unknown)}")],
        )
    before = {
        "licence_number": unit.licence_number,
        "licence_lines": unit.licence_lines,
        "valid_until": unit.licence_valid_until,
    }
    unit.licence_number = licence_number.strip()
    unit.licence_lines = lines
    unit.licence_valid_until = valid_until
    unit.save(update_fields=["licence_number", "licence_lines", "licence_valid_until"])
    audit.record(
        "distribution.licence_changed",
        OBJ_UNIT,
        unit.code,
        actor=actor,
        before=before,
        after={"licence_number": unit.licence_number, "licence_lines": lines, "valid_until": valid_until},
    )
    return unit


# --- attribution ------------------------------------------------------------------------------


def seller_from_code(code: str | None, *, field: str = "seller_code") -> SalesUnit | None:
    """The seller of an API request's `seller_code`: None when no code is given; raises
    ValidationFailed naming the field when the code is unknown or inactive."""
    if code is None or not str(code).strip():
        return None
    seller = selectors.seller_by_code(str(code))
    if seller is None:
        raise ValidationFailed(
            "unknown seller code", errors=[FieldError(field, "unknown_seller", "推荐码无效或已停用")]
        )
    return seller


def attribute(*, started_by: Any = None, referral_code: str | None = None) -> SalesUnit | None:
    """Who sold it: the agent who started the application; else the channel, sub-channel or
    agent of the referral code the customer came with (unknown or inactive: nobody)."""
    agent = selectors.seller_for_user(started_by)
    if agent is not None:
        return agent
    if referral_code:
        return selectors.seller_by_code(referral_code)
    return None


def check_sellable(
    product_or_version: Any, *, seller: SalesUnit | None = None, field: str = "product_code"
) -> None:
    """Raises ValidationFailed with `selectors.sellable`'s refusal, if any."""
    refusal = selectors.sellable(product_or_version, seller=seller, field=field)
    if refusal is not None:
        raise ValidationFailed(refusal.message, code="not_sellable", errors=[refusal])


def licence_expiring(on: datetime.date, *, within_days: int = 30) -> list[SalesUnit]:
    """Active agents whose practice registration ends within `within_days` of `on` (or ended)."""
    return list(
        SalesUnit.objects.filter(
            kind=SalesUnitKind.AGENT,
            is_active=True,
            licence_valid_until__isnull=False,
            licence_valid_until__lte=on + datetime.timedelta(days=within_days),
        ).order_by("licence_valid_until", "code")
    )


def unit_or_404(pk: int) -> SalesUnit:
    unit = SalesUnit.objects.filter(pk=pk).first()
    if unit is None:
        raise NotFound(f"unit {pk}")
    return unit
