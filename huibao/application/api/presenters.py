"""The answers of the application API, built from the application and what the use-case that
returned it left loaded (`services.loaded`).

Outputs never carry a full ID number, phone number or health answer: those are masked here for
everyone, and names are masked for anyone but the customer who owns the application. The owner
gets their own data unmasked only from `GET /applications/{id}/data` (to fill the edit form).
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.application.journey import Journey
from huibao.application.models import Application
from huibao.application.premium import item_shown, total_shown
from huibao.application.rules import clause_identity, clause_min_read_seconds
from huibao.application.selectors import (
    current_payment,
    disclosure_progress,
    doc_key,
    identity_is_current,
    insured_persons,
    issued_policies,
    needs_terms_agreement,
    payment_mode_of,
    state_items,
)
from huibao.application.services._common import _is_owner
from huibao.application.services.loaded import take_loaded
from huibao.application.services.sign import required_signatures, signature_method
from huibao.application.states import ApplicationStatus, SignatureMethod, UnderwritingOutcome
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone
from huibao.identity.models import FaceCheck
from huibao.payment import rules as payment_rules
from huibao.payment import selectors as payments

NEXT_STEP_LABELS: dict[str, str] = {
    "fill_data": "请填写投保信息",
    "verify_identity": "请完成投保人实名认证",
    "confirm": "请核对并确认投保信息",
    "wait_underwriting": "人工核保中，请等待核保结论",
    "agree_terms": "请确认核保结论（加费或除外责任）",
    "read_documents": "请阅读投保文件",
    "confirm_clauses": "请逐条确认重要条款",
    "face_check": "请完成人脸识别",
    "sign": "请签署投保单",
    "pay": "请支付保费",
    "complete_payment": "请在支付页面完成支付",
    "wait_issue": "已支付，正在出单",
    "done": "已承保",
    "declined": "很抱歉，本次投保未通过核保",
    "expired": "投保单已失效，请重新投保",
    "cancelled": "投保单已撤销",
}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _seconds_left(min_seconds: int, opened_at: datetime.datetime | None, now: datetime.datetime) -> int:
    if opened_at is None:
        return int(min_seconds)
    return max(0, int(min_seconds - (now - opened_at).total_seconds() + 0.999))


def document_out(doc: Any, reading: Any, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    opened = reading.opened_at if reading is not None else None
    done = reading.completed_at if reading is not None else None
    return {
        "id": doc.pk,
        "kind": doc.kind,
        "title": doc.title,
        "min_read_seconds": doc.min_read_seconds,
        "content_sha256": doc.content_sha256,
        "state": "read" if done else ("reading" if opened else "unopened"),
        "opened_at": opened,
        "completed_at": done,
        "seconds_left": 0 if done else _seconds_left(doc.min_read_seconds, opened, now),
    }


def clause_out(
    doc: Any,
    clause: dict[str, Any],
    row: Any,
    *,
    twins: list[int] | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """A key clause and its state; `twins`: the other documents holding the same clause."""
    shown = row.shown_at if row is not None else None
    confirmed = row.confirmed_at if row is not None else None
    minimum = clause_min_read_seconds(clause)
    return {
        "document_id": doc.pk,
        "code": str(clause.get("code", "")),
        "kind": str(clause.get("kind", "")),
        "title": str(clause.get("title", "")),
        "text": str(clause.get("text", "")),
        "state": "confirmed" if confirmed else ("shown" if shown else "pending"),
        "shown_at": shown,
        "confirmed_at": confirmed,
        "min_read_seconds": minimum,
        "seconds_left": 0 if confirmed else _seconds_left(minimum, shown, now or timezone.now()),
        "applies_to": twins or [],
    }


def clause_twins(clauses: list[tuple[Any, dict[str, Any]]]) -> dict[tuple[int, str], list[int]]:
    """(document id, clause code) → the other documents holding the same clause."""
    by_identity: dict[str, list[tuple[int, str]]] = {}
    for doc, clause in clauses:
        by_identity.setdefault(clause_identity(clause), []).append((doc.pk, str(clause.get("code"))))
    return {
        ref: [other[0] for other in refs if other != ref]
        for refs in by_identity.values()
        if len(refs) > 1
        for ref in refs
    }


def _payment_state(payment: Any) -> dict[str, Any] | None:
    if payment is None:
        return None
    is_open = payments.is_open(payment)
    return {
        "id": payment.public_id,
        "status": payment.status,
        "amount": _money(payment.amount),
        "checkout_url": payment.checkout_url if is_open else None,
        "expires_at": payment.expires_at,
        "paid_at": payment.paid_at,
        "refunded_amount": _money(payment.refunded_amount),
        "failure_reason": payment.failure_reason if payments.ended_unpaid(payment.status) else "",
        "failure_message": _failure_message(payment),
    }


def _failure_message(payment: Any) -> str:
    """Why the payment ended unpaid, in the payer's words (empty while open or once paid)."""
    if not payments.ended_unpaid(payment.status):
        return ""
    return payments.refusal_text(payment) or payment_rules.failure_text(payment.failure_reason)


def payment_open_out(payment: Any) -> dict[str, Any]:
    return {
        "id": payment.public_id,
        "amount": _money(payment.amount),
        "status": payment.status,
        "checkout_url": payment.checkout_url,
        "expires_at": payment.expires_at,
    }


def _face_state(app: Application) -> dict[str, Any]:
    status = "none"
    if app.face_passed_at is not None:
        status = "passed"
    elif app.face_check_id is not None:
        found = FaceCheck.objects.filter(pk=app.face_check_id).values_list("status", flat=True).first()
        status = str(found or "none")
    return {"required": app.face_required, "status": status, "passed_at": app.face_passed_at}


def _person_name(name: str, owner: bool) -> str:
    return name if owner else mask_name(name)


# Statuses without signatures: a customer signs an accepted application, and the only way back
# to draft (`_back_to_draft`) deletes them; a referred one comes from draft.
UNSIGNED_STATUSES = frozenset({ApplicationStatus.DRAFT, ApplicationStatus.REFERRED})


def _signatures(
    app: Application, persons: list[Any], rows: list[Any] | None = None
) -> dict[tuple[str, int | None], Any]:
    """The signatures by (role, insured position); `persons` are the application's insured
    persons (a signature's insured is one of them); `rows`, the application's signatures when
    already loaded."""
    if app.status in UNSIGNED_STATUSES:
        return {}
    position = {p.pk: p.position for p in persons}
    if rows is None:
        rows = list(app.signatures.only("role", "insured", "signed_at"))
    return {(s.role, position.get(s.insured_id) if s.insured_id is not None else None): s for s in rows}


def application_out(app: Application, *, user: Any) -> dict[str, Any]:
    """The whole state of an application as the caller may see it."""
    owner = _is_owner(app, user)
    now = timezone.now()
    # Each piece is read once here (unless the use-case that returned `app` left it current) and
    # handed to the services that need it.
    loaded = take_loaded(app)
    # Policies are issued in the transaction that makes the application `issued` (a final status):
    # none before. Read with the items when they are read here.
    issued = app.status == ApplicationStatus.ISSUED
    items = loaded.items if loaded.items is not None else state_items(app, with_policies=issued)
    progress = disclosure_progress(
        app, items=items, readings=loaded.readings, confirmations=loaded.confirmations
    )
    identity_ok = identity_is_current(app)
    payment = current_payment(app)
    persons = loaded.persons if loaded.persons is not None else insured_persons(app, items=items)
    signatures = _signatures(app, persons, loaded.signatures)
    requirements = required_signatures(app, items=items, persons=persons) if app.applicant_name else []
    required = [
        {
            "role": r.role,
            "insured_position": r.insured_position,
            "name": _person_name(r.name, owner),
            "method": r.method,
            "signed": (r.role, r.insured_position) in signatures,
            "signed_at": getattr(signatures.get((r.role, r.insured_position)), "signed_at", None),
        }
        for r in requirements
    ]
    signed = bool(required) and all(r["signed"] for r in required)
    modes = {i.position: payment_mode_of(i) for i in items}
    # Only the columns shown: the policy app owns the rest of its row.
    policies = (
        [
            {
                "id": p.public_id,
                "number": p.number,
                "status": p.status,
                "effective_at": p.effective_at,
                "expires_at": p.expires_at,
            }
            for p in issued_policies(app, items)
        ]
        if issued
        else []
    )
    step = Journey(
        app, items=items, persons=persons, progress=progress, payment=payment, signed=signed
    ).next_step()
    twins = clause_twins(progress["clauses"])
    return {
        "id": app.public_id,
        "number": app.number,
        "status": app.status,
        "status_label": str(ApplicationStatus(app.status).label),
        "next_step": step,
        "next_step_label": NEXT_STEP_LABELS.get(step, step),
        "channel": app.channel,
        "is_owner": owner,
        "created_at": app.created_at,
        "expires_at": app.expires_at,
        "total_premium": _money(app.total_premium),
        "per_period": total_shown(
            (i.premium, i.underwriting_outcome, modes[i.position]) for i in items
        ).as_dict(),
        "data_revision": app.data_revision,
        "confirmed": app.is_confirmed,
        "confirmed_at": app.confirmed_at,
        "applicant": (
            {
                "name": _person_name(app.applicant_name, owner),
                "id_number": mask_id_number(app.applicant_id_number),
                "phone": mask_phone(app.applicant_phone),
                "email": mask_email(app.applicant_email),
                "region": app.applicant_region,
            }
            if app.applicant_name
            else None
        ),
        "insured": [
            {
                "position": p.position,
                "relation": p.relation,
                "name": _person_name(p.name, owner),
                "id_number": mask_id_number(p.id_number),
                "birth_date": p.birth_date if owner else None,
                "beneficiaries": [
                    {
                        "name": _person_name(b.name, owner),
                        "id_number": mask_id_number(b.id_number),
                        "relation": b.relation,
                        "order": b.order,
                        "share_percent": f"{b.share_percent:.2f}",
                    }
                    for b in p.beneficiaries.all()
                ],
            }
            for p in persons
        ],
        "beneficiary_mode": app.beneficiary_mode,
        "subject": {str(k): str(v) for k, v in (app.subject or {}).items()},
        "items": [
            {
                "position": i.position,
                "product_code": i.product_version.product.code,
                "product_name": i.product_version.product.name,
                "insurer": i.product_version.product.insurer.short_name,
                "product_version": i.product_version.number,
                "plan_code": i.plan.code,
                "plan_name": i.plan.name,
                "insured_position": i.insured.position if i.insured else None,
                "sum_insured": _money(i.sum_insured),
                "base_premium": _money(i.base_premium),
                "premium": _money(i.premium),
                "payment_mode": modes[i.position],
                "per_period": item_shown(i.premium, modes[i.position]).as_dict(),
                "loading_percent": f"{i.loading_percent:.2f}",
                "exclusions": [str(e) for e in (i.exclusions or [])],
                "underwriting": {
                    "outcome": i.underwriting_outcome,
                    "label": str(UnderwritingOutcome(i.underwriting_outcome).label),
                    "reasons": list(i.underwriting_reasons or []),
                },
            }
            for i in items
        ],
        "documents": [
            document_out(d, progress["readings"].get(doc_key(d)), now=now) for d in progress["documents"]
        ],
        "clauses": [
            clause_out(
                d,
                c,
                progress["confirmations"].get((doc_key(d), c.get("code"))),
                twins=twins.get((d.pk, str(c.get("code"))), []),
                now=now,
            )
            for d, c in progress["clauses"]
        ],
        "identity": {
            "verified": identity_ok,
            "verified_at": app.identity_verified_at if identity_ok else None,
        },
        "face": _face_state(app),
        "terms": {
            "required": needs_terms_agreement(app),
            "agreed_at": app.terms_agreed_at,
        },
        "signature_method": (
            requirements[0].method
            if requirements
            else (signature_method(app, items=items) if items else SignatureMethod.HANDWRITTEN)
        ),
        "signatures": required,
        "payment": _payment_state(payment),
        "policies": policies,
        "application_form": {
            "ready": app.application_form_id is not None,
            "url": (
                f"/api/v1/applications/{app.public_id}/application-form.pdf"
                if app.application_form_id is not None
                else None
            ),
        },
    }


def step_done_out(app: Application) -> dict[str, Any]:
    """What a step asked with `?state=none` answers (`StepDoneOut`)."""
    return {
        "id": app.public_id,
        "status": app.status,
        "status_label": str(ApplicationStatus(app.status).label),
        "data_revision": app.data_revision,
    }


def application_summary(app: Application) -> dict[str, Any]:
    return {
        "id": app.public_id,
        "number": app.number,
        "status": app.status,
        "status_label": str(ApplicationStatus(app.status).label),
        "products": [i.product_version.product.name for i in app.items.all()],
        "total_premium": _money(app.total_premium),
        "created_at": app.created_at,
        "expires_at": app.expires_at,
    }


def _customer_of(app: Application) -> str | None:
    customer = app.customer if app.customer_id is not None else None
    return mask_phone(customer.phone) if customer is not None else None


def agent_application_out(app: Application, *, agent: Any) -> dict[str, Any]:
    """The state as the agent who started the application sees it: names, ID and phone numbers
    masked (the agent is never the owner), and who the customer is (phone masked)."""
    return {
        **application_out(app, user=agent),
        "customer": _customer_of(app),
        "invited": bool(app.invite_token_hash),
    }


def agent_application_summary(app: Application) -> dict[str, Any]:
    return {**application_summary(app), "customer": _customer_of(app), "confirmed": app.is_confirmed}


def data_out(app: Application) -> dict[str, Any]:
    """The owner's own data, unmasked, in the shape `PUT /data` takes (to fill the edit form)."""
    persons = app.insured_persons.prefetch_related("beneficiaries").order_by("position")
    return {
        "applicant": {
            "name": app.applicant_name,
            "id_number": app.applicant_id_number,
            "phone": app.applicant_phone,
            "email": app.applicant_email,
            "address": app.applicant_address,
            "region": app.applicant_region,
            "occupation": app.applicant_occupation,
        },
        "insured": [
            {
                "relation": p.relation,
                "name": p.name,
                "id_number": p.id_number,
                "phone": p.phone,
                "occupation": p.occupation,
                "occupation_class": p.occupation_class,
                "health_answers": json.loads(p.health_answers or "{}"),
                "beneficiaries": [
                    {
                        "name": b.name,
                        "id_number": b.id_number,
                        "relation": b.relation,
                        "share_percent": b.share_percent,
                        "order": b.order,
                    }
                    for b in p.beneficiaries.all()
                ],
            }
            for p in persons
        ],
        "beneficiary_mode": app.beneficiary_mode,
        "subject": {str(k): str(v) for k, v in (app.subject or {}).items()},
    }
