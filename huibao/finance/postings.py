"""Postings from real events: the premium a payment brings in and the refunds that give it back.

    premium received  Dr cash / Cr premium_payable:insurer:<code>   key "premium:payment:<id>"
                      (an application's payment, split per policy:  "premium:payment:<id>:policy:<pk>")
    premium refunded  Dr premium_payable:insurer:<code> / Cr cash   key "refund:<id>"
    money not premium Dr cash / Cr refunds_payable                  key "receipt:payment:<id>"
      (refused, late, duplicate, or for something no longer issuable) and its refund
                      Dr refunds_payable / Cr cash                  key "refund:<id>"

What is known when (docs/finance-ledger.md): a payment of an application succeeds before its
policies exist; the policies are issued in the same transaction by the application's paid hook
(or later, by recovery), and `policy.services.policies_issued` announces them with the payment's
merchant reference — so the premium of applications and renewals is booked from there, with both
the money and the policies in hand, by the issuance's booking job after the issuing commit
(`post_issued_premium`, called by `booking.py`). An endorsement's extra premium and an instalment
are booked when paid (the policy exists already). Each poster is idempotent by its key
(`ledger.post`): a hook or a job delivered twice, or concurrently, posts once; `backfill` posts
what is missing.

Where the insurer's agreement says the insurer collects the premium
(`PremiumCollector.INSURER`), the money never passes through the agency's cash: nothing is
posted for its premium, nor for its refunds.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from huibao.billing.models import Collection, Instalment
from huibao.billing.services import InstalmentEvent
from huibao.billing.states import CollectionStatus
from huibao.core.models import AuditEntry
from huibao.core.money import to_fen
from huibao.distribution.models import AgreementStatus, InsurerAgreement, PremiumCollector
from huibao.embedded.services import EmbeddedIssued
from huibao.finance import accounts, ledger
from huibao.finance.models import JournalLine, JournalTransaction
from huibao.payment.models import Payment, Refund
from huibao.payment.services import RefundSucceeded
from huibao.payment.states import PaymentStatus, RefundStatus
from huibao.policy.models import CancellationRefund, Endorsement, Policy
from huibao.policy.states import EndorsementStatus

log = logging.getLogger(__name__)

# Payments' reference kinds, as their owners name them (application and renewal are siblings of
# finance, which may not import them; tests/test_postings.py holds these equal to theirs).
APPLICATION_KIND = "application"
RENEWAL_KIND = "renewal"
ENDORSEMENT_KIND = "endorsement"
INSTALMENT_KIND = "billing_instalment"
CHECKOUT_KIND = "billing_checkout"
POLICY_SCHEDULE_KIND = "policy"
PREMIUM_KINDS = (APPLICATION_KIND, RENEWAL_KIND, ENDORSEMENT_KIND, INSTALMENT_KIND, CHECKOUT_KIND)

# Statuses of a payment whose money arrived (and may since have gone back in part or whole).
MONEY_IN = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def premium_key(payment_id: int, policy_id: int | None = None) -> str:
    base = f"premium:payment:{payment_id}"
    return base if policy_id is None else f"{base}:policy:{policy_id}"


def receipt_key(payment_id: int) -> str:
    return f"receipt:payment:{payment_id}"


def refund_key(refund_id: int) -> str:
    return f"refund:{refund_id}"


def _local_date(at: datetime.datetime | None) -> datetime.date:
    return timezone.localdate(at) if at is not None else timezone.localdate()


# --- who collects ---------------------------------------------------------------------------------


def insurer_collects(policy: Policy, on: datetime.date) -> bool:
    """True when an active agreement of the policy's insurer covering its product on `on` says
    the insurer collects the premium itself. No agreement: the agency collected it (the payment
    went through the platform's own collection account). One query when the insurer has no
    agreement, two when it has."""
    agreements = list(
        InsurerAgreement.objects.filter(
            insurer_id=policy.insurer_id, status=AgreementStatus.ACTIVE, valid_from__lte=on
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("-valid_from", "pk")
        .values_list("pk", "lines", "premium_collector")
    )
    if not agreements:
        return False
    product = policy.product_version.product
    listed: dict[int, set[int]] = {}
    for agreement_id, product_id in InsurerAgreement.products.through.objects.filter(
        insureragreement_id__in=[a[0] for a in agreements]
    ).values_list("insureragreement_id", "product_id"):
        listed.setdefault(agreement_id, set()).add(product_id)
    for agreement_id, lines, collector in agreements:
        products = listed.get(agreement_id)
        covers = product.pk in products if products else product.line in (lines or [])
        if covers:
            return bool(collector == PremiumCollector.INSURER)
    return False


# --- allocation (pure) ----------------------------------------------------------------------------


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Splits `total` (fen) in proportion to `weights`, each part rounded to the fen and the
    rounding difference on the largest part, so the parts sum to `total` exactly. Weights that
    already sum to `total` come back unchanged."""
    if not weights:
        return []
    weight_sum = sum(weights, Decimal("0"))
    if weight_sum == total:
        return list(weights)
    if weight_sum <= 0:
        parts = [Decimal("0.00")] * len(weights)
        parts[0] = total
        return parts
    parts = [to_fen(total * w / weight_sum) for w in weights]
    largest = max(range(len(parts)), key=lambda i: (weights[i], -i))
    parts[largest] += total - sum(parts, Decimal("0"))
    return parts


# --- premium --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    policy: Policy
    amount: Decimal


def _post_premium(payment: Payment, shares: Sequence[Share], *, split: bool) -> list[JournalTransaction]:
    """Books `payment`'s premium per share: Dr cash / Cr premium payable to the share's insurer,
    both lines on the share's policy. Nothing when the money was booked as not premium (it was
    given back) or the insurer collects."""
    keys = {share.policy.pk: premium_key(payment.pk, share.policy.pk if split else None) for share in shares}
    # One read for all: what is posted already, and whether the money was booked as not premium.
    done = set(
        JournalTransaction.objects.filter(key__in=[*keys.values(), receipt_key(payment.pk)]).values_list(
            "key", flat=True
        )
    )
    if receipt_key(payment.pk) in done:
        return []
    on = _local_date(payment.paid_at)
    posted = []
    for share in shares:
        policy = share.policy
        if share.amount <= 0 or keys[policy.pk] in done or insurer_collects(policy, on):
            continue
        posted.append(
            ledger.post(
                keys[policy.pk],
                on=on,
                description=f"收到保费 {policy.number}",
                lines=[
                    ledger.debit(
                        accounts.cash(), share.amount, policy_id=policy.pk, memo=payment.merchant_ref
                    ),
                    ledger.credit(
                        accounts.premium_payable(policy.insurer), share.amount, policy_id=policy.pk
                    ),
                ],
                checked=True,
            )
        )
    return posted


def _due_at_checkout(policies: Sequence[Policy]) -> list[Decimal]:
    """What each policy's checkout paid: its first instalment when billed in instalments, else
    its premium."""
    first = dict(
        Instalment.objects.filter(
            schedule__reference_kind=POLICY_SCHEDULE_KIND,
            schedule__reference_id__in=[p.number for p in policies],
            number=1,
        ).values_list("schedule__reference_id", "amount")
    )
    return [first.get(p.number, p.premium) for p in policies]


def post_application_premium(payment: Payment, policies: Sequence[Policy]) -> list[JournalTransaction]:
    """An application's payment over its policies (one key per policy), split by what each
    policy's checkout amount was (one policy: all of it)."""
    policies = sorted(policies, key=lambda p: p.pk)
    parts = [payment.amount] if len(policies) == 1 else allocate(payment.amount, _due_at_checkout(policies))
    return _post_premium(payment, [Share(p, a) for p, a in zip(policies, parts, strict=True)], split=True)


def post_single_premium(payment: Payment, policy: Policy) -> list[JournalTransaction]:
    """A payment for one policy (a renewal, an endorsement's extra premium, instalments)."""
    return _post_premium(payment, [Share(policy, payment.amount)], split=False)


def _with_money(query: Iterable[Payment]) -> Payment | None:
    for payment in query:
        if payment.status in MONEY_IN:
            return payment
    return None


def post_issued_premium(payment_ref: str, issued: Sequence[Policy]) -> list[JournalTransaction]:
    """The premium of policies issued together (an application's, or a renewal) from the payment
    that paid for them (its merchant reference, as `policy.services.policies_issued` announced
    it). Booked by the issuance's booking job (`finance/booking.py`), after the issuing commit."""
    if not payment_ref or not issued:
        return []
    payment = _with_money(Payment.objects.filter(merchant_ref=payment_ref))
    if payment is None:
        return []
    if payment.reference_kind == APPLICATION_KIND:
        # An application's items are issued together, in one transaction: this batch is all of
        # its policies, and the payment is split over them.
        return post_application_premium(payment, issued)
    if len(issued) == 1:
        return post_single_premium(payment, issued[0])
    return []


def premium_payment_of(policy: Policy) -> Payment | None:
    """The payment that paid for an issued policy, when it can be told from finance's side:
    an application's (the first paid of those for its application), or a renewal's (its first
    instalment's checkout, else the offer the audit log says it renewed). None when the policy
    was paid otherwise (a channel collected it) or its payment never arrived."""
    if policy.application_public_id is not None:
        return _with_money(
            Payment.objects.filter(
                reference_kind=APPLICATION_KIND, reference_id=str(policy.application_public_id)
            ).order_by("paid_at", "pk")
        )
    if policy.renewed_from_id is None:
        return None
    checkout = (
        Instalment.objects.filter(
            schedule__reference_kind=POLICY_SCHEDULE_KIND, schedule__reference_id=policy.number, number=1
        )
        .exclude(payment_reference="")
        .values_list("payment_reference", flat=True)
        .first()
    )
    if checkout:
        return _with_money(Payment.objects.filter(merchant_ref=checkout))
    offer = (
        AuditEntry.objects.filter(action="renewal.offer_renewed", after__renewal=policy.number)
        .values_list("object_id", flat=True)
        .first()
    )
    if offer is None:
        return None
    return _with_money(
        Payment.objects.filter(reference_kind=RENEWAL_KIND, reference_id=offer).order_by("paid_at", "pk")
    )


def on_embedded_issued(event: EmbeddedIssued) -> None:
    """`embedded.services.embedded_issued`: the channel collected the premium of the policies it
    sold at its checkout. One transaction per batch (key `embedded:<batch_ref>`): Dr the
    channel's premium receivable, Cr each insurer's premium payable by its share — the batch is
    settled with the channel later, no payment per policy."""
    if not event.issued or event.premium_total <= 0:
        return
    channel = event.channel
    by_insurer: dict[int, tuple[Any, Decimal]] = {}
    for issued in event.issued:
        policy = issued.policy
        insurer, amount = by_insurer.get(policy.insurer_id, (policy.insurer, Decimal("0.00")))
        by_insurer[policy.insurer_id] = (insurer, amount + policy.premium)
    lines = [ledger.debit(accounts.premium_receivable(channel), event.premium_total, memo=event.batch_ref)]
    lines.extend(
        ledger.credit(accounts.premium_payable(insurer), amount, memo=event.batch_ref)
        for _, (insurer, amount) in sorted(by_insurer.items())
    )
    ledger.post(
        f"embedded:{event.batch_ref}",
        on=_local_date(event.issued[0].policy.issued_at),
        description=f"嵌入式销售保费 {event.batch_ref}（{event.policy_count}单）",
        lines=lines,
        checked=True,
    )


def on_endorsement_paid(payment: Payment) -> None:
    """Payment's paid hook for "endorsement" (after the policy app's, which applied the change
    or gave the money back in the same transaction)."""
    endorsement = (
        Endorsement.objects.select_related("policy__insurer", "policy__product_version__product")
        .filter(number=payment.reference_id)
        .first()
    )
    if endorsement is None or endorsement.status != EndorsementStatus.APPLIED:
        return
    post_single_premium(payment, endorsement.policy)


def _policy_by_number(number: str) -> Policy | None:
    return Policy.objects.select_related("insurer", "product_version__product").filter(number=number).first()


def on_instalment_paid(event: InstalmentEvent) -> None:
    """`billing.services.instalment_paid["policy"]`: an instalment collected (by mandate or at
    checkout); the payment is the instalment's `payment_reference`. A checkout paying several
    instalments is one payment, posted once."""
    instalment = (
        Instalment.objects.filter(schedule__public_id=event.schedule, number=event.number)
        .values_list("payment_reference", flat=True)
        .first()
    )
    if not instalment:
        return
    payment = _with_money(Payment.objects.filter(merchant_ref=instalment))
    policy = _policy_by_number(event.reference_id)
    if payment is None or policy is None or payment.reference_kind not in (INSTALMENT_KIND, CHECKOUT_KIND):
        return
    post_single_premium(payment, policy)


# --- refunds --------------------------------------------------------------------------------------


def _premium_lines(payment_id: int) -> list[JournalLine]:
    """The premium-payable credits the payment's premium postings made (not reversed ones)."""
    base = premium_key(payment_id)
    return list(
        JournalLine.objects.filter(
            Q(transaction__key=base) | Q(transaction__key__startswith=base + ":"),
            transaction__reversed_by__isnull=True,
            credit__gt=0,
        )
        .select_related("account", "policy__insurer")
        .order_by("id")
    )


def _policies_of(payment: Payment) -> list[Policy]:
    """The policies a payment paid for, when it can be told without the sibling apps."""
    related = Policy.objects.select_related("insurer", "product_version__product")
    if payment.reference_kind == APPLICATION_KIND:
        return list(related.filter(application_public_id=payment.reference_id))
    if payment.reference_kind == ENDORSEMENT_KIND:
        return list(related.filter(endorsements__number=payment.reference_id))
    return []


def post_refund(
    refund: Refund, payment: Payment, *, policy_id: int | None = None
) -> JournalTransaction | None:
    """A succeeded refund. Against the premium the payment booked (the policy it is for when
    known, else spread over the payment's policies in proportion to their premium); money that
    was never premium goes out through refunds payable; nothing when the insurer collected."""
    if refund.status != RefundStatus.SUCCEEDED:
        return None
    on = _local_date(refund.created_at)
    key = refund_key(refund.pk)
    premium = _premium_lines(payment.pk)
    if premium:
        chosen = [line for line in premium if line.policy_id == policy_id] if policy_id else []
        targets = chosen or premium
        parts = allocate(refund.amount, [line.credit for line in targets])
        lines: list[ledger.Line] = []
        for line, part in zip(targets, parts, strict=True):
            if part <= 0:
                continue
            ref = accounts.premium_payable(line.policy.insurer) if line.policy else None
            if ref is None:
                continue
            lines.append(ledger.debit(ref, part, policy_id=line.policy_id, memo=payment.merchant_ref))
            lines.append(ledger.credit(accounts.cash(), part, policy_id=line.policy_id))
        return ledger.post(key, on=on, description=f"退还保费 {payment.merchant_ref}", lines=lines)
    policies = _policies_of(payment)
    if policies and all(insurer_collects(p, _local_date(payment.paid_at)) for p in policies):
        return None
    # Money that arrived but was not premium (refused, late, duplicate, no longer issuable):
    # in through refunds payable once, out through it per refund.
    ledger.post(
        receipt_key(payment.pk),
        on=_local_date(payment.paid_at or refund.created_at),
        description=f"收到待退款项 {payment.merchant_ref}",
        lines=[
            ledger.debit(accounts.cash(), payment.amount, memo=payment.merchant_ref),
            ledger.credit(accounts.refunds_payable(), payment.amount, memo=payment.merchant_ref),
        ],
    )
    return ledger.post(
        key,
        on=on,
        description=f"退款 {payment.merchant_ref}",
        lines=[
            ledger.debit(accounts.refunds_payable(), refund.amount, memo=payment.merchant_ref),
            ledger.credit(accounts.cash(), refund.amount, memo=payment.merchant_ref),
        ],
    )


def on_refund_succeeded(event: RefundSucceeded) -> None:
    """`payment.services.refund_succeeded` (every premium kind)."""
    post_refund(event.refund, event.payment, policy_id=event.policy_id)


# --- backfill -------------------------------------------------------------------------------------


@dataclass
class Backfill:
    payments: int = 0
    premium: int = 0
    refunds: int = 0


def _policy_of_billing_payment(payment: Payment) -> Policy | None:
    if payment.reference_kind == INSTALMENT_KIND:
        number = (
            Collection.objects.filter(out_trade_no=payment.merchant_ref, status=CollectionStatus.SUCCEEDED)
            .values_list("instalment__schedule__reference_id", flat=True)
            .first()
        )
    else:
        number = (
            Instalment.objects.filter(
                payment_reference=payment.merchant_ref, schedule__reference_kind=POLICY_SCHEDULE_KIND
            )
            .values_list("schedule__reference_id", flat=True)
            .first()
        )
    return _policy_by_number(number) if number else None


def backfill_payment(payment: Payment) -> int:
    """Posts the premium of one paid payment, if missing; returns the transactions written."""
    before = JournalTransaction.objects.count()
    kind = payment.reference_kind
    if kind == APPLICATION_KIND:
        policies = _policies_of(payment)
        if policies:
            post_application_premium(payment, policies)
    elif kind == ENDORSEMENT_KIND:
        on_endorsement_paid(payment)
    elif kind in (INSTALMENT_KIND, CHECKOUT_KIND):
        policy = _policy_of_billing_payment(payment)
        if policy is not None:
            post_single_premium(payment, policy)
    elif kind == RENEWAL_KIND:
        policy = renewal_policy(payment)
        if policy is not None:
            post_single_premium(payment, policy)
    return JournalTransaction.objects.count() - before


def renewal_policy(payment: Payment) -> Policy | None:
    """The renewal a renewal payment paid for: its first instalment when billed in instalments
    (billing records the checkout's merchant reference), else the policy issued from the offer
    as the audit log recorded it (`renewal.offer_renewed`, after: {"renewal": number})."""
    number = (
        Instalment.objects.filter(payment_reference=payment.merchant_ref, number=1)
        .values_list("schedule__reference_id", flat=True)
        .first()
    )
    if number is None:
        entry = (
            AuditEntry.objects.filter(action="renewal.offer_renewed", object_id=payment.reference_id)
            .values_list("after", flat=True)
            .first()
        )
        number = (entry or {}).get("renewal") if isinstance(entry, dict) else None
    return _policy_by_number(number) if number else None


def backfill(*, batch: int = 500) -> Backfill:
    """Posts every paid payment's premium and every succeeded refund that the ledger lacks
    (idempotent: run it as often as you like). Premium first, so refunds find it."""
    result = Backfill()
    paid = Payment.objects.filter(reference_kind__in=PREMIUM_KINDS, status__in=MONEY_IN).order_by("pk")
    last = 0
    while True:
        chunk = list(paid.filter(pk__gt=last)[:batch])
        if not chunk:
            break
        for payment in chunk:
            result.payments += 1
            result.premium += backfill_payment(payment)
        last = chunk[-1].pk
    refunds = Refund.objects.filter(status=RefundStatus.SUCCEEDED).select_related("payment").order_by("pk")
    posted = set(JournalTransaction.objects.filter(key__startswith="refund:").values_list("key", flat=True))
    for refund in refunds.iterator(chunk_size=batch):
        if refund_key(refund.pk) in posted:
            continue
        if post_refund(refund, refund.payment, policy_id=_cancelled_policy(refund)) is not None:
            result.refunds += 1
    return result


def _cancelled_policy(refund: Refund) -> int | None:
    """The policy a past refund was for, when a cancellation made it."""
    return (
        CancellationRefund.objects.filter(refund=refund)
        .values_list("cancellation__policy_id", flat=True)
        .first()
    )
