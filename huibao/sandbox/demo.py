"""The demo customer's policies (`manage.py load_demo_policies`, run by `setup_demo`): five
policies of the demo market, each at a point of a policy's life someone trying the platform
wants to see — dates relative to today.

Each is bought as a customer buys: a rating quote, the application walked through its own
use-cases (data, real-name check, underwriting, terms, reading every document and key clause,
a handwritten signature), the payment opened at the sandbox gateway and paid there by the
customer, the gateway's signed notification handled by the platform in process. The policy is
issued by the application's issuance at the date of its story (`issue_paid_as_of`: the paid
hook is held while the gateway confirms, as when it did not run and recovery issues), so its
e-policy, insurer delivery, premium schedule and audit entries are the platform's own. Then the
daily jobs run for each day from five days ago to today and move each policy as the scheduler
would have: into force, into grace after an unpaid instalment, a renewal offer thirty days
before expiry, expiry.

It lives in the sandbox: only here may a demo pay at the sandbox gateway, and the sandbox may
know every app. Idempotent: a customer who has policies gets none more.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from huibao.account.models import User
from huibao.application.models import Application
from huibao.application.rules import ApplicantInput, ApplicationData, InsuredInput
from huibao.application.selectors import REFERENCE_KIND, key_clauses, required_documents
from huibao.application.services.confirm import agree_terms, confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import confirm_clause, finish_reading, open_document, show_clause
from huibao.application.services.identity import verify_identity
from huibao.application.services.pay import issue_paid_as_of, on_payment_confirmed, pay
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.catalog.models import LineOfBusiness, Product, ProductStatus
from huibao.core.validators import id_check_digit
from huibao.distribution.demo import DEMO_AGENT_CODE
from huibao.distribution.selectors import seller_by_code
from huibao.jobs import services as jobs
from huibao.jobs.registry import JobContext, registered_jobs
from huibao.jobs.states import JobRunStatus
from huibao.payment.models import Payment
from huibao.payment.services import payment_paid
from huibao.policy.models import Policy
from huibao.policy.states import PolicyStatus
from huibao.rating.services import create_quote
from huibao.renewal.models import RenewalOffer
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox_payment

DEMO_CARD = "4242424242424242"  # a card the sandbox gateway pays with (Luhn-valid)
TZ_HOUR = 10  # the stories' purchases happen at 10:00 local time
# The daily jobs run for this many days back, then catch up to today.
JOBS_FROM_DAYS_AGO = 5


@dataclass(frozen=True, slots=True)
class Person:
    relation: str
    name: str
    birth: datetime.date
    male: bool


@dataclass(frozen=True, slots=True)
class Story:
    key: str
    mode: str  # payment mode
    paid_on: Callable[[datetime.date], datetime.date]  # from today
    insured: str  # relation
    what: str  # what the policy shows, for the printed log-ins
    wants: Callable[[Any], bool]  # which product versions suit it


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _cooling_off(version: Any) -> bool:
    return int(version.cooling_off_days or 0) >= 10


def _monthly(version: Any) -> bool:
    return "monthly" in (version.payment_modes or [])


def _renewable(version: Any) -> bool:
    return bool((version.renewal or {}).get("renewable"))


STORIES: tuple[Story, ...] = (
    Story(
        "in_force",
        "annual",
        lambda today: today - datetime.timedelta(days=120),
        "self",
        "年缴医疗险，保障中且已过等待期：可以报案理赔、变更联系方式、退保（按未到期保费退还）",
        lambda v: not _cooling_off(v),
    ),
    Story(
        "in_grace",
        "monthly",
        lambda today: today - datetime.timedelta(days=45),
        "spouse",
        "月缴医疗险，第2期保费逾期未缴、处于宽限期：可以立即缴费、开通自动扣款",
        _monthly,
    ),
    Story(
        "cooling_off",
        "annual",
        lambda today: today - datetime.timedelta(days=3),
        "child",
        "犹豫期内的医疗险：可以全额退保",
        _cooling_off,
    ),
    Story(
        "renewal_offer",
        "annual",
        # expires 25 days from today: the offer was made 30 days before, five days ago
        lambda today: _years_before(today + datetime.timedelta(days=25), 1) - datetime.timedelta(days=1),
        "self",
        "25天后到期的医疗险，续保报价已发出：可以续保",
        _renewable,
    ),
    Story(
        "expired",
        "annual",
        lambda today: _years_before(today - datetime.timedelta(days=35), 1) - datetime.timedelta(days=1),
        "spouse",
        "已到期的医疗险：可以查看保单历史与电子保单",
        lambda v: True,
    ),
)


def _resident_id(birth: datetime.date, *, male: bool, serial: int) -> str:
    first17 = f"110105{birth:%Y%m%d}{serial * 2 + (1 if male else 0):03d}"
    return first17 + id_check_digit(first17)


def _people(today: datetime.date) -> dict[str, Person]:
    return {
        "self": Person("self", "张明远", _years_before(today, 36) - datetime.timedelta(days=40), True),
        "spouse": Person("spouse", "李晓雯", _years_before(today, 34) - datetime.timedelta(days=90), False),
        "child": Person("child", "张小宇", _years_before(today, 6) - datetime.timedelta(days=20), True),
    }


def _age(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- a handwritten signature, stroke by stroke -------------------------------------------------------


def _line(x0: float, y0: float, x1: float, y1: float, t: float) -> tuple[list[list[float]], float]:
    steps = max(2, int(max(abs(x1 - x0), abs(y1 - y0)) / 4))
    points = []
    for k in range(steps + 1):
        points.append([round(x0 + (x1 - x0) * k / steps, 1), round(y0 + (y1 - y0) * k / steps, 1), round(t)])
        t += 16
    return points, t + 180


def signature_ink(name: str, *, size: float = 60.0) -> dict[str, Any]:
    """The signature pad's JSON for `name`: one block-lettered character per name character,
    side by side, as the pad records a careful hand (the handwriting check counts them)."""
    strokes: list[list[list[float]]] = []
    t = 0.0
    width = int(20 + len(name) * size * 1.3)
    for i, _ch in enumerate(name):
        left, top = 10 + i * size * 1.3, 20.0
        w, h = size * 0.85, size
        for x0, y0, x1, y1 in (
            (0.1, 0.1, 0.1, 0.9),
            (0.1, 0.1, 0.9, 0.1),
            (0.9, 0.1, 0.9, 0.9),
            (0.1, 0.5, 0.9, 0.5),
            (0.1, 0.9, 0.9, 0.9),
            (0.5, 0.1, 0.5, 0.9),
        ):
            points, t = _line(left + x0 * w, top + y0 * h, left + x1 * w, top + y1 * h, t)
            strokes.append(points)
        t += 400
    return {"width": width, "height": int(size + 40), "strokes": strokes}


# --- the gateway's notification, handled in process -------------------------------------------------


def _in_process(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """The sandbox gateway's POST to the platform, handed to the platform's own URL in this
    process (no server runs while the demo is set up)."""
    from urllib.parse import urlparse

    from django.test import Client

    response = Client().generic(
        "POST",
        urlparse(url).path,
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k.lower() != "content-type"},
    )
    return response.status_code, response.content.decode()


@contextmanager
def _issuance_held() -> Iterator[None]:
    """While the gateway confirms a story's payment, the application's paid hook is held: the
    story's policy is issued at its own date (`issue_paid_as_of`), not today."""
    payment_paid.unregister(REFERENCE_KIND, on_payment_confirmed)
    try:
        yield
    finally:
        payment_paid.register(REFERENCE_KIND, on_payment_confirmed)


# --- one purchase --------------------------------------------------------------------------------


def _read_everything(app: Application, user: User, later: datetime.datetime) -> None:
    for doc in required_documents(app):
        open_document(app, doc.pk, user=user)
        finish_reading(app, doc.pk, scrolled_to_end=True, user=user, now=later)
    for doc, clause in key_clauses(app):
        show_clause(app, doc.pk, clause["code"], user=user)
        confirm_clause(app, doc.pk, clause["code"], user=user, now=later)


def _buy(
    user: User,
    product: Product,
    story: Story,
    people: dict[str, Person],
    holder_id: str,
    today: datetime.date,
    *,
    term: str = "1y",
    subject: dict[str, str] | None = None,
    paid_at: datetime.datetime | None = None,
    seller_code: str | None = DEMO_AGENT_CODE,
) -> Policy:
    """Buys `product` for `user` as the story tells (`term`, the policy's `subject` — a flight
    number —, `paid_at` instead of the story's day at 10:00 for a policy bought just now, and
    `seller_code` None for a purchase of the customer's own, sold by no agent)."""
    holder = people["self"]
    insured = people[story.insured]
    version = product.current_version
    assert version is not None
    paid_on = story.paid_on(today)
    plan = version.plans.order_by("sort_order", "id").first()
    assert plan is not None
    quote = create_quote(
        product_code=product.code,
        plan_code=plan.code,
        inputs={"age": _age(insured.birth, today), "term": term, "payment_mode": story.mode},
        user=user,
    )
    # Sold by the demo agent (load_demo_distribution), when the hierarchy is loaded.
    seller = seller_by_code(seller_code) if seller_code else None
    app = start_application(quote_ids=[quote.pk], user=user, seller=seller)
    insured_id = (
        holder_id
        if story.insured == "self"
        else _resident_id(insured.birth, male=insured.male, serial=len(story.key) + 10)
    )
    questions = [q["code"] for q in (version.eligibility or {}).get("health_questions") or []]
    save_data(
        app,
        ApplicationData(
            applicant=ApplicantInput(
                name=holder.name,
                id_number=holder_id,
                phone=user.phone,
                email="demo@huibao.example",
                address="北京市朝阳区建国路88号",
                occupation="工程师",
            ),
            insured=[
                InsuredInput(
                    relation=story.insured,
                    name="" if story.insured == "self" else insured.name,
                    id_number="" if story.insured == "self" else insured_id,
                    occupation="学生" if story.insured == "child" else "职员",
                    occupation_class=1,
                    health_answers=dict.fromkeys(questions, False),
                )
            ],
            subject=subject or {},
        ),
        actor=user,
    )
    verify_identity(app, name=holder.name, id_number=holder_id, user=user)
    app = confirm(app, user=user)
    if app.terms_agreed_at is None:
        agree_terms(app, user=user)
    _read_everything(app, user, timezone.now() + datetime.timedelta(hours=1))
    # A confirmation-signed product takes the tick; the ink is ignored then (and the reverse).
    app = sign(app, user=user, ink=signature_ink(holder.name), confirmed=True)
    payment = pay(app, user=user)
    with _issuance_held():
        sandbox_payment.submit_payment(
            payment.provider_txn_id,
            payer_name=holder.name,
            id_number=holder_id,
            card_number=DEMO_CARD,
            action="pay",
        )
        notifications.deliver(sandbox_payment.CHANNEL.name, payment.provider_txn_id, post=_in_process)
    payment = Payment.objects.get(pk=payment.pk)
    paid_at = paid_at or timezone.make_aware(datetime.datetime.combine(paid_on, datetime.time(TZ_HOUR)))
    issue_paid_as_of(app, payment, paid_at=paid_at, now=paid_at + datetime.timedelta(minutes=2))
    return Policy.objects.get(application=app)


def _products(story: Story, taken: set[int]) -> Product:
    """The first medical product on sale (by code) that suits the story, signed by hand or by
    confirmation, without a face check, not used by another story."""
    candidates = (
        Product.objects.filter(line=LineOfBusiness.MEDICAL, status=ProductStatus.ON_SALE)
        .filter(~Q(pk__in=taken), current_version__isnull=False)
        .select_related("current_version")
        .order_by("code")
    )
    for product in candidates:
        version = product.current_version
        assert version is not None  # filtered above
        rules = version.application_rules or {}
        eligibility = version.eligibility or {}
        if (
            rules.get("face_check")
            or story.insured not in (rules.get("insured_relations") or ["self"])
            or int(eligibility.get("min_age_days") or 0) > 365 * 5
            or int(eligibility.get("max_age") or 0) < 40
            or eligibility.get("regions")
            or not story.wants(version)
        ):
            continue
        return product
    raise LookupError(f"no demo medical product for the story '{story.key}'")


@dataclass(frozen=True, slots=True)
class DemoPolicy:
    number: str
    product_name: str
    status: str
    status_label: str
    what: str


def describe(policy: Policy) -> DemoPolicy:
    what = next((s.what for s in STORIES if s.key == _story_of(policy)), "")
    return DemoPolicy(
        policy.number,
        policy.product_version.product.name,
        policy.status,
        str(PolicyStatus(policy.status).label),
        what,
    )


def _story_of(policy: Policy) -> str:
    today = timezone.localdate()
    if policy.status == PolicyStatus.EXPIRED:
        return "expired"
    if policy.status == PolicyStatus.IN_GRACE:
        return "in_grace"
    if policy.cooling_off_until is not None and policy.cooling_off_until >= today:
        return "cooling_off"
    if RenewalOffer.objects.filter(policy=policy).exists():
        return "renewal_offer"
    return "in_force"


def demo_policies(user: User) -> list[DemoPolicy]:
    """What each of the customer's policies shows, in the order of the stories."""
    policies = Policy.objects.filter(customer=user).select_related("product_version__product")
    order = {story.key: i for i, story in enumerate(STORIES)}
    return [
        describe(p)
        for p in sorted(policies.order_by("issued_at", "id"), key=lambda p: order.get(_story_of(p), 99))
    ]


def load_demo_policies(user: User, *, today: datetime.date | None = None) -> list[DemoPolicy]:
    """Buys the five policies of the stories for `user` (none when they have policies already),
    then runs the daily jobs from five days ago to today; returns what each shows."""
    today = today or timezone.localdate()
    if Policy.objects.filter(customer=user).exists():
        return demo_policies(user)
    people = _people(today)
    holder = people["self"]
    holder_id = _resident_id(holder.birth, male=holder.male, serial=1)
    taken: set[int] = set()
    for story in STORIES:
        try:
            product = _products(story, taken)
        except LookupError:
            # a market too small for this story (`load_demo --products 10`): the others still
            continue
        taken.add(product.pk)
        _buy(user, product, story, people, holder_id, today)
    _run_days(today - datetime.timedelta(days=JOBS_FROM_DAYS_AGO), today)
    return demo_policies(user)


def _run_days(start: datetime.date, today: datetime.date) -> None:
    """The daily jobs of every day from `start` to `today`, in order, through the jobs' runner.
    A day the scheduler already ran (a database kept from an earlier demo) is run again for the
    new policies by calling the job itself: the runner would skip it, and every job is
    idempotent for its date."""
    runner = jobs.Runner()
    day = start
    while day <= today:
        for job in registered_jobs():
            outcome = runner.run_job(job, day)
            if outcome.status == "skipped":
                job.fn(JobContext(job=job.name, run_date=day, cursor=None, _save=_ignore, _progress=_ignore))
            elif outcome.status != JobRunStatus.SUCCEEDED:
                raise RuntimeError(f"daily job {job.name} for {day}: {outcome.status} {outcome.error}")
        day += datetime.timedelta(days=1)


def _ignore(*args: Any) -> None:
    return None
