"""Where a customer is in the application flow: the next page for each state, the progress bar,
and the state key a waiting page polls.

The server decides the order; a page asked for out of turn redirects to `next_url(app)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from huibao.application.models import Application
from huibao.application.selectors import (
    data_complete,
    disclosure_progress,
    identity_is_current,
    needs_terms_agreement,
)
from huibao.application.states import ApplicationStatus

S = ApplicationStatus

# The six steps of the progress bar: (code, label).
STEPS: tuple[tuple[str, str], ...] = (
    ("data", "填写信息"),
    ("identity", "实名认证"),
    ("review", "确认信息"),
    ("read", "阅读条款"),
    ("sign", "签名"),
    ("pay", "支付"),
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


@dataclass(frozen=True, slots=True)
class ProgressStep:
    code: str
    label: str
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
    """The page the customer should see now."""
    status = app.status
    if status == S.DRAFT:
        if not data_complete(app):
            return url("data", app)
        if not identity_is_current(app):
            return url("identity", app)
        return url("review", app)
    if status == S.ACCEPTED:
        if needs_terms_agreement(app):
            return url("terms", app)
        progress_ = disclosure_progress(app)
        if progress_["unread"]:
            return url("document", app, progress_["unread"][0].pk)
        if progress_["unconfirmed"]:
            doc, clause = progress_["unconfirmed"][0]
            return url("clause", app, doc.pk, clause["code"])
        if app.face_required and app.face_passed_at is None:
            return url("face", app)
        return url("sign", app)
    if status in (S.SIGNED, S.AWAITING_PAYMENT):
        return url("pay", app)
    if status == S.ISSUED:
        return url("done", app)
    return url("outcome", app)  # referred, declined, expired, cancelled


def state_key(app: Application) -> str:
    """Changes whenever something a waiting page waits for happens (underwriting decision,
    payment result, face-check result, issuance)."""
    from huibao.identity.models import FaceCheck
    from huibao.payment.models import Payment

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
