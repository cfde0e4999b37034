"""Commission plan use-cases: a plan and its first draft, new versions, rules added to a draft,
publication (refused when ambiguous or, for an outbound plan, above the margin), and the margin
page's table. See docs/commission.md."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from huibao.catalog.models import Insurer, Product
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.money import to_fen
from huibao.distribution.models import SalesUnit, SalesUnitKind
from huibao.finance import commission_rules as rules
from huibao.finance.commission_models import (
    CommissionPlan,
    CommissionPlanVersion,
    CommissionRule,
    PlanDirection,
    PlanVersionStatus,
)
from huibao.finance.commission_selectors import (
    CHANNEL_KINDS,
    UNPAID_KINDS,
    cached_rules,
    channels_of,
    inbound_rules,
    modes_of,
    month_bounds,
    outbound_rules,
    reference_premium,
    rule_of,
    seller_chain,
)
from huibao.policy.models import Policy

RULE_FIELDS = (
    "insurer_id",
    "product_id",
    "line",
    "channel_id",
    "mode",
    "year",
    "and_later",
    "basis",
    "rate",
    "fixed_amount",
    "vat_rate",
    "clawback",
    "clawback_percent",
    "tiers",
)


def _locked_version(version: CommissionPlanVersion | int) -> CommissionPlanVersion:
    pk = version if isinstance(version, int) else version.pk
    found = CommissionPlanVersion.objects.select_for_update().select_related("plan").filter(pk=pk).first()
    if found is None:
        raise NotFound("政策版本不存在", code="version_not_found")
    return found


def _refuse_frozen(version: CommissionPlanVersion) -> None:
    if version.is_frozen:
        raise Conflict(
            f"政策{version.plan.code}第{version.number}版已发布，不能修改；请新建版本",
            code="version_frozen",
            errors=[FieldError("version", "frozen", "已发布的版本不能修改")],
        )


def create_plan(
    *,
    code: str,
    name: str,
    direction: str,
    valid_from: datetime.date,
    insurer: Insurer | None = None,
    sales_unit: SalesUnit | None = None,
) -> CommissionPlanVersion:
    """A new plan with its first version, a draft."""
    errors: list[FieldError] = []
    code = (code or "").strip()
    if not code:
        errors.append(FieldError("code", "required", "请填写政策代码"))
    elif CommissionPlan.objects.filter(code=code).exists():
        errors.append(FieldError("code", "taken", f"政策代码{code}已存在"))
    if not (name or "").strip():
        errors.append(FieldError("name", "required", "请填写政策名称"))
    if direction == PlanDirection.INBOUND and insurer is None:
        errors.append(FieldError("insurer", "required", "手续费政策须指定保险公司"))
    if direction == PlanDirection.OUTBOUND and sales_unit is None:
        errors.append(FieldError("sales_unit", "required", "佣金政策须指定销售组织"))
    if direction not in PlanDirection.values:
        errors.append(FieldError("direction", "invalid", "政策方向须为手续费或佣金"))
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    with transaction.atomic():
        plan = CommissionPlan.objects.create(
            code=code,
            name=name.strip(),
            direction=direction,
            insurer=insurer if direction == PlanDirection.INBOUND else None,
            sales_unit=sales_unit if direction == PlanDirection.OUTBOUND else None,
        )
        return CommissionPlanVersion.objects.create(plan=plan, number=1, valid_from=valid_from)


def new_version(plan: CommissionPlan, *, valid_from: datetime.date) -> CommissionPlanVersion:
    """A draft copying the latest version's rules and targets, valid from `valid_from`."""
    with transaction.atomic():
        CommissionPlan.objects.select_for_update().get(pk=plan.pk)
        latest = plan.versions.order_by("-number").first()
        draft = plan.versions.filter(status=PlanVersionStatus.DRAFT).first()
        if draft is not None:
            raise Conflict(
                f"政策{plan.code}已有草稿第{draft.number}版，请先发布或修改它",
                code="draft_exists",
                errors=[FieldError("version", "draft_exists", "已有未发布的草稿")],
            )
        version = CommissionPlanVersion.objects.create(
            plan=plan,
            number=(latest.number + 1) if latest else 1,
            valid_from=valid_from,
            targets=list(latest.targets) if latest else [],
        )
        if latest is not None:
            CommissionRule.objects.bulk_create(
                CommissionRule(version=version, **{f: getattr(r, f) for f in RULE_FIELDS})
                for r in latest.rules.all()
            )
        return version


def _decimal(
    data: dict[str, Any], name: str, errors: list[FieldError], default: str | None = "0"
) -> Decimal | None:
    raw = data.get(name)
    if raw in (None, ""):
        return None if default is None else Decimal(default)
    if isinstance(raw, float):
        raw = str(raw)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        errors.append(FieldError(name, "not_a_number", f"{name}须为数字"))
        return None
    if not value.is_finite():
        errors.append(FieldError(name, "not_a_number", f"{name}须为数字"))
        return None
    return value


def add_rule(version: CommissionPlanVersion, data: dict[str, Any]) -> CommissionRule:
    """Adds one rule to a draft from `data` (form or API fields: product/line/channel codes, mode,
    year, and_later, basis, rate or fixed_amount, vat_rate, clawback, clawback_percent, tiers).
    Rates are fractions ("0.25" is 25%). Refuses bad input naming the field; writes nothing then."""
    errors: list[FieldError] = []
    product = None
    if data.get("product"):
        product = Product.objects.filter(code=str(data["product"]).strip()).first()
        if product is None:
            errors.append(FieldError("product", "not_found", f"产品{data['product']}不存在"))
    insurer = None
    if data.get("insurer"):
        insurer = Insurer.objects.filter(code=str(data["insurer"]).strip()).first()
        if insurer is None:
            errors.append(FieldError("insurer", "not_found", f"保险公司{data['insurer']}不存在"))
    channel = None
    if data.get("channel"):
        channel = SalesUnit.objects.filter(code=str(data["channel"]).strip(), kind__in=CHANNEL_KINDS).first()
        if channel is None:
            errors.append(FieldError("channel", "not_found", f"渠道{data['channel']}不存在"))
    rate = _decimal(data, "rate", errors)
    fixed = _decimal(data, "fixed_amount", errors)
    vat = _decimal(data, "vat_rate", errors, default=None)
    clawback_percent = _decimal(data, "clawback_percent", errors, default="100")
    try:
        year = int(data.get("year") or 1)
    except (TypeError, ValueError):
        errors.append(FieldError("year", "not_a_number", "保单年度须为整数"))
        year = 1
    tiers: list[dict[str, str]] = []
    for i, tier in enumerate(data.get("tiers") or []):
        try:
            tiers.append(
                {"threshold": str(Decimal(str(tier["threshold"]))), "rate": str(Decimal(str(tier["rate"])))}
            )
        except (KeyError, TypeError, InvalidOperation):
            errors.append(FieldError(f"tiers[{i}]", "invalid", "阶梯须有门槛金额和费率"))
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    line = str(data.get("line") or "").strip()
    row = CommissionRule(
        version=version,
        insurer=insurer,
        product=product,
        line="" if product is not None else line,
        channel=channel,
        mode=str(data.get("mode") or "").strip(),
        year=year,
        and_later=bool(data.get("and_later")),
        basis=str(data.get("basis") or "rate"),
        rate=rate if rate is not None else Decimal(0),
        fixed_amount=to_fen(fixed) if fixed is not None else Decimal(0),
        vat_rate=vat,
        clawback=str(data.get("clawback") or "pro_rata"),
        clawback_percent=clawback_percent if clawback_percent is not None else Decimal(100),
        tiers=tiers,
    )
    try:
        rules.check_rule(rule_of(row))
    except rules.CommissionRuleError as exc:
        raise ValidationFailed(exc.message, errors=[FieldError(exc.field, exc.code, exc.message)]) from exc
    with transaction.atomic():
        locked = _locked_version(version)
        _refuse_frozen(locked)
        row.version = locked
        row.save(force_insert=True)
    return row


def remove_rule(rule: CommissionRule) -> None:
    with transaction.atomic():
        locked = _locked_version(rule.version_id)
        _refuse_frozen(locked)
        CommissionRule.objects.filter(pk=rule.pk).delete()


def _products_for(rule: rules.Rule) -> list[Product]:
    query = Product.objects.select_related("current_version").only(
        "id", "code", "name", "line", "insurer_id", "premium_from", "current_version__payment_modes"
    )
    if rule.product_id is not None:
        query = query.filter(pk=rule.product_id)
    elif rule.line:
        query = query.filter(line=rule.line)
    if rule.insurer_id is not None:
        query = query.filter(insurer_id=rule.insurer_id)
    return list(query)


def margin_problems(version: CommissionPlanVersion, *, limit: int = 20) -> list[rules.MarginProblem]:
    """What publishing the outbound `version` would pay above the inbound rate, for each sale its
    rules cover (product × premium mode × policy year) by each seller under its unit: the
    outbound rates up the seller's chain (this version for its unit, the versions in force on
    its `valid_from` for the others) summed against the insurer's inbound rule for that sale."""
    unit = version.plan.sales_unit
    assert unit is not None
    on = version.valid_from
    own = [rule_of(r) for r in version.rules.all()]
    # The sellers whose sales differ: the unit itself, the units under it with an outbound plan
    # of their own (a seller without one is paid as its nearest such ancestor), and the channels
    # under it (an inbound rule may be the channel's own).
    with_plans = CommissionPlan.objects.filter(direction=PlanDirection.OUTBOUND).values("sales_unit_id")
    sellers = [
        unit,
        *SalesUnit.objects.filter(path__startswith=unit.path + "/", is_active=True)
        .filter(Q(pk__in=with_plans) | Q(kind__in=CHANNEL_KINDS))
        .select_related("parent"),
    ]
    chains = {s.pk: seller_chain(s) for s in sellers}
    unit_rules: dict[int, list[rules.Rule]] = {unit.pk: own}
    inbound: dict[int, list[rules.Rule]] = {}
    found: list[rules.MarginProblem] = []
    products_of: dict[tuple[int | None, str, int | None], list[Product]] = {}
    for rule in own:
        target = (rule.product_id, rule.line, rule.insurer_id)
        if target not in products_of:
            products_of[target] = _products_for(rule)
        for product in products_of[target]:
            insurer_rules = cached_rules(inbound, product.insurer_id, on, inbound_rules)
            years = {rule.year}
            if rule.and_later:
                years |= {r.year for r in insurer_rules if r.year > rule.year} | {rule.year + 1}
            modes = [rule.mode] if rule.mode else modes_of(product)
            for seller in sellers:
                chain = chains[seller.pk]
                for mode in modes:
                    for year in sorted(years):
                        sale = rules.Sale(
                            insurer_id=product.insurer_id,
                            product_id=product.pk,
                            line=product.line,
                            mode=mode,
                            year=year,
                            channels=channels_of(chain),
                        )
                        payouts = []
                        for party in chain:
                            if party.kind in UNPAID_KINDS:
                                continue
                            party_rules = cached_rules(unit_rules, party.pk, on, outbound_rules)
                            chosen = rules.resolve(party_rules, sale)
                            if chosen is not None:
                                payouts.append(rules.Payout(party.pk, chosen))
                        problem = rules.margin_problem(
                            sale,
                            rules.resolve(insurer_rules, sale),
                            payouts,
                            reference_premium=reference_premium(product),
                        )
                        if problem is not None:
                            found.append(problem)
                            if len(found) >= limit:
                                return found
    return found


def publish(
    version: CommissionPlanVersion, *, actor: Any = None, now: datetime.datetime | None = None
) -> CommissionPlanVersion:
    """Publishes a draft: refused when two of its rules are ambiguous, when it has no rule, and,
    for an outbound plan, when any sale it covers would pay out more than the agency earns."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_version(version)
        _refuse_frozen(locked)
        rows = list(locked.rules.all())
        if not rows:
            raise ValidationFailed(
                "政策版本没有任何规则，不能发布", errors=[FieldError("rules", "empty", "请先添加规则")]
            )
        try:
            rules.check_unambiguous([rule_of(r) for r in rows])
        except rules.CommissionRuleError as exc:
            raise ValidationFailed(
                exc.message, code="ambiguous", errors=[FieldError(exc.field, exc.code, exc.message)]
            ) from exc
        if locked.plan.direction == PlanDirection.OUTBOUND:
            problems = margin_problems(locked, limit=5)
            if problems:
                errors = [_margin_error(p) for p in problems]
                raise ValidationFailed(errors[0].message, code="margin", errors=errors)
        locked.status = PlanVersionStatus.PUBLISHED
        locked.published_at = now
        locked.published_by = actor if getattr(actor, "pk", None) else None
        locked.save(update_fields=["status", "published_at", "published_by"])
    return locked


def _margin_error(problem: rules.MarginProblem) -> FieldError:
    product = Product.objects.filter(pk=problem.sale.product_id).first()
    name = f"{product.name}（{product.code}）" if product else str(problem.sale.product_id)
    message = (
        f"产品{name}{problem.sale.mode}第{problem.sale.year}年：应付佣金合计{rules.percent(problem.outbound_rate)}"
        f"超过应收手续费{rules.percent(problem.inbound_rate)}"
    )
    return FieldError("rules", "exceeds_inbound", message)


@dataclass(frozen=True, slots=True)
class MarginLine:
    product: Product
    seller: SalesUnit
    mode: str
    inbound_rate: Decimal
    outbound_rate: Decimal
    margin_rate: Decimal
    last_month_premium: Decimal
    margin_amount: Decimal


def margin_table(on: datetime.date) -> list[MarginLine]:
    """Per product × seller (agent, channel, sub-channel) with a payout: the first-year rates of
    the product's first premium mode in force on `on`, and the margin on last month's premium."""
    first, last = month_bounds(on.replace(day=1) - datetime.timedelta(days=1))
    sellers = list(
        SalesUnit.objects.filter(
            is_active=True, kind__in=(SalesUnitKind.AGENT, SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL)
        ).select_related("parent__parent__parent")
    )
    insurers = CommissionPlan.objects.filter(direction=PlanDirection.INBOUND).values_list(
        "insurer_id", flat=True
    )
    products = Product.objects.filter(insurer_id__in=insurers).select_related("current_version", "insurer")
    inbound: dict[int, list[rules.Rule]] = {}
    outbound: dict[int, list[rules.Rule]] = {}
    lines: list[MarginLine] = []
    for product in products:
        insurer_rules = cached_rules(inbound, product.insurer_id, on, inbound_rules)
        mode = modes_of(product)[0]
        for seller in sellers:
            chain = seller_chain(seller)
            sale = rules.Sale(product.insurer_id, product.pk, product.line, mode, 1, channels_of(chain))
            payouts = []
            for party in chain:
                if party.kind in UNPAID_KINDS:
                    continue
                chosen = rules.resolve(cached_rules(outbound, party.pk, on, outbound_rules), sale)
                if chosen is not None:
                    payouts.append(chosen)
            if not payouts:
                continue
            reference = reference_premium(product)
            in_rate = rules.effective_rate(rules.resolve(insurer_rules, sale), reference, product.line)
            out_rate = sum((rules.effective_rate(p, reference, product.line) for p in payouts), Decimal(0))
            premium = to_fen(
                Policy.objects.filter(
                    product_version__product=product,
                    seller=seller,
                    issued_at__date__range=(first, last),
                ).aggregate(s=Sum("premium"))["s"]
                or Decimal(0)
            )
            net = rules.net_premium(premium, rules.default_vat_rate(product.line))
            lines.append(
                MarginLine(
                    product=product,
                    seller=seller,
                    mode=mode,
                    inbound_rate=in_rate,
                    outbound_rate=out_rate,
                    margin_rate=in_rate - out_rate,
                    last_month_premium=premium,
                    margin_amount=to_fen(net * (in_rate - out_rate)),
                )
            )
    return lines
