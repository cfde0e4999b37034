"""Where a customer is in the application flow: the next page for each state, the progress bar,
and the state key a waiting page polls.

The server decides the order; a page asked for out of turn redirects to `next_url(app)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huibao.application import journey
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.identity.models import FaceCheck
from huibao.payment.models import Payment

S = ApplicationStatus

# The six steps of the progress bar: (code, label); the label in the page's language.
STEPS: tuple[tuple[str, Promise], ...] = (
    ("data", _("填写信息")),
    ("identity", _("实名认证")),
    ("review", _("确认信息")),
    ("read", _("阅读条款")),
    ("sign", _("签名")),
    ("pay", _("支付")),
)
# The progress step each page belongs to.
PAGE_STEP = {
    "data": "data",
    "identity": "identity",
    "review": "review",
    "outcome": "review",
    "terms": "review",
    "document": "read",
    "clause": "read",
    "face": "sign",
    "sign": "sign",
    "pay": "pay",
    "done": "pay",
}


# The page of each step of the journey (reading and clauses: the first document or clause left).
STEP_PAGES = {
    journey.FILL_DATA: "data",
    journey.VERIFY_IDENTITY: "identity",
    journey.CONFIRM: "review",
    journey.AGREE_TERMS: "terms",
    journey.FACE_CHECK: "face",
    journey.SIGN: "sign",
    journey.PAY: "pay",
    journey.COMPLETE_PAYMENT: "pay",
    journey.WAIT_ISSUE: "pay",
    journey.DONE: "done",
}


@dataclass(frozen=True, slots=True)
class ProgressStep:
    code: str
    label: Promise
    number: int
    state: str  # "done", "current" or "todo"


def progress(page: str, app: Application) -> list[ProgressStep]:
    current = PAGE_STEP.get(page, "data")
    index = next(i for i, (code, _label) in enumerate(STEPS) if code == current)
    finished = app.status == S.ISSUED
    return [
        ProgressStep(
            code=code,
            label=label,
            number=i + 1,
            state="done" if i < index or finished else ("current" if i == index else "todo"),
        )
        for i, (code, label) in enumerate(STEPS)
    ]


def url(name: str, app: Application, *args: object) -> str:
    return reverse(f"application:{name}", args=[app.public_id, *args])


def next_url(app: Application) -> str:
    """The page of the customer's next step (`journey.Journey.next_step`)."""
    position = journey.Journey(app)
    step = position.next_step()
    if step == journey.READ_DOCUMENTS:
        document = position.first_unread()
        assert document is not None
        return url("document", app, document.pk)
    if step == journey.VERIFY_IDENTITY and app.status != S.DRAFT:
        # The identity page verifies a draft's applicant; past it the signing page names the
        # problem (an accepted application's identity changes only with its data, back to draft).
        return url("sign", app)
    if step == journey.CONFIRM_CLAUSES:
        unconfirmed = position.first_unconfirmed()
        assert unconfirmed is not None
        doc, clause = unconfirmed
        return url("clause", app, doc.pk, clause["code"])
    return url(STEP_PAGES.get(step, "outcome"), app)  # referred, declined, expired, cancelled


def state_key(app: Application) -> str:
    """Changes whenever something a waiting page waits for happens (underwriting decision,
    payment result, face-check result, issuance)."""
    payment = (
        Payment.objects.filter(pk=app.payment_id).values_list("status", flat=True).first()
        if app.payment_id
        else None
    )
    face = (
        FaceCheck.objects.filter(pk=app.face_check_id).values_list("status", flat=True).first()
        if app.face_check_id
        else None
    )
    return f"{app.status}.{payment or '-'}.{face or '-'}.{int(app.face_passed_at is not None)}"
