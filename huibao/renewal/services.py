"""Renewal use-cases: offers before expiry (set-based, batched), their notices and reminders,
the customer's accept / pay / decline / automatic renewal, mandate charges with retries in the
grace period, and the renewal policy's issuance once paid.

Daily work takes the business date `run_date` (the jobs in `jobs.py` call these) and is
idempotent: offers are unique per policy (`RenewalOffer.policy` one-to-one, inserted with
`ignore_conflicts`), reminders per offer and day-before (`RenewalReminder`), messages by their
`dedup_key`, mandate charges by a merchant reference per offer and day. Batches commit with
their `checkpoint(cursor)`, so a run killed half-way resumes where it stopped.

Payments of kind "renewal" (the cashier's for an accepted offer; the mandate's for automatic
renewal) come back through the payment hooks: `on_renewal_paid` locks the offer, then the
expiring policy, and issues the renewal policy once (`policy.services.issue_renewal`; the
one-to-one `Policy.renewed_from` is the last guard); a second payment for a renewed offer is
refunded.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from huibao.billing import rules as billing_rules
from huibao.billing import services as billing
from huibao.billing.models import PaymentMandate, PremiumSchedule
from huibao.billing.states import MandateStatus
from huibao.catalog.models import Plan, Product, ProductStatus, ProductVersion
from huibao.catalog.servicing import servicing_rules
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.money import to_fen
from huibao.core.states import check_transition
from huibao.notification.services import Notice, notify, notify_many
from huibao.payment import services as payments
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.policy import endorsement_rules as er
from huibao.policy import lifecycle
from huibao.policy import rules as policy_rules
from huibao.policy import schedule as schedule_mod
from huibao.policy import services as policy_services
from huibao.policy.issuance import BeneficiaryData, HolderData, InsuredData, IssuanceRequest, ItemToIssue
from huibao.policy.models import Policy, PolicyBeneficiary, PolicyParty
from huibao.policy.states import LIVE_POLICY_STATUSES, PartyRole
from huibao.rating import services as rating
from huibao.rating.errors import QuoteRejected, RatingError
from huibao.rating.rules import RatingProduct
from huibao.rating.rules import price as rate
from huibao.renewal import notices, rules
from huibao.renewal.models import RenewalOffer, RenewalReminder
from huibao.renewal.states import OFFER_TRANSITIONS, OPEN_STATUSES, OfferStatus

logger = logging.getLogger(__name__)

OBJ_TYPE = "renewal_offer"
PAYMENT_KIND = "renewal"
SYSTEM = "renewal"
BATCH = 2000
CASHIER_EXPIRES = datetime.timedelta(minutes=30)

Checkpoint = Callable[[Any], None]
Stop = Callable[[], bool]


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=timezone.get_default_timezone())


def _move(offer: RenewalOffer, target: str, *, actor: Any, **detail: Any) -> None:
    """The one way an offer's status changes (the caller holds its row lock)."""
    check_transition(OFFER_TRANSITIONS, offer.status, target, what=f"renewal offer {offer.public_id}")
    before = offer.status
    offer.status = target
    offer.save()
    audit.record(
        "renewal.offer_" + target,
        OBJ_TYPE,
        str(offer.public_id),
        actor=actor,
        before={"status": before},
        after={"status": target, **detail},
    )


# --- offers --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """What the offers of one renewable version need, read once per run."""

    version_id: int
    product_id: int
    terms: rules.RenewalTerms
    offer_days: int
    grace_days: int
    auto_renewal: bool


@dataclass(frozen=True, slots=True)
class Priced:
    premium: Decimal
    steps: list[dict[str, Any]]
    inputs: dict[str, Any]
    # As stored (JSON text), encoded once per rating rather than once per offer.
    steps_json: str = "[]"
    inputs_json: str = "{}"


class _Rater:
    """Prices renewals with one rating per distinct (version, plan, age, sex, occupation class,
    sum insured, term): 100,000 policies of a few products come to a few thousand ratings. The
    cache is bounded (cleared when full), so memory does not grow with the number of policies."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self._products: dict[tuple[int, int | None], RatingProduct] = {}
        self._prices: dict[tuple[Any, ...], Priced | str] = {}

    def product(self, version_id: int, max_age: int | None) -> RatingProduct:
        key = (version_id, max_age)
        product = self._products.get(key)
        if product is None:
            base = rating.get_rating_product(version_id)
            # Renewal is no new entry: the entry age limit gives way to the maximum renewal age.
            product = dataclasses.replace(
                base, eligibility=dataclasses.replace(base.eligibility, max_age=max_age)
            )
            self._products[key] = product
        return product

    def price(
        self,
        version_id: int,
        max_age: int | None,
        plan_code: str,
        *,
        age: int,
        sex: str,
        occupation_class: int | None,
        sum_insured: Decimal | None,
        term: str,
        payment_mode: str = "",
    ) -> Priced | str:
        """The price, or the rating engine's reason it cannot price (a refusal)."""
        key = (version_id, max_age, plan_code, age, sex, occupation_class, sum_insured, term, payment_mode)
        hit = self._prices.get(key)
        if hit is not None:
            return hit
        product = self.product(version_id, max_age)
        referenced = product.spec.referenced
        inputs: dict[str, object] = {"age": age}
        if sum_insured is not None:
            inputs["sum_insured"] = str(sum_insured)
        if sex and "sex" in referenced:
            inputs["sex"] = sex
        if occupation_class is not None and "occupation_class" in referenced:
            inputs["occupation_class"] = occupation_class
        if term and "term" in referenced:
            inputs["term"] = term
        if payment_mode and "payment_mode" in referenced:
            inputs["payment_mode"] = payment_mode  # a modal loading the spec states for monthly
        result: Priced | str
        try:
            quoted = rate(product, plan_code, inputs)
        except QuoteRejected as exc:
            result = "；".join(e.message for e in exc.errors)[:120] or "无法按续保年龄计算保费"
        except RatingError as exc:
            result = str(exc)[:120] or "无法按续保年龄计算保费"
        else:
            steps = quoted.steps_as_dicts()
            result = Priced(
                to_fen(quoted.premium),
                steps,
                quoted.inputs,
                json.dumps(steps, ensure_ascii=False, cls=DjangoJSONEncoder),
                json.dumps(quoted.inputs, ensure_ascii=False, cls=DjangoJSONEncoder),
            )
        if len(self._prices) >= self.LIMIT:
            self._prices.clear()
        self._prices[key] = result
        return result


def renewable_versions() -> dict[int, VersionFacts]:
    """The versions whose `renewal` document says renewable (a few hundred at most)."""
    out: dict[int, VersionFacts] = {}
    for row in ProductVersion.objects.values("id", "product_id", "renewal", "servicing"):
        terms = rules.RenewalTerms.from_json(row["renewal"])
        if not terms.renewable:
            continue
        servicing = servicing_rules(row["servicing"])
        out[row["id"]] = VersionFacts(
            version_id=row["id"],
            product_id=row["product_id"],
            terms=terms,
            offer_days=servicing.renewal_offer_days,
            grace_days=servicing.grace_days,
            auto_renewal=servicing.auto_renewal,
        )
    return out


@dataclass
class _Catalogue:
    """Products on sale with their current version, and plan ids by (version, code)."""

    current: dict[int, int]  # product id → current version id (on sale only)
    plans: dict[tuple[int, str], int]
    plan_codes: dict[int, str]
    terms: dict[int, policy_rules.Term]  # version id → the term a renewal runs (its first option)
    modes: dict[int, tuple[str, ...]]  # version id → the premium modes it offers

    @classmethod
    def load(cls, facts: dict[int, VersionFacts]) -> _Catalogue:
        products = {f.product_id for f in facts.values()}
        current = dict(
            Product.objects.filter(
                pk__in=products, status=ProductStatus.ON_SALE, current_version__isnull=False
            ).values_list("id", "current_version_id")
        )
        versions = set(facts) | set(current.values())
        plans: dict[tuple[int, str], int] = {}
        codes: dict[int, str] = {}
        for pk, version_id, code in Plan.objects.filter(version_id__in=versions).values_list(
            "id", "version_id", "code"
        ):
            plans[(version_id, code)] = pk
            codes[pk] = code
        terms: dict[int, policy_rules.Term] = {}
        modes: dict[int, tuple[str, ...]] = {}
        for pk, options, payment_modes in ProductVersion.objects.filter(pk__in=versions).values_list(
            "id", "term_options", "payment_modes"
        ):
            terms[pk] = policy_rules.choose_term(options or [], None)
            modes[pk] = tuple(payment_modes or ())
        return cls(current, plans, codes, terms, modes)


def _facts_of(version_id: int, facts: dict[int, VersionFacts]) -> VersionFacts:
    found = facts.get(version_id)
    if found is not None:
        return found
    # A current version that is itself not marked renewable still prices the renewal of a
    # policy whose own version was: its servicing rules apply.
    row = ProductVersion.objects.values("id", "product_id", "renewal", "servicing").get(pk=version_id)
    servicing = servicing_rules(row["servicing"])
    fact = VersionFacts(
        version_id,
        row["product_id"],
        rules.RenewalTerms.from_json(row["renewal"]),
        servicing.renewal_offer_days,
        servicing.grace_days,
        servicing.auto_renewal,
    )
    facts[version_id] = fact
    return fact


def _expiring(run_date: datetime.date, facts: dict[int, VersionFacts]) -> dict[int, list[int]]:
    """Offer days → the renewable versions that make their offers that many days before."""
    by_days: dict[int, list[int]] = {}
    for fact in facts.values():
        by_days.setdefault(fact.offer_days, []).append(fact.version_id)
    return by_days


def count_offers_due(run_date: datetime.date) -> int:
    facts = renewable_versions()
    total = 0
    for days, versions in _expiring(run_date, facts).items():
        day = run_date + datetime.timedelta(days=days)
        total += _due_query(versions, day).count()
    return total


def _due_query(versions: list[int], day: datetime.date) -> Any:
    return Policy.objects.filter(
        product_version_id__in=versions,
        status__in=LIVE_POLICY_STATUSES,
        expires_at__gte=_day_start(day),
        expires_at__lt=_day_start(day + datetime.timedelta(days=1)),
        renewal_offer__isnull=True,
    )


def make_offers(
    run_date: datetime.date,
    *,
    cursor: dict[str, int] | None = None,
    batch: int = BATCH,
    checkpoint: Checkpoint | None = None,
    stop: Stop | None = None,
) -> int:
    """Offers to renew every live policy of a renewable version expiring `renewal_offer_days`
    after `run_date` (re-rated at the insured's age on the new start), or records why it does
    not renew (refused). Keyset batches by policy id per offer-days group: a handful of queries
    and one bulk insert per batch, whatever the number of policies. Returns offers written."""
    facts = renewable_versions()
    if not facts:
        return 0
    catalogue = _Catalogue.load(facts)
    rater = _Rater()
    state = dict(cursor or {})
    made = 0
    for days, versions in sorted(_expiring(run_date, facts).items()):
        day = run_date + datetime.timedelta(days=days)
        key = str(days)
        while True:
            if stop is not None and stop():
                return made
            rows = list(
                _due_query(versions, day)
                .filter(pk__gt=state.get(key, 0))
                .order_by("pk")
                .values(
                    "id",
                    "customer_id",
                    "product_version_id",
                    "plan_id",
                    "number",
                    "sum_insured",
                    "premium",
                    "expires_at",
                    "item__loading_percent",
                )[:batch]
            )
            if not rows:
                break
            offers = _offers_for(rows, run_date, facts, catalogue, rater)
            state[key] = rows[-1]["id"]
            with transaction.atomic():
                _insert_offers(offers)
                # One entry per batch: what was offered (or refused) to which policy, at what premium.
                audit.record(
                    "renewal.offers_made",
                    OBJ_TYPE,
                    f"{run_date.isoformat()}/{days}/{rows[0]['id']}-{rows[-1]['id']}",
                    actor=SYSTEM,
                    after={
                        "run_date": run_date,
                        "expires_on": day,
                        # policy id:status:premium (refusals: their reason), one string per offer
                        "offers": [_audit_line(o) for o in offers],
                    },
                )
                if checkpoint is not None:
                    checkpoint(dict(state))
            made += len(offers)
    return made


def _offers_for(
    rows: list[dict[str, Any]],
    run_date: datetime.date,
    facts: dict[int, VersionFacts],
    catalogue: _Catalogue,
    rater: _Rater,
) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    insured = {
        p["policy_id"]: p
        for p in PolicyParty.objects.filter(policy_id__in=ids, role=PartyRole.INSURED).values(
            "policy_id", "birth_date", "sex", "occupation_class"
        )
    }
    # A policy that is itself a renewal: its term number and its loading are its offer's.
    terms_before: dict[int, int] = {}
    loading_before: dict[int, Decimal] = {}
    for policy_id, term_number, loading in RenewalOffer.objects.filter(renewal_policy_id__in=ids).values_list(
        "renewal_policy_id", "term_number", "loading_percent"
    ):
        terms_before[policy_id], loading_before[policy_id] = term_number, loading
    # A policy paid in instalments has its billing schedule: its mode renews with it.
    modes_now = dict(
        PremiumSchedule.objects.filter(
            reference_kind="policy", reference_id__in=[r["number"] for r in rows]
        ).values_list("reference_id", "mode")
    )
    offers: list[dict[str, Any]] = []
    tz = timezone.get_current_timezone()
    ends: dict[tuple[Any, ...], datetime.datetime | None] = {}
    for row in rows:
        own = facts[row["product_version_id"]]
        term_number = terms_before.get(row["id"], 1) + 1
        starts_at = row["expires_at"]
        local_start = starts_at.astimezone(tz)
        expires_on = local_start.date()
        party: dict[str, Any] = dict(insured.get(row["id"]) or {})
        birth = party.get("birth_date")
        age = rules.age_on(birth, expires_on) if birth else 0
        plan_code = catalogue.plan_codes.get(row["plan_id"], "")
        current = catalogue.current.get(own.product_id)
        guaranteed = own.terms.guaranteed_years > 0 and term_number <= own.terms.guaranteed_years
        version_id = row["product_version_id"] if guaranteed else (current or row["product_version_id"])
        plan_id = catalogue.plans.get((version_id, plan_code))
        decision = rules.decide(
            own.terms,
            term_number=term_number,
            new_age=age,
            product_on_sale=current is not None,
            plan_available=plan_id is not None,
        )
        use = _facts_of(version_id, facts)
        term = catalogue.terms.get(version_id) or policy_rules.choose_term([], None)
        mode = renewal_mode(modes_now.get(row["number"], ""), catalogue.modes.get(version_id, ()))
        if row["id"] in loading_before:
            loading = loading_before[row["id"]]
        else:
            loading = row["item__loading_percent"] or Decimal(0)
        offer: dict[str, Any] = {
            "public_id": uuid.uuid4(),
            "policy_id": row["id"],
            "customer_id": row["customer_id"],
            "status": OfferStatus.OFFERED.value,
            "term_number": term_number,
            "guaranteed": decision.guaranteed,
            "product_version_id": version_id,
            "plan_id": plan_id,
            "term_code": term.code,
            "insured_age": age,
            "premium": None,
            "rated_premium": None,
            "loading_percent": loading,
            "payment_mode": mode,
            "previous_premium": row["premium"],
            "steps": "[]",
            "inputs": "{}",
            "starts_at": starts_at,
            "ends_at": None,
            "expires_on": expires_on,
            "grace_until": rules.grace_until(expires_on, use.grace_days),
            "offered_on": run_date,
            "refusal": "",
        }
        refusal = decision.refusal
        if not refusal and plan_id is not None:
            priced = rater.price(
                version_id,
                own.terms.max_renewal_age,
                plan_code,
                age=age,
                sex=str(party.get("sex") or ""),
                occupation_class=party.get("occupation_class"),
                sum_insured=row["sum_insured"],
                term=term.code,
                payment_mode=mode,
            )
            if isinstance(priced, str):
                refusal = f"无法按续保年龄承保：{priced}"
            else:
                offer["rated_premium"], offer["steps"], offer["inputs"] = (
                    priced.premium,
                    priced.steps_json,
                    priced.inputs_json,
                )
                # the underwriting loading the policy carries applies to the new term too
                offer["premium"] = er.loaded_premium(priced.premium, loading) if loading else priced.premium
                end_key = (term, local_start, birth if term.kind == "to_age" else None)
                if end_key not in ends:
                    ends[end_key] = policy_rules.contract_end(term, local_start, birth)
                offer["ends_at"] = ends[end_key]
        if refusal:
            offer["status"] = OfferStatus.REFUSED.value
            offer["refusal"] = refusal[:120]
        offers.append(offer)
    return offers


def renewal_mode(current: str, offered: tuple[str, ...]) -> str:
    """The premium mode of the renewal: the expiring policy's instalment mode (`current`, its
    billing schedule's) where the version still offers it, else paid yearly as before."""
    if current and current in offered:
        return current
    if not offered or "annual" in offered:
        return "annual"
    return "single" if "single" in offered else offered[0]


def due_now(offer: RenewalOffer) -> Decimal:
    """What is paid to renew: the whole premium, or the first instalment of a monthly renewal
    (`billing.rules.first_instalment`, the one owner of per-period amounts)."""
    assert offer.premium is not None
    return billing_rules.first_instalment(offer.premium, offer.payment_mode or "annual")


def _audit_line(offer: dict[str, Any]) -> str:
    """policy id:status:premium (a refusal: its reason)."""
    what = offer["refusal"] if offer["premium"] is None else offer["premium"]
    return f"{offer['policy_id']}:{offer['status']}:{what}"


def _insert_offers(offers: list[dict[str, Any]]) -> None:
    """One multi-row insert of the batch's offers, skipping a policy that has one already (a
    concurrent run): values adapted by hand, since the ORM's per-field preparation of 100,000
    model instances costs more than the rating and the database together."""
    if not offers:
        return
    now = timezone.now()
    pg = connection.vendor == "postgresql"
    ops = connection.ops
    fields = [f for f in RenewalOffer._meta.concrete_fields if not f.primary_key]
    defaults: dict[str, Any] = {
        "auto_renew": False,
        "mandate_id": None,
        "attempts": 0,
        "last_failure": "",
        "notified_at": None,
        "renewal_policy_id": None,
        "decided_at": None,
        "created_at": now,
        "updated_at": now,
    }
    adapters: list[Callable[[Any], Any]] = []
    placeholders: list[str] = []
    for f in fields:
        kind = f.get_internal_type()
        placeholders.append("%s::jsonb" if pg and kind == "JSONField" else "%s")
        if pg or kind in ("JSONField", "CharField", "BooleanField", "DecimalField") or "Integer" in kind:
            adapters.append(_same)
        elif kind == "UUIDField":
            adapters.append(_uuid_hex)
        elif kind == "DateTimeField":
            adapters.append(ops.adapt_datetimefield_value)
        elif kind == "DateField":
            adapters.append(ops.adapt_datefield_value)
        else:
            adapters.append(_same)
    table = ops.quote_name(RenewalOffer._meta.db_table)
    columns = ", ".join(ops.quote_name(str(f.column)) for f in fields)
    names = [f.attname for f in fields]
    values = [
        [adapt(o[n] if n in o else defaults[n]) for n, adapt in zip(names, adapters, strict=True)]
        for o in offers
    ]
    with connection.cursor() as cursor:
        if pg:
            # COPY into a scratch table, then one INSERT … SELECT that skips existing offers.
            load = ops.quote_name("renewal_offer_load")
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {load} AS "  # noqa: S608
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            raw = cursor.cursor
            with raw.copy(f"COPY {load} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {load} "  # noqa: S608
                "ON CONFLICT DO NOTHING"
            )
            cursor.execute(f"DELETE FROM {load}")  # noqa: S608
            return
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(placeholders)}) "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
        cursor.executemany(sql, values)


def _same(value: Any) -> Any:
    return value


def _uuid_hex(value: Any) -> Any:
    return value.hex if isinstance(value, uuid.UUID) else value


# --- notices and reminders -----------------------------------------------------------------------


def _context(offer: RenewalOffer, policy: Policy) -> dict[str, Any]:
    return {
        "policy_number": policy.number,
        "product_name": policy.product_version.product.name,
        "premium": offer.premium if offer.premium is not None else Decimal("0.00"),
        "expires_on": offer.expires_on,
        "grace_until": offer.grace_until,
        "auto_renew": "1" if offer.auto_renew else "",
    }


def notify_offers(
    run_date: datetime.date,
    *,
    batch: int = 500,
    checkpoint: Checkpoint | None = None,
    stop: Stop | None = None,
) -> int:
    """Tells each customer, once, that their offer was made (or that the policy does not renew).
    Batches of offers not yet notified; the message's dedup key keeps a re-run from sending
    twice even if the batch's mark was lost."""
    sent = 0
    while True:
        if stop is not None and stop():
            return sent
        with transaction.atomic():
            offers = list(
                RenewalOffer.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(notified_at__isnull=True, offered_on__lte=run_date)
                .select_related("policy__product_version__product", "customer")
                .order_by("pk")[:batch]
            )
            if not offers:
                break
            now = timezone.now()
            messages: list[Notice] = []
            for offer in offers:
                user = offer.customer
                if user is not None:
                    refused = offer.status == OfferStatus.REFUSED
                    context = _context(offer, offer.policy)
                    if refused:
                        context["reason"] = offer.refusal
                    messages.append(
                        Notice(
                            user=user,
                            template=notices.REFUSED if refused else notices.OFFERED,
                            context=context,
                            dedup_key=f"renewal:{offer.pk}:offered",
                            reference=offer.policy.number,
                        )
                    )
            # one batch of messages: three statements, not three per offer
            notify_many(messages)
            sent += len(messages)
            RenewalOffer.objects.filter(pk__in=[o.pk for o in offers]).update(notified_at=now)
            if checkpoint is not None:
                checkpoint({"id": offers[-1].pk})
    return sent


def send_reminders(
    run_date: datetime.date,
    *,
    batch: int = 500,
    checkpoint: Checkpoint | None = None,
    stop: Stop | None = None,
) -> int:
    """The reminders due on `run_date` (30, 7 and 1 days before expiry) of open offers: each
    offer gets each reminder once (`RenewalReminder` unique per offer and day, the message's
    dedup key), also when run twice or killed half-way."""
    sent = 0
    for days in rules.REMINDER_DAYS:
        expires_on = run_date + datetime.timedelta(days=days)
        while True:
            if stop is not None and stop():
                return sent
            with transaction.atomic():
                offers = list(
                    RenewalOffer.objects.filter(status__in=OPEN_STATUSES, expires_on=expires_on)
                    .exclude(reminders__days_before=days)
                    .select_related("policy__product_version__product", "customer")
                    .order_by("pk")[:batch]
                )
                if not offers:
                    break
                created = RenewalReminder.objects.bulk_create(
                    [RenewalReminder(offer=o, days_before=days, sent_on=run_date) for o in offers],
                    ignore_conflicts=True,
                )
                del created
                batch_notices = [
                    Notice(
                        user=offer.customer,
                        template=notices.REMINDER,
                        context={**_context(offer, offer.policy), "days": days},
                        dedup_key=f"renewal:{offer.pk}:reminder:{days}",
                        reference=offer.policy.number,
                    )
                    for offer in offers
                    if offer.customer is not None
                ]
                notify_many(batch_notices)
                sent += len(batch_notices)
                if checkpoint is not None:
                    checkpoint({"days": days, "id": offers[-1].pk})
    return sent


# --- the customer's choices ----------------------------------------------------------------------


def offer_of(policy: Policy) -> RenewalOffer:
    offer = (
        RenewalOffer.objects.filter(policy=policy).select_related("product_version__product", "plan").first()
    )
    if offer is None:
        raise NotFound("该保单暂无续保要约", code="renewal_offer_not_found")
    return offer


def _locked_offer(offer_id: int) -> RenewalOffer:
    return RenewalOffer.objects.select_for_update(of=("self",)).select_related("policy").get(pk=offer_id)


def _holder(policy: Policy) -> PolicyParty:
    return PolicyParty.objects.get(policy=policy, role=PartyRole.HOLDER)


def _check_open(offer: RenewalOffer, today: datetime.date) -> None:
    if offer.status == OfferStatus.RENEWED:
        raise Conflict("该保单已续保", code="renewal_already_renewed")
    if offer.status not in OPEN_STATUSES or offer.premium is None:
        raise Conflict(
            f"续保要约当前状态为“{offer.get_status_display()}”，不能办理续保", code="renewal_not_open"
        )
    if today > offer.grace_until:
        raise Conflict("已超过续保宽限期，不能再续保", code="renewal_grace_over")


def accept(offer: RenewalOffer, *, user: Any, today: datetime.date | None = None) -> Payment:
    """The customer accepts the offer: a payment of the renewal premium at the cashier (the one
    still open is given again, so a retried tap opens no second payment). Paying it issues the
    renewal (`on_renewal_paid`)."""
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = _locked_offer(offer.pk)
        _check_open(locked, today)
        open_payment = (
            Payment.objects.filter(
                reference_kind=PAYMENT_KIND,
                reference_id=str(locked.public_id),
                status__in=(PaymentStatus.CREATED, PaymentStatus.PENDING),
                expires_at__gt=timezone.now(),
            )
            .exclude(merchant_ref__startswith="RN")
            .order_by("-pk")
            .first()
        )
        amount = due_now(locked) if locked.premium is not None else None
        if open_payment is not None and open_payment.amount == amount:
            return open_payment
        if locked.status != OfferStatus.ACCEPTED:
            locked.decided_at = timezone.now()
            _move(locked, OfferStatus.ACCEPTED, actor=user)
        holder = _holder(locked.policy)
        assert amount is not None
        payment = payments.create_payment(
            amount=amount,
            payer_name=holder.name,
            payer_id_number=holder.id_number,
            reference_kind=PAYMENT_KIND,
            reference_id=str(locked.public_id),
            expires_in=CASHIER_EXPIRES,
            return_url=reverse("renewal:offer", args=[locked.public_id]),
        )
    offer.refresh_from_db()
    return payment


def decline(offer: RenewalOffer, *, user: Any) -> RenewalOffer:
    with transaction.atomic():
        locked = _locked_offer(offer.pk)
        if locked.status not in OPEN_STATUSES:
            raise Conflict(
                f"续保要约当前状态为“{locked.get_status_display()}”，不能放弃", code="renewal_not_open"
            )
        locked.decided_at = timezone.now()
        locked.auto_renew = False
        _move(locked, OfferStatus.DECLINED, actor=user)
    return locked


def set_auto_renew(
    offer: RenewalOffer, *, user: Any, on: bool, card_number: str = "", today: datetime.date | None = None
) -> RenewalOffer:
    """Turns automatic renewal on (charged on the last day through a stored payment
    authorisation: the customer's active one, or one signed now with `card_number`) or off."""
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = _locked_offer(offer.pk)
        if on:
            _check_open(locked, today)
            if not servicing_rules(locked.product_version.servicing).auto_renewal:
                raise ValidationFailed(
                    "auto renewal not offered",
                    errors=[FieldError("auto_renew", "not_offered", "本产品不支持自动续保")],
                )
            mandate = (
                PaymentMandate.objects.filter(
                    customer_id=locked.policy.customer_id, status=MandateStatus.ACTIVE
                )
                .order_by("-pk")
                .first()
            )
            if mandate is None:
                if not card_number.strip():
                    raise ValidationFailed(
                        "card_number required",
                        errors=[FieldError("card_number", "required", "请填写用于自动续保扣款的银行卡号")],
                    )
                holder = _holder(locked.policy)
                mandate = billing.sign_mandate(
                    customer_id=locked.policy.customer_id or 0,
                    payer_name=holder.name,
                    payer_id_number=holder.id_number,
                    account_number=card_number.strip().replace(" ", ""),
                )
            locked.mandate = mandate
        elif locked.status not in OPEN_STATUSES:
            raise Conflict("续保要约已结束，不能更改自动续保", code="renewal_not_open")
        before = locked.auto_renew
        locked.auto_renew = on
        locked.save(update_fields=["auto_renew", "mandate", "updated_at"])
        audit.record(
            "renewal.auto_renew_set",
            OBJ_TYPE,
            str(locked.public_id),
            actor=user,
            before={"auto_renew": before},
            after={"auto_renew": on, "account": locked.mandate.masked_account if locked.mandate else ""},
        )
    return locked


# --- automatic renewal, lapse --------------------------------------------------------------------


def auto_renew(
    run_date: datetime.date,
    *,
    batch: int = 200,
    checkpoint: Checkpoint | None = None,
    stop: Stop | None = None,
) -> int:
    """Charges the stored authorisation of each automatic-renewal offer from its last covered day
    until the end of its grace period: once a day (the merchant reference is per offer and day),
    never while a charge is outstanding. The outcome comes back through the payment hooks."""
    ids = list(
        RenewalOffer.objects.filter(
            status__in=OPEN_STATUSES,
            auto_renew=True,
            mandate__status=MandateStatus.ACTIVE,
            expires_on__lte=run_date + datetime.timedelta(days=1),
            grace_until__gte=run_date,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    charged = 0
    for start in range(0, len(ids), batch):
        if stop is not None and stop():
            return charged
        for pk in ids[start : start + batch]:
            with transaction.atomic():
                offer = (
                    RenewalOffer.objects.select_for_update(of=("self",)).select_related("mandate").get(pk=pk)
                )
                if offer.status not in OPEN_STATUSES or not offer.auto_renew:
                    continue
                mandate = offer.mandate
                if mandate is None or mandate.status != MandateStatus.ACTIVE or offer.premium is None:
                    continue
                reference = str(offer.public_id)
                if Payment.objects.filter(
                    reference_kind=PAYMENT_KIND, reference_id=reference, status=PaymentStatus.PENDING
                ).exists():
                    continue
                out_trade_no = rules.out_trade_no(offer.pk, run_date)
                if Payment.objects.filter(merchant_ref=out_trade_no).exists():
                    continue  # tried today already
                payments.charge_mandate(
                    agreement_id=mandate.agreement_id,
                    amount=due_now(offer),
                    out_trade_no=out_trade_no,
                    payer_name=mandate.payer_name,
                    payer_id_number=mandate.payer_id_number,
                    reference_kind=PAYMENT_KIND,
                    reference_id=reference,
                    provider=mandate.provider,
                )
                offer.attempts += 1
                offer.save(update_fields=["attempts", "updated_at"])
                audit.record(
                    "renewal.auto_charge_started",
                    OBJ_TYPE,
                    reference,
                    actor=SYSTEM,
                    after={"out_trade_no": out_trade_no, "amount": due_now(offer), "attempt": offer.attempts},
                )
                charged += 1
        if checkpoint is not None:
            checkpoint({"done": min(start + batch, len(ids))})
    return charged


def lapse_offers(
    run_date: datetime.date,
    *,
    batch: int = 500,
    checkpoint: Checkpoint | None = None,
    stop: Stop | None = None,
) -> int:
    """Offers still open after their grace period (not paid by expiry + grace) lapse: the policy
    is not renewed, and the customer is told so once."""
    lapsed = 0
    while True:
        if stop is not None and stop():
            return lapsed
        with transaction.atomic():
            offers = list(
                RenewalOffer.objects.select_for_update(of=("self",))
                .filter(status__in=OPEN_STATUSES, grace_until__lt=run_date)
                .select_related("policy__product_version__product", "customer")
                .order_by("pk")[:batch]
            )
            if not offers:
                break
            for offer in offers:
                offer.auto_renew = False
                _move(offer, OfferStatus.LAPSED, actor=SYSTEM, grace_until=offer.grace_until)
                if offer.customer is not None:
                    notify(
                        user=offer.customer,
                        template=notices.NOT_RENEWED,
                        context=_context(offer, offer.policy),
                        dedup_key=f"renewal:{offer.pk}:not_renewed",
                        reference=offer.policy.number,
                    )
                lapsed += 1
            if checkpoint is not None:
                checkpoint({"id": offers[-1].pk})
    return lapsed


# --- payments back -------------------------------------------------------------------------------


def _offer_of_payment(payment: Payment) -> RenewalOffer | None:
    try:
        public_id = uuid.UUID(payment.reference_id)
    except ValueError:
        return None
    return (
        RenewalOffer.objects.select_for_update(of=("self",))
        .select_related("policy", "customer", "product_version__product", "plan")
        .filter(public_id=public_id)
        .first()
    )


def on_renewal_paid(payment: Payment) -> None:
    """Paid hook (inside the transaction confirming the payment): the offer is paid and the
    renewal policy issued, once. Money for an offer that cannot take it any more is refunded."""
    offer = _offer_of_payment(payment)
    if offer is None:
        return
    if offer.status not in OPEN_STATUSES or offer.premium is None or payment.amount != due_now(offer):
        reason = (
            "续保已完成，重复支付退回" if offer.status == OfferStatus.RENEWED else "续保要约已结束，款项退回"
        )
        transaction.on_commit(lambda: payments.refund(payment, payment.amount, reason))
        return
    _move(offer, OfferStatus.PAID, actor=SYSTEM, payment=payment.merchant_ref, amount=payment.amount)
    renewal = _issue(offer, payment)
    offer.renewal_policy = renewal
    _move(offer, OfferStatus.RENEWED, actor=SYSTEM, renewal=renewal.number)
    if offer.customer is not None:
        notify(
            user=offer.customer,
            template=notices.RENEWED,
            context={
                "policy_number": offer.policy.number,
                "new_number": renewal.number,
                "product_name": offer.product_version.product.name,
                "starts_at": timezone.localtime(renewal.effective_at),
            },
            dedup_key=f"renewal:{offer.pk}:renewed",
            reference=renewal.number,
        )


def on_renewal_failed(payment: Payment) -> None:
    """Failed hook: an automatic renewal charge did not go through. The offer is marked failed
    (retried on the next days of the grace period) and the customer told what to do, once per
    attempt. A cashier payment that failed or expired changes nothing (pay again)."""
    offer = _offer_of_payment(payment)
    if offer is None or not payment.merchant_ref.startswith("RN") or offer.status not in OPEN_STATUSES:
        return
    offer.last_failure = (payment.failure_reason or "")[:64]
    _move(offer, OfferStatus.FAILED, actor=SYSTEM, payment=payment.merchant_ref, reason=offer.last_failure)
    if offer.customer is not None:
        notify(
            user=offer.customer,
            template=notices.AUTO_FAILED,
            context={**_context(offer, offer.policy), "reason": _failure_text(offer.last_failure)},
            dedup_key=f"renewal:{offer.pk}:failed:{payment.merchant_ref}",
            reference=offer.policy.number,
        )


FAILURE_TEXTS = {
    "insufficient_funds": "账户余额不足",
    "card_declined": "银行卡被拒绝",
    "mandate_revoked": "扣款授权已解除",
}


def _failure_text(code: str) -> str:
    return FAILURE_TEXTS.get(code, "银行处理失败" if code else "")


# --- issuing the renewal -------------------------------------------------------------------------


def _issue(offer: RenewalOffer, payment: Payment) -> Policy:
    """The renewal policy for the offer's term, from the expiring policy's parties (locked)."""
    previous = lifecycle.lock_policy(offer.policy_id)
    parties = {p.role: p for p in PolicyParty.objects.filter(policy=previous)}
    holder = parties[PartyRole.HOLDER]
    insured = parties.get(PartyRole.INSURED)
    old = schedule_mod.loads(previous.schedule)
    version = ProductVersion.objects.select_related("product__insurer").get(pk=offer.product_version_id)
    plan = offer.plan
    if plan is None:
        raise Conflict("续保方案不存在", code="renewal_plan_missing")
    payment_mode = renewal_mode(offer.payment_mode, tuple(version.payment_modes or ()))
    premium = offer.premium or Decimal("0.00")
    item = ItemToIssue(
        item_id=None,
        position=1,
        product_version=version,
        plan=plan,
        sum_insured=previous.sum_insured,
        base_premium=offer.rated_premium if offer.rated_premium is not None else premium,
        premium=premium,
        loading_percent=offer.loading_percent,
        payment_mode=payment_mode,
        term=offer.term_code or None,
        effective_at=offer.starts_at,
        # Guaranteed renewal asks no new health questions: the terms signed carry over.
        exclusions=tuple(str(e) for e in old.get("exclusions") or ()),
        underwriting_outcome=str(old.get("underwriting_outcome") or ""),
        insured=None if insured is None else InsuredData.of(insured),
        beneficiaries=tuple(BeneficiaryData.of(b) for b in PolicyBeneficiary.objects.filter(policy=previous)),
    )
    request = IssuanceRequest(
        application_id=None,
        application_public_id=None,
        application_number="",
        channel=previous.channel,
        customer_id=previous.customer_id,
        holder=HolderData(
            name=holder.name,
            id_number=holder.id_number,
            id_hash=holder.id_hash,
            birth_date=holder.birth_date,
            sex=holder.sex,
            phone=holder.phone,
            email=holder.email,
        ),
        beneficiary_mode=previous.beneficiary_mode,
        items=(item,),
        paid_at=payment.paid_at,
        payment_ref=payment.merchant_ref,
        renewed_from_number=previous.number,
    )
    renewal = policy_services.issue_renewal(request, renewed_from=previous)
    _keep_mandate(offer, previous, renewal)
    return renewal


def _keep_mandate(offer: RenewalOffer, previous: Policy, renewal: Policy) -> None:
    """A renewal paid in instalments is collected like the term before: through the offer's
    mandate (automatic renewal), else the one the expiring policy's schedule used, if active."""
    schedule = PremiumSchedule.objects.filter(reference_kind="policy", reference_id=renewal.number).first()
    if schedule is None or schedule.mandate_id is not None:
        return
    mandate = offer.mandate
    if mandate is None or mandate.status != MandateStatus.ACTIVE:
        before = (
            PremiumSchedule.objects.filter(reference_kind="policy", reference_id=previous.number)
            .select_related("mandate")
            .first()
        )
        mandate = before.mandate if before is not None else None
    if mandate is not None and mandate.status == MandateStatus.ACTIVE:
        billing.attach_mandate(schedule, mandate)


def can_renew(policy: Policy, user: Any = None) -> bool:
    """The policy has an open offer its customer can act on (the "what can I do" hub)."""
    return RenewalOffer.objects.filter(
        policy=policy, status__in=OPEN_STATUSES, premium__isnull=False
    ).exists()
