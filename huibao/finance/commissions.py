"""Commission use-cases: commission plans (drafts, new versions, publication with the ambiguity and
margin checks) and the commission entries of policy events, each posted to the ledger.

Entries (finance.models.CommissionEntry) are written by the listeners of the policy and billing
hooks, in the announcing transaction (registered in `FinanceConfig.ready()`):

| event                      | key                                                 | base            |
|----------------------------|-----------------------------------------------------|-----------------|
| policy issued (or renewed) | commission:issued:<policy>:inbound / :outbound:<u>  | premium paid at issue |
| later instalment paid      | commission:instalment:<policy>:<n>:…                | the instalment  |
| endorsement applied        | commission:endorsement:<endorsement>:…              | premium delta   |
| cancellation confirmed     | commission:cancellation:<policy>:…                  | clawback        |
| month end (tiers)          | commission:tier:<rule>:<yyyy-mm>                    | month's base    |
| quarter end (targets)      | commission:target:<version>:<yyyy>Q<q>              | fixed bonus     |

Every key is the idempotency key of the entry and of its ledger transaction: an event delivered
twice books once. The plan version used is the one in force on the event's date.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
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
from huibao.finance import accounts, ledger
from huibao.finance import commission_rules as rules
from huibao.finance.commission_models import (
    CommissionPlan,
    CommissionPlanVersion,
    CommissionRule,
    PlanDirection,
    PlanVersionStatus,
)
from huibao.finance.models import CommissionDirection, CommissionEntry, CommissionEvent
from huibao.policy import schedule as policy_schedule
from huibao.policy.models import Policy

log = logging.getLogger(__name__)

CHANNEL_KINDS = (SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL)
# The root of the hierarchy is the agency itself: it is not paid commission.
UNPAID_KINDS = (SalesUnitKind.AGENCY,)

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


# --- rules from rows -----------------------------------------------------------------------------


def rule_of(row: CommissionRule) -> rules.Rule:
    return rules.Rule(
        id=row.pk,
        version_id=row.version_id,
        basis=row.basis,
        rate=row.rate,
        fixed_amount=row.fixed_amount,
        insurer_id=row.insurer_id,
        product_id=row.product_id,
        line=row.line,
        channel_id=row.channel_id,
        mode=row.mode,
        year=row.year,
        and_later=row.and_later,
        vat_rate=row.vat_rate,
        clawback=row.clawback,
        clawback_percent=row.clawback_percent,
        tiers=tuple(
            rules.Tier(Decimal(str(t["threshold"])), Decimal(str(t["rate"]))) for t in row.tiers or []
        ),
    )


def version_in_force(plan: CommissionPlan | int, on: datetime.date) -> CommissionPlanVersion | None:
    plan_id = plan if isinstance(plan, int) else plan.pk
    return (
        CommissionPlanVersion.objects.filter(
            plan_id=plan_id, status=PlanVersionStatus.PUBLISHED, valid_from__lte=on
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("-valid_from", "-number")
        .first()
    )


def _rules_in_force(plans: Iterable[CommissionPlan], on: datetime.date) -> list[rules.Rule]:
    found: list[rules.Rule] = []
    for plan in plans:
        version = version_in_force(plan, on)
        if version is not None:
            found.extend(rule_of(r) for r in version.rules.all())
    return found


def inbound_rules(insurer_id: int, on: datetime.date) -> list[rules.Rule]:
    plans = CommissionPlan.objects.filter(direction=PlanDirection.INBOUND, insurer_id=insurer_id)
    found = _rules_in_force(plans, on)
    # an inbound rule is always its plan's insurer's
    return [dataclasses.replace(r, insurer_id=insurer_id) for r in found]


def outbound_rules(unit_id: int, on: datetime.date) -> list[rules.Rule]:
    return _rules_in_force(
        CommissionPlan.objects.filter(direction=PlanDirection.OUTBOUND, sales_unit_id=unit_id), on
    )


def _cached(
    cache: dict[int, list[rules.Rule]],
    key: int,
    on: datetime.date,
    read: Callable[[int, datetime.date], list[rules.Rule]],
) -> list[rules.Rule]:
    found = cache.get(key)
    if found is None:
        found = cache[key] = read(key, on)
    return found


def seller_chain(unit: SalesUnit | None) -> list[SalesUnit]:
    """The seller and its parents up to the root, nearest first."""
    chain: list[SalesUnit] = []
    seen: set[int] = set()
    while unit is not None and unit.pk not in seen:
        chain.append(unit)
        seen.add(unit.pk)
        unit = unit.parent
    return chain


def channels_of(chain: Sequence[SalesUnit]) -> tuple[int, ...]:
    return tuple(u.pk for u in chain if u.kind in CHANNEL_KINDS)


# --- plans: drafts, versions, publication ------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class MarginRow:
    product: Product
    unit: SalesUnit
    mode: str
    year: int
    inbound_rate: Decimal
    outbound_rate: Decimal
    payouts: tuple[tuple[SalesUnit, Decimal], ...]


def _reference_premium(product: Product) -> Decimal:
    return product.premium_from or Decimal("1000")


def _modes_of(product: Product) -> list[str]:
    version = product.current_version
    modes = list(version.payment_modes or []) if version is not None else []
    return modes or ["single"]


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
            insurer_rules = _cached(inbound, product.insurer_id, on, inbound_rules)
            years = {rule.year}
            if rule.and_later:
                years |= {r.year for r in insurer_rules if r.year > rule.year} | {rule.year + 1}
            modes = [rule.mode] if rule.mode else _modes_of(product)
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
                            party_rules = _cached(unit_rules, party.pk, on, outbound_rules)
                            chosen = rules.resolve(party_rules, sale)
                            if chosen is not None:
                                payouts.append(rules.Payout(party.pk, chosen))
                        problem = rules.margin_problem(
                            sale,
                            rules.resolve(insurer_rules, sale),
                            payouts,
                            reference_premium=_reference_premium(product),
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


# --- entries -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Booked:
    entry: CommissionEntry
    created: bool


def _post(entry: CommissionEntry, insurer: Insurer, unit: SalesUnit | None, description: str) -> None:
    """The entry's ledger transaction (same key). A clawback posts the opposite sides; a zero
    entry posts nothing."""
    amount = entry.amount
    if amount == 0:
        return
    size = abs(amount)
    if entry.direction == CommissionDirection.INBOUND:
        net, vat = rules.split_vat(size)
        receivable = accounts.commission_receivable(insurer)
        if amount > 0:
            lines = [
                ledger.debit(receivable, size, policy_id=entry.policy_id),
                ledger.credit(accounts.commission_income(), net, policy_id=entry.policy_id),
            ]
            if vat:
                lines.append(ledger.credit(accounts.vat_payable(), vat, policy_id=entry.policy_id))
        else:
            lines = [
                ledger.credit(receivable, size, policy_id=entry.policy_id),
                ledger.debit(accounts.commission_income(), net, policy_id=entry.policy_id),
            ]
            if vat:
                lines.append(ledger.debit(accounts.vat_payable(), vat, policy_id=entry.policy_id))
    else:
        assert unit is not None
        expense, payable = accounts.commission_expense(), accounts.commission_payable(unit)
        if amount > 0:
            lines = [
                ledger.debit(expense, size, policy_id=entry.policy_id),
                ledger.credit(payable, size, policy_id=entry.policy_id),
            ]
        else:
            lines = [
                ledger.credit(expense, size, policy_id=entry.policy_id),
                ledger.debit(payable, size, policy_id=entry.policy_id),
            ]
    ledger.post(entry.key, on=entry.occurred_on, description=description, lines=lines)


def _write(
    *,
    key: str,
    direction: str,
    event: str,
    policy: Policy | None,
    insurer: Insurer,
    unit: SalesUnit | None,
    year: int,
    computed: rules.Computed | None,
    amount: Decimal,
    explanation: dict[str, Any],
    on: datetime.date,
    description: str,
) -> Booked:
    existing = CommissionEntry.objects.filter(key=key).first()
    if existing is not None:
        return Booked(existing, False)
    with transaction.atomic():
        entry = CommissionEntry.objects.create(
            key=key,
            direction=direction,
            event=event,
            policy=policy,
            insurer=insurer,
            sales_unit=unit,
            policy_year=year,
            base=computed.base if computed is not None else Decimal(0),
            rate=computed.rate if computed is not None else None,
            amount=amount,
            explanation=explanation,
            occurred_on=on,
        )
        _post(entry, insurer, unit, description)
    return Booked(entry, True)


def _payment_mode(policy: Policy) -> str:
    premium = policy_schedule.loads(policy.schedule).get("premium", {})
    return str(premium.get("payment_mode") or "single")


def _first_collected(policy: Policy) -> Decimal:
    """The premium collected when the policy was issued: the first instalment, or all of it."""
    premium = policy_schedule.loads(policy.schedule).get("premium", {})
    first = premium.get("first_instalment")
    return Decimal(str(first)) if first not in (None, "") else policy.premium


def seller_of(policy: Policy) -> SalesUnit | None:
    """Who sold the policy: `Policy.seller`, else its application's (for a policy issued before
    issuance copied the seller over)."""
    if policy.seller_id is not None:
        return policy.seller
    if policy.application_id is not None:
        application = policy.application
        if application is not None and application.seller_id is not None:
            return application.seller
    return None


def continuity_year(policy: Policy) -> int:
    """A renewal of a short-term policy is a new policy, but its business is renewal business:
    its year is 1 + the number of policies it renews in a row, so "year 2 and later" rules pay
    renewals (docs/commission.md)."""
    year, current = 1, policy
    while current.renewed_from_id is not None and year < 100:
        year += 1
        current = Policy.objects.only("id", "renewed_from_id").get(pk=current.renewed_from_id)
    return year


def policy_year_on(policy: Policy, day: datetime.date) -> int:
    start = timezone.localtime(policy.effective_at).date()
    years = day.year - start.year - ((day.month, day.day) < (start.month, start.day))
    return max(1, years + 1)


def _book_sale(
    policy: Policy,
    *,
    event: str,
    key: str,
    premium: Decimal,
    year: int,
    on: datetime.date,
    share: Decimal,
    what: str,
) -> list[Booked]:
    """Inbound from the insurer and outbound to each paid party up the seller's chain."""
    product = policy.product_version.product
    insurer = policy.insurer
    chain = seller_chain(seller_of(policy))
    mode = _payment_mode(policy)
    sale = rules.Sale(
        insurer_id=insurer.pk,
        product_id=product.pk,
        line=product.line,
        mode=mode,
        year=year,
        channels=channels_of(chain),
    )
    booked: list[Booked] = []
    inbound = _resolve(inbound_rules(insurer.pk, on), sale, key)
    if inbound is not None:
        computed = rules.commission_of(inbound, premium=premium, line=product.line, share=share)
        _net, vat = rules.split_vat(abs(computed.amount))
        explanation = {
            **computed.explanation,
            "mode": mode,
            "year": year,
            "what": what,
            "commission_vat": str(vat),
        }
        booked.append(
            _write(
                key=f"{key}:inbound",
                direction=CommissionDirection.INBOUND,
                event=event,
                policy=policy,
                insurer=insurer,
                unit=None,
                year=year,
                computed=computed,
                amount=computed.amount,
                explanation=explanation,
                on=on,
                description=f"手续费 {what} {policy.number}",
            )
        )
    for party in chain:
        if party.kind in UNPAID_KINDS:
            continue
        rule = _resolve(outbound_rules(party.pk, on), sale, key)
        if rule is None:
            continue
        computed = rules.commission_of(rule, premium=premium, line=product.line, share=share)
        booked.append(
            _write(
                key=f"{key}:outbound:{party.code}",
                direction=CommissionDirection.OUTBOUND,
                event=event,
                policy=policy,
                insurer=insurer,
                unit=party,
                year=year,
                computed=computed,
                amount=computed.amount,
                explanation={**computed.explanation, "mode": mode, "year": year, "what": what},
                on=on,
                description=f"佣金 {what} {policy.number} {party.code}",
            )
        )
    return booked


def _resolve(found: list[rules.Rule], sale: rules.Sale, key: str) -> rules.Rule | None:
    """The rule of a sale; two plans of one party in force at once can still be ambiguous (each
    version is checked alone at publication): logged and nothing booked, never a failed sale."""
    try:
        return rules.resolve(found, sale)
    except rules.CommissionRuleError as exc:
        log.warning("commission %s not booked: %s", key, exc.message)
        return None


def book_issued(policy: Policy) -> list[Booked]:
    """The commission of an issued policy (a renewal too: see `continuity_year`)."""
    on = timezone.localdate(policy.issued_at)
    return _book_sale(
        policy,
        event=CommissionEvent.ISSUED,
        key=f"commission:issued:{policy.number}",
        premium=_first_collected(policy),
        year=continuity_year(policy),
        on=on,
        share=Decimal(1),
        what="承保" if policy.renewed_from_id is None else "续保承保",
    )


def book_instalment(
    policy: Policy, *, number: int, amount: Decimal, due_on: datetime.date, on: datetime.date
) -> list[Booked]:
    """A later instalment collected: the rates of its policy year (a fixed amount was paid at
    issuance and is not paid again)."""
    if number <= 1:
        return []  # the first is the issuance's
    year = continuity_year(policy) + policy_year_on(policy, due_on) - 1
    return _book_sale(
        policy,
        event=CommissionEvent.RENEWAL_PREMIUM,
        key=f"commission:instalment:{policy.number}:{number}",
        premium=amount,
        year=year,
        on=on,
        share=Decimal(0),
        what=f"第{number}期保费",
    )


def book_endorsement(
    policy: Policy, *, endorsement_number: str, delta: Decimal, on: datetime.date
) -> list[Booked]:
    """Commission on an endorsement's premium delta (negative delta, negative entry)."""
    if delta == 0:
        return []
    year = continuity_year(policy) + policy_year_on(policy, on) - 1
    return _book_sale(
        policy,
        event=CommissionEvent.ENDORSEMENT,
        key=f"commission:endorsement:{endorsement_number}",
        premium=delta,
        year=year,
        on=on,
        share=Decimal(0),
        what=f"批改{endorsement_number}",
    )


def book_cancellation(
    policy: Policy, *, refund: Decimal, paid: Decimal, in_cooling_off: bool, on: datetime.date
) -> list[Booked]:
    """Claws back, for each party paid on the policy, per the rule its issuance was paid by."""
    booked: list[Booked] = []
    entries = CommissionEntry.objects.filter(policy=policy).exclude(event=CommissionEvent.CANCELLATION)
    parties: dict[tuple[str, int | None], list[CommissionEntry]] = {}
    for entry in entries.select_related("sales_unit").order_by("id"):
        parties.setdefault((entry.direction, entry.sales_unit_id), []).append(entry)
    for (direction, _unit_id), rows in parties.items():
        earned = sum((r.amount for r in rows), Decimal(0))
        rule_id = rows[0].explanation.get("rule")
        row = CommissionRule.objects.filter(pk=rule_id).first() if rule_id else None
        rule = rule_of(row) if row is not None else rules.Rule(id=0, version_id=0)
        amount, how = rules.clawback_of(
            rule, earned=earned, refund=refund, paid=paid, in_cooling_off=in_cooling_off
        )
        unit = rows[0].sales_unit
        suffix = (
            "inbound" if direction == CommissionDirection.INBOUND else f"outbound:{unit.code if unit else ''}"
        )
        booked.append(
            _write(
                key=f"commission:cancellation:{policy.number}:{suffix}",
                direction=direction,
                event=CommissionEvent.CANCELLATION,
                policy=policy,
                insurer=policy.insurer,
                unit=unit,
                year=rows[-1].policy_year,
                computed=None,
                amount=amount,
                explanation={"rule": rule_id, "version": rule.version_id or None, "what": "退保追回", **how},
                on=on,
                description=f"退保追回 {policy.number}",
            )
        )
    return booked


# --- hook listeners ------------------------------------------------------------------------------


def on_policies_issued(event: Any) -> None:
    """policy.policies_issued (in the issuing transaction)."""
    for issued in event.issued:
        book_issued(issued.policy)


def on_instalment_paid(event: Any) -> None:
    """billing.instalment_paid["policy"]: the instalment's commission."""
    policy = (
        Policy.objects.select_related("insurer", "product_version__product", "seller")
        .filter(number=event.reference_id)
        .first()
    )
    if policy is None:
        return
    book_instalment(
        policy, number=event.number, amount=event.amount, due_on=event.due_on, on=timezone.localdate()
    )


def on_endorsement_applied(event: Any) -> None:
    book_endorsement(
        event.policy, endorsement_number=event.endorsement.number, delta=event.premium_delta, on=event.on
    )


def on_cancellation_confirmed(event: Any) -> None:
    book_cancellation(
        event.policy, refund=event.refund, paid=event.paid, in_cooling_off=event.in_cooling_off, on=event.on
    )


def backfill(policies: Iterable[Policy]) -> int:
    """Books the issuance entries of policies issued before their plans existed (idempotent)."""
    count = 0
    for policy in policies:
        count += sum(1 for b in book_issued(policy) if b.created)
    return count


# --- month and quarter end -----------------------------------------------------------------------


def _month_bounds(month: datetime.date) -> tuple[datetime.date, datetime.date]:
    first = month.replace(day=1)
    nxt = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, nxt - datetime.timedelta(days=1)


PREMIUM_EVENTS = (CommissionEvent.ISSUED, CommissionEvent.RENEWAL_PREMIUM, CommissionEvent.ENDORSEMENT)


def _premium_of(entries: Iterable[CommissionEntry]) -> Decimal:
    return sum((Decimal(e.explanation.get("premium", "0")) for e in entries), Decimal(0))


def settle_tiers(month: datetime.date) -> list[Booked]:
    """Volume tiers apply to the whole month (retroactively): once the month is over, each
    inbound rule with tiers whose insurer's month premium reached a tier gets a BONUS entry of
    (tier rate − base rate) × the net premium booked under it in the month."""
    first, last = _month_bounds(month)
    booked: list[Booked] = []
    tiered = (
        CommissionRule.objects.filter(
            version__status=PlanVersionStatus.PUBLISHED, version__plan__direction=PlanDirection.INBOUND
        )
        .exclude(tiers=[])
        .select_related("version__plan__insurer")
    )
    for row in tiered:
        insurer = row.version.plan.insurer
        assert insurer is not None
        month_entries = list(
            CommissionEntry.objects.filter(
                insurer=insurer,
                direction=CommissionDirection.INBOUND,
                event__in=PREMIUM_EVENTS,
                occurred_on__range=(first, last),
            )
        )
        if not month_entries:
            continue
        month_premium = _premium_of(month_entries)
        rule = rule_of(row)
        bases = [e.base for e in month_entries if e.explanation.get("rule") == row.pk]
        tier, amount = rules.tier_difference(rule, month_premium=month_premium, bases=bases)
        if amount == 0:
            continue
        _, rate = rules.tier_rate(rule, month_premium)
        booked.append(
            _write(
                key=f"commission:tier:{row.pk}:{first:%Y-%m}",
                direction=CommissionDirection.INBOUND,
                event=CommissionEvent.BONUS,
                policy=None,
                insurer=insurer,
                unit=None,
                year=1,
                computed=None,
                amount=amount,
                explanation={
                    "rule": row.pk,
                    "version": row.version_id,
                    "what": "阶梯费率补差",
                    "month": f"{first:%Y-%m}",
                    "month_premium": str(month_premium),
                    "tier": tier,
                    "tier_rate": str(rate),
                    "base_rate": str(rule.rate),
                    "base": str(sum(bases, Decimal(0))),
                    "rounding": "half_up_fen",
                },
                on=last,
                description=f"阶梯手续费补差 {insurer.code} {first:%Y-%m}",
            )
        )
    return booked


def settle_targets(quarter_end: datetime.date) -> list[Booked]:
    """A quarter's target bonus per inbound plan version in force at the quarter's end."""
    q = (quarter_end.month - 1) // 3
    first = datetime.date(quarter_end.year, q * 3 + 1, 1)
    _, last = _month_bounds(datetime.date(quarter_end.year, q * 3 + 3, 1))
    booked: list[Booked] = []
    for plan in CommissionPlan.objects.filter(direction=PlanDirection.INBOUND).select_related("insurer"):
        version = version_in_force(plan, last)
        if version is None or not version.targets:
            continue
        assert plan.insurer is not None
        entries = CommissionEntry.objects.filter(
            insurer=plan.insurer,
            direction=CommissionDirection.INBOUND,
            event__in=PREMIUM_EVENTS,
            occurred_on__range=(first, last),
        )
        premium = _premium_of(entries)
        targets = [
            rules.Target(Decimal(str(t["premium"])), Decimal(str(t["bonus"]))) for t in version.targets
        ]
        bonus = rules.target_bonus(targets, premium)
        if bonus == 0:
            continue
        booked.append(
            _write(
                key=f"commission:target:{version.pk}:{last.year}Q{q + 1}",
                direction=CommissionDirection.INBOUND,
                event=CommissionEvent.BONUS,
                policy=None,
                insurer=plan.insurer,
                unit=None,
                year=1,
                computed=None,
                amount=bonus,
                explanation={
                    "version": version.pk,
                    "what": "季度达标奖励",
                    "quarter": f"{last.year}Q{q + 1}",
                    "quarter_premium": str(premium),
                    "targets": version.targets,
                },
                on=last,
                description=f"季度达标奖励 {plan.insurer.code} {last.year}Q{q + 1}",
            )
        )
    return booked


def month_end(run_date: datetime.date) -> list[Booked]:
    """On the first day of a month: the previous month's tiers (and the previous quarter's
    targets on the first day of a quarter). Any other day: nothing."""
    if run_date.day != 1:
        return []
    previous = run_date - datetime.timedelta(days=1)
    booked = settle_tiers(previous)
    if run_date.month in (1, 4, 7, 10):
        booked += settle_targets(previous)
    return booked


def earned_total(policy: Policy, *, direction: str, unit: SalesUnit | None = None) -> Decimal:
    query = CommissionEntry.objects.filter(policy=policy, direction=direction)
    if unit is not None:
        query = query.filter(sales_unit=unit)
    # to the fen: SQLite sums decimals as floats
    return to_fen(query.aggregate(s=Sum("amount"))["s"] or Decimal(0))


# --- the margin page -----------------------------------------------------------------------------


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
    first, last = _month_bounds(on.replace(day=1) - datetime.timedelta(days=1))
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
        insurer_rules = _cached(inbound, product.insurer_id, on, inbound_rules)
        mode = _modes_of(product)[0]
        for seller in sellers:
            chain = seller_chain(seller)
            sale = rules.Sale(product.insurer_id, product.pk, product.line, mode, 1, channels_of(chain))
            payouts = []
            for party in chain:
                if party.kind in UNPAID_KINDS:
                    continue
                chosen = rules.resolve(_cached(outbound, party.pk, on, outbound_rules), sale)
                if chosen is not None:
                    payouts.append(chosen)
            if not payouts:
                continue
            reference = _reference_premium(product)
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
