"""Demo claims (`manage.py load_demo_claims`, run by `setup_demo` after the demo policies): the
adjusters' desk and the fraud analysts' queue with a claim in each state, and a flight-delay
policy whose flight the sandbox flight feed page can delay.

Every claim is reported, given its materials and submitted through the claim app's own
use-cases, so the fraud screen and the fast track decide them as they would any claim:

- a second demo customer (`RISK_PHONE`), with a medical policy of an insurer whose claims are
  decided on Huibao (back-office mode), in force past its waiting period: a small claim
  fast-tracked and paid (the sandbox bank's signed result handled in process), one in fraud
  review (its invoice number repeats the paid claim's), one blocked (the same invoice file and
  number: a case opened, nothing payable until it is closed) and one on hold (a clean claim
  waiting for the two open cases of the same person). Kept apart from the demo customer, whose
  own new claims must never be held by the demo's cases;
- the demo customer (13800138000): a flight-delay policy for flight `DEMO_FLIGHT` today, with a
  card kept for automatic benefits — "delay" it at /sandbox/flight-feed/.

It lives in the sandbox: it buys at the sandbox gateway and pays at the sandbox bank. Idempotent:
once the second demo customer has claims, nothing more is made.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from PIL import Image

from huibao.account import consent
from huibao.account.demo import DEMO_CUSTOMER_PHONE, DEMO_PASSWORD
from huibao.account.models import User, UserKind
from huibao.account.selectors import customer_by_phone
from huibao.account.services import customer_username
from huibao.catalog.models import LineOfBusiness, Product, ProductStatus
from huibao.claim.insurer import terms_for as insurer_terms_for
from huibao.claim.models import Claim, PayoutAccount
from huibao.claim.selectors import terms_of
from huibao.claim.services import ReportInput, report_claim, submit_claim, upload_material
from huibao.claim.states import ClaimStatus
from huibao.payment import payouts
from huibao.payment.models import Payout
from huibao.policy.lifecycle import Reason, lock_policy, transition
from huibao.policy.models import Policy
from huibao.policy.states import PolicyStatus
from huibao.sandbox import demo, notifications
from huibao.sandbox import payout as sandbox_payout

RISK_PHONE = "13800138001"
DEMO_FLIGHT = "MU5101"
DEMO_CARD = "6222020200112345679"  # Luhn-valid; the sandbox bank pays it
REPEATED_INVOICE = "DEMO-FP-0001"
FLIGHT_STORY = demo.Story(
    "flight",
    "single",
    lambda today: today,
    "self",
    f"今日航班 {DEMO_FLIGHT} 的航班延误险：在沙箱航班动态页把它设为延误，即自动赔付",
    lambda v: True,
)


@dataclass(frozen=True, slots=True)
class DemoClaim:
    number: str
    status: str
    what: str


def _image(seed: str) -> bytes:
    """A small JPEG of its own (the bytes differ per `seed`: no accidental duplicate file)."""
    out = io.BytesIO()
    shade = sum(seed.encode()) % 200
    Image.new("RGB", (16, 16), (shade, 120, 200 - shade)).save(out, "JPEG")
    return out.getvalue() + seed.encode()


def _scan(seed: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), "white").save(out, "PDF")
    return out.getvalue() + f"% {seed}\n".encode()


def _report(
    user: User,
    policy: Policy,
    *,
    payee: str,
    days_ago: int,
    amount: str,
    invoice_number: str,
    invoice_file: bytes | None = None,
) -> Claim:
    # Charged to the coverage without a deductible when the plan has one (重疾医疗: an 百万医疗
    # plan's general cover has a ¥10,000 yearly deductible a small claim never passes).
    codes = tuple(c.code for c in terms_of(policy).coverages)
    coverage_codes = ("critical_medical",) if "critical_medical" in codes else ()
    """Reports a medical claim, uploads every material it asks for and submits it (the screen and
    the fast track run in the submit, as for any customer)."""
    claim = report_claim(
        user,
        ReportInput(
            policy_id=str(policy.public_id),
            claim_type="medical",
            incident_date=timezone.localdate() - datetime.timedelta(days=days_ago),
            region_code="110105",
            place="北京市朝阳医院",
            description="恶性肿瘤术后门诊复查及化疗" if coverage_codes else "急性肠胃炎门诊治疗",
            amount_claimed=Decimal(amount),
            payee_name=payee,
            payee_account=DEMO_CARD,
            coverage_codes=coverage_codes,
        ),
    )
    for kind in claim.required_materials:
        seed = f"{claim.number}-{kind}"
        if kind == "invoice":
            body = invoice_file if invoice_file is not None else _scan(seed)
            upload_material(
                user, claim.public_id, kind=kind, file=io.BytesIO(body), invoice_number=invoice_number
            )
        else:
            upload_material(user, claim.public_id, kind=kind, file=io.BytesIO(_image(seed)))
    return submit_claim(user, claim.public_id)


def _paid_by_the_bank(claim: Claim) -> None:
    """The payout submitted to the sandbox bank and its signed success handled in process."""
    payout = Payout.objects.filter(kind="claim", reference=claim.number).first()
    if payout is None:
        return
    payouts.submit_payout(payout.pk)
    payout.refresh_from_db()
    if payout.provider_trade_no:
        notifications.deliver(sandbox_payout.CHANNEL.name, payout.provider_trade_no, post=demo._in_process)


def _risk_customer() -> User:
    user = customer_by_phone(RISK_PHONE)
    if user is None:
        user = User(
            username=customer_username(RISK_PHONE), kind=UserKind.CUSTOMER, display_name="演示客户（风控）"
        )
        user.set_phone(RISK_PHONE)
        user.set_password(DEMO_PASSWORD)
        user.save()
        consent.record_current(user)  # as at sign-up
    return user


def _into_force(policy: Policy) -> Policy:
    """What the daily status sweep does for a policy whose start has passed."""
    if policy.status == PolicyStatus.IN_FORCE:
        return policy
    with transaction.atomic():
        locked = lock_policy(policy.pk)
        if locked.status != PolicyStatus.IN_FORCE:
            transition(
                locked, PolicyStatus.IN_FORCE, reason=Reason.START, actor="system", at=locked.effective_at
            )
    policy.refresh_from_db()
    return policy


def _back_office_medical() -> Product | None:
    """The first medical product (by code) the in-force story can buy whose insurer decides its
    claims on Huibao (the fast track decides only those)."""
    story = demo.STORIES[0]
    taken: set[int] = set()
    while True:
        try:
            product = demo._products(story, taken)
        except LookupError:
            return None
        if not insurer_terms_for(product.insurer_id).by_connector:
            return product
        taken.add(product.pk)


def _flight_product() -> Product | None:
    for product in (
        Product.objects.filter(line=LineOfBusiness.FLIGHT_DELAY, status=ProductStatus.ON_SALE)
        .filter(current_version__isnull=False)
        .select_related("current_version")
        .order_by("code")
    ):
        version = product.current_version
        assert version is not None
        rules = version.application_rules or {}
        if not rules.get("face_check") and (version.claims or {}).get("trigger"):
            return product
    return None


def _what(claim: Claim) -> str:
    label = str(ClaimStatus(claim.status).label)
    return {
        ClaimStatus.PAID: f"{label}：小额快赔，系统自动审核并赔付",
        ClaimStatus.ON_HOLD: f"{label}：同一人另有风控案件未结，暂缓（/fraud/holds/）",
    }.get(ClaimStatus(claim.status), label)


def demo_claims() -> list[DemoClaim]:
    rows = (
        Claim.objects.filter(claimant=customer_by_phone(RISK_PHONE))
        .select_related("triage")
        .order_by("reported_at", "id")
    )
    out = []
    for claim in rows:
        what = _what(claim)
        route = getattr(getattr(claim, "triage", None), "route", "")
        if route == "review":
            what += "：发票号与他案重复，风控人工复核中（/fraud/）"
        elif route == "block":
            what += "：发票文件与号码均与他案重复，风控拦截并立案，结案前不能赔付（/fraud/）"
        out.append(DemoClaim(claim.number, claim.status, what))
    return out


def load_demo_claims(*, today: datetime.date | None = None) -> list[DemoClaim]:
    """The demo claims and the demo flight policy (nothing more once they exist)."""
    today = today or timezone.localdate()
    user = customer_by_phone(DEMO_CUSTOMER_PHONE)
    other = _risk_customer()
    if Claim.objects.filter(claimant=other).exists():
        return demo_claims()
    product = _back_office_medical()
    if product is not None:
        person = demo.Person(
            "self", "王建国", demo._years_before(today, 41) - datetime.timedelta(days=75), True
        )
        holder_id = demo._resident_id(person.birth, male=True, serial=7)
        policy = _into_force(demo._buy(other, product, demo.STORIES[0], {"self": person}, holder_id, today))
        # 1. small and clean: fast-tracked, then paid by the sandbox bank
        invoice_file = _scan("demo-paid-invoice")
        paid = _report(
            other,
            policy,
            payee=person.name,
            days_ago=20,
            amount="860.00",
            invoice_number=REPEATED_INVOICE,
            invoice_file=invoice_file,
        )
        _paid_by_the_bank(paid)
        # 2. the invoice number again: review; 3. the same file and number: block (a case opened);
        # 4. a clean one while the two cases are open: on hold
        _report(
            other, policy, payee=person.name, days_ago=15, amount="1200.00", invoice_number=REPEATED_INVOICE
        )
        _report(
            other,
            policy,
            payee=person.name,
            days_ago=10,
            amount="1500.00",
            invoice_number=REPEATED_INVOICE,
            invoice_file=invoice_file,
        )
        _report(other, policy, payee=person.name, days_ago=5, amount="680.00", invoice_number="DEMO-FP-0002")
    flight = _flight_product()
    if user is not None and flight is not None:
        # The demo customer's flight-delay policy for today's flight, and a card for its payout.
        holder = demo._people(today)["self"]
        demo._buy(
            user,
            flight,
            FLIGHT_STORY,
            demo._people(today),
            demo._resident_id(holder.birth, male=holder.male, serial=1),
            today,
            term="flight",
            subject={"flight_number": DEMO_FLIGHT},
            paid_at=timezone.now() - datetime.timedelta(minutes=10),
            seller_code=None,  # bought by the customer on the site (the demo agent sells health)
        )
        PayoutAccount.objects.update_or_create(
            user=user,
            defaults={
                "payee_name": holder.name,
                "account_number": DEMO_CARD,
                "account_last4": DEMO_CARD[-4:],
            },
        )
    return demo_claims()
