"""The application journey: the next step and what blocks it, computed here only.

The API's state answer (`next_step`), the pages (`web.flow.next_url`) and the use-cases
(`confirm` refuses with `missing_for_confirmation`, `sign` with `missing_before_signing`) all
ask this module, so they agree on the order:

- draft: fill in the data → verify the applicant's identity → confirm;
- referred: wait for the underwriter;
- accepted: agree to the terms → read the documents → confirm the key clauses one by one →
  identity still current → face check when required → sign;
- signed: pay; awaiting payment: complete the open payment, or wait for issuance once paid, or
  pay again once the payment ended unpaid;
- issued: done; declined, expired, cancelled: the status itself.

A `Journey` reads each fact once, and only when a check needs it; the caller hands over what it
already loaded in the request (items, persons, disclosure progress, payment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from huibao.application.models import Application, ApplicationItem, InsuredPerson
from huibao.application.selectors import (
    data_digest,
    declined_items,
    disclosure_progress,
    identity_is_current,
    items_of,
)
from huibao.application.states import ApplicationStatus
from huibao.catalog.models import Document
from huibao.core.errors import FieldError
from huibao.payment import selectors as payments
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus

S = ApplicationStatus

FILL_DATA = "fill_data"
VERIFY_IDENTITY = "verify_identity"
CONFIRM = "confirm"
WAIT_UNDERWRITING = "wait_underwriting"
AGREE_TERMS = "agree_terms"
READ_DOCUMENTS = "read_documents"
CONFIRM_CLAUSES = "confirm_clauses"
FACE_CHECK = "face_check"
SIGN = "sign"
PAY = "pay"
COMPLETE_PAYMENT = "complete_payment"
WAIT_ISSUE = "wait_issue"
DONE = "done"

_UNREAD = object()


@dataclass(frozen=True, slots=True)
class Check:
    """One condition before a step: `step` is where the customer goes to meet it (None: no page
    of its own, e.g. a product the underwriting declined, left to the signing page to explain)."""

    step: str | None
    problems: Callable[[Journey], list[FieldError]]


class Journey:
    """One application's position in the journey. `items` (position order, with their product
    versions), `persons` (position order, beneficiaries prefetched), `progress`
    (`disclosure_progress`) and `payment` (the application's current payment, or None), when the
    caller loaded them in this request, save reading them again; they must be current. `signed`:
    every required signature is there (then an accepted application's next step is to pay)."""

    def __init__(
        self,
        app: Application,
        *,
        items: Sequence[ApplicationItem] | None = None,
        persons: Sequence[InsuredPerson] | None = None,
        progress: dict[str, Any] | None = None,
        payment: Payment | object | None = _UNREAD,
        signed: bool = False,
    ) -> None:
        self.app = app
        self._items = items
        self._persons = persons
        self._progress = progress
        self._payment = payment
        self.signed = signed

    @cached_property
    def items(self) -> Sequence[ApplicationItem]:
        return self._items if self._items is not None else items_of(self.app)

    @cached_property
    def progress(self) -> dict[str, Any]:
        if self._progress is not None:
            return self._progress
        # The items if already read (a check needed them), else the light read of their versions.
        return disclosure_progress(self.app, items=self.__dict__.get("items", self._items))

    @cached_property
    def identity_ok(self) -> bool:
        return identity_is_current(self.app)

    @cached_property
    def payment(self) -> Payment | None:
        if isinstance(self._payment, Payment) or self._payment is None:
            return self._payment
        app = self.app
        return Payment.objects.filter(pk=app.payment_id).first() if app.payment_id else None

    def blocking(self, checks: Sequence[Check]) -> list[FieldError]:
        """Every problem of `checks`, in their order."""
        return [problem for check in checks for problem in check.problems(self)]

    def first_step(self, checks: Sequence[Check], otherwise: str) -> str:
        """The step of the first check with a step of its own that is not met; `otherwise` when
        all are (checks without a step are not evaluated)."""
        for check in checks:
            if check.step is not None and check.problems(self):
                return check.step
        return otherwise

    def next_step(self) -> str:
        """What the customer must do next."""
        app = self.app
        if app.status == S.DRAFT:
            return self.first_step(BEFORE_CONFIRMING, CONFIRM)
        if app.status == S.REFERRED:
            return WAIT_UNDERWRITING
        if app.status == S.ACCEPTED:
            return self.first_step(BEFORE_SIGNING, PAY if self.signed else SIGN)
        if app.status == S.SIGNED:
            return PAY
        if app.status == S.AWAITING_PAYMENT:
            payment = self.payment
            if payment is not None and payment.status == PaymentStatus.SUCCEEDED:
                return WAIT_ISSUE
            if payment is not None and payments.is_open(payment):
                return COMPLETE_PAYMENT
            return PAY
        if app.status == S.ISSUED:
            return DONE
        return str(app.status)

    def first_unread(self) -> Document | None:
        unread = self.progress["unread"]
        return unread[0] if unread else None

    def first_unconfirmed(self) -> tuple[Document, dict[str, Any]] | None:
        unconfirmed = self.progress["unconfirmed"]
        return unconfirmed[0] if unconfirmed else None


# --- the checks, in the journey's order ------------------------------------------------------


def _data(j: Journey) -> list[FieldError]:
    errors = []
    if not j.app.applicant_name:
        errors.append(FieldError("applicant", "required", "请填写投保人信息"))
    if any(i.insured_id is None for i in j.items):
        errors.append(FieldError("insured", "required", "请填写被保险人信息"))
    return errors


def _identity_before_confirming(j: Journey) -> list[FieldError]:
    return [] if j.identity_ok else [FieldError("identity", "not_verified", "请先完成投保人实名认证")]


def _declined(j: Journey) -> list[FieldError]:
    return [
        FieldError(
            "items",
            "item_declined",
            f"“{item.product_version.product.name}”核保未通过（拒保），请选择不投保该产品继续投保，或撤销投保单",
        )
        for item in declined_items(j.items)
    ]


def _confirmed(j: Journey) -> list[FieldError]:
    app = j.app
    if app.is_confirmed and app.confirmed_digest == data_digest(app, items=j.items, persons=j._persons):
        return []
    return [FieldError("confirmation", "not_confirmed", "请先确认投保信息")]


def _terms(j: Journey) -> list[FieldError]:
    if j.app.terms_agreed_at is not None:
        return []
    return [FieldError("terms", "not_agreed", "请先确认核保结论（加费或除外责任）")]


def _documents(j: Journey) -> list[FieldError]:
    return [FieldError("documents", "unread", f"请先阅读《{doc.title}》") for doc in j.progress["unread"]]


def _clauses(j: Journey) -> list[FieldError]:
    return [
        FieldError("clauses", "unconfirmed", f"请逐条确认“{clause.get('title', '')}”")
        for _doc, clause in j.progress["unconfirmed"]
    ]


def _identity(j: Journey) -> list[FieldError]:
    return [] if j.identity_ok else [FieldError("identity", "not_verified", "请先完成实名认证")]


def _face(j: Journey) -> list[FieldError]:
    if j.app.face_required and j.app.face_passed_at is None:
        return [FieldError("face", "not_passed", "本次投保需要完成人脸识别")]
    return []


DATA_CHECKS: tuple[Check, ...] = (Check(FILL_DATA, _data),)
BEFORE_CONFIRMING: tuple[Check, ...] = (*DATA_CHECKS, Check(VERIFY_IDENTITY, _identity_before_confirming))
BEFORE_SIGNING: tuple[Check, ...] = (
    Check(None, _declined),
    Check(None, _confirmed),
    Check(AGREE_TERMS, _terms),
    Check(READ_DOCUMENTS, _documents),
    Check(CONFIRM_CLAUSES, _clauses),
    Check(VERIFY_IDENTITY, _identity),
    Check(FACE_CHECK, _face),
)


# --- what the use-cases refuse with ------------------------------------------------------------


def missing_data(app: Application, items: Sequence[ApplicationItem]) -> list[FieldError]:
    """What the data still lacks (the applicant, an item's insured person)."""
    return Journey(app, items=items).blocking(DATA_CHECKS)


def missing_for_confirmation(app: Application, items: Sequence[ApplicationItem]) -> list[FieldError]:
    """What stands before the customer may confirm the data."""
    return Journey(app, items=items).blocking(BEFORE_CONFIRMING)


def missing_before_signing(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    persons: Sequence[InsuredPerson] | None = None,
    progress: dict[str, Any] | None = None,
) -> list[FieldError]:
    """What still stands before signing. `items` / `persons` as for `data_digest`; `progress`
    (`disclosure_progress` of this request) saves reading the readings again."""
    if app.status != S.ACCEPTED:
        label = ApplicationStatus(app.status).label
        return [FieldError("status", "not_accepted", f"投保单当前状态为“{label}”，不能签名")]
    return Journey(app, items=items, persons=persons, progress=progress).blocking(BEFORE_SIGNING)
