"""`/api/v1/applications…`: the electronic application flow for apps and partners.

Every endpoint is a thin call of one use-case in `huibao.application.services`, which checks the
caller, the state machine and the rules; its `ValidationFailed` / `NotFound` / `Conflict` /
`PermissionDenied` become 422 / 404 / 409 / 403 with the field named (`huibao.api`). An
application that is not the caller's is answered 404, as if it did not exist.

Authentication: the Django session (a logged-in customer), with Django's CSRF check on unsafe
methods (send the `csrftoken` cookie's value as `X-CSRFToken`), or a bearer token
(`huibao.account.middleware`). Not logged in → 401.

`/agent/applications…` is the agent-started flow of `web/agent.py` for staff apps: verified staff
only (`huibao.account.access.is_api_staff`: a password + TOTP session, or a staff token, issued
after the same check), else 403 `staff_only`; an application another agent started is 404. The
agent prepares the data and makes the invitation; the customer claims it
(`POST /applications/claim`) and does every other step themself.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.application.api import presenters
from huibao.application.api.schemas import (
    ERRORS,
    AgentApplicationListOut,
    AgentApplicationOut,
    AgentStartIn,
    ApplicationDataIn,
    ApplicationListOut,
    ApplicationOut,
    ClaimIn,
    ClauseConfirmedOut,
    ClauseOut,
    ClausesConfirmedOut,
    ClausesConfirmIn,
    ConfirmIn,
    DocumentReadOut,
    DocumentTextOut,
    FaceIn,
    FaceOut,
    IdentityIn,
    InvitationOut,
    PaymentOpenOut,
    ReadIn,
    SignatureIn,
    StartIn,
    StepDoneOut,
)
from huibao.application.models import Application, ClauseConfirmation, DisclosureReading
from huibao.application.selectors import (
    REFERENCE_KIND,
    Target,
    applications_started_by,
    get_for_agent,
    get_for_user,
    target_for_agent,
    target_for_user,
)
from huibao.application.services import close as close_service
from huibao.application.services import confirm as confirm_service
from huibao.application.services import data as data_service
from huibao.application.services import disclosure as disclosure_service
from huibao.application.services import identity as identity_service
from huibao.application.services import pay as pay_service
from huibao.application.services import sign as sign_service
from huibao.application.services._common import _require_owner
from huibao.application.services.disclosure import confirm_clause_and_show_next, finish_reading_and_show_next
from huibao.application.services.identity import start_face_check
from huibao.application.services.invitation import claim_invitation, invite_customer
from huibao.application.services.start import start_application
from huibao.application.states import Channel
from huibao.core.api_schemas import errors
from huibao.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from huibao.distribution import services as distribution_services

router = Router(tags=["applications"], auth=django_auth)

API_CHANNELS = (Channel.APP, Channel.WEB, Channel.API, Channel.PARTNER)


class ListQuery(Schema):
    status: str = ""
    offset: int = 0
    limit: int = 20


def _user(request: HttpRequest) -> Any:
    return request.user


def _app(request: HttpRequest, public_id: uuid.UUID) -> Application:
    return get_for_user(public_id, _user(request))


def _target(request: HttpRequest, public_id: uuid.UUID) -> Target:
    """The application a use-case acts on: the use-case reads it once, under its lock, and
    answers 404 if it is not the caller's."""
    return target_for_user(public_id, _user(request))


def _state(app: Application, request: HttpRequest) -> dict[str, Any]:
    return presenters.application_out(app, user=_user(request))


# `?state=` of the steps that answer the application's state: `full` (the default) answers it
# whole (`ApplicationOut`), `none` only where the application stands (`StepDoneOut`).
StateAnswer = Literal["full", "none"]
STATE_ANSWER = (
    " With `state=none` the answer is only the application's id, status and data revision "
    "(`StepDoneOut`): for a client that does not show the state after this step."
)


def _answer(app: Application, request: HttpRequest, state: StateAnswer) -> dict[str, Any]:
    return presenters.step_done_out(app) if state == "none" else _state(app, request)


def _quote_ids(raw: list[str]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for value in raw:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            raise ValidationFailed(
                "quote id is not a UUID",
                errors=[FieldError("quote_ids", "invalid", f"报价编号“{str(value)[:40]}”格式错误")],
            ) from None
    return ids


# --- start and read ------------------------------------------------------------------------------


@router.post(
    "/applications",
    response={201: ApplicationOut, **ERRORS},
    summary="从报价发起投保",
    description="One quote, or several for a bundle (one application, one signature and payment, one "
    "policy per product). Only a customer account applies for itself.",
)
def start(request: HttpRequest, payload: StartIn) -> Status[dict[str, Any]]:
    user = _user(request)
    if not getattr(user, "is_customer", False):
        raise PermissionDenied("仅客户账号可以在线投保", code="customer_only")
    if payload.channel not in API_CHANNELS:
        raise ValidationFailed(
            "unknown channel",
            errors=[FieldError("channel", "invalid_choice", "渠道须为 app、web、api 或 partner")],
        )
    app = start_application(
        quote_ids=_quote_ids(payload.quote_ids),
        user=user,
        channel=payload.channel,
        request=request,
        seller=distribution_services.seller_from_code(payload.seller_code),
    )
    return Status(201, _state(app, request))


@router.post(
    "/applications/claim",
    response={200: ApplicationOut, **ERRORS},
    summary="打开代理人的投保邀请",
    description="The customer opens the agent's invitation (`token`, or the whole link): the "
    "application becomes theirs, and they check, confirm, read, sign and pay themself. Customer "
    "accounts only (any other, the agent included: 403 `login_required`); an unknown or replaced "
    "link → 404 `invalid_invitation` naming `token`; claimed by another customer → 403 "
    "`claimed_by_other`. Claiming again is harmless.",
)
def claim(request: HttpRequest, payload: ClaimIn) -> dict[str, Any]:
    app = claim_invitation(_invitation_token(payload.token), user=_user(request), request=request)
    return _state(app, request)


def _invitation_token(raw: str) -> str:
    """The token itself, also from the whole link `…/apply/invite/<token>/` (what the QR code holds)."""
    value = raw.strip()
    marker = "/invite/"
    if marker in value:
        value = value.split(marker, 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
    return value


@router.get("/applications", response=ApplicationListOut, summary="我的投保单")
def list_mine(request: HttpRequest, params: Query[ListQuery]) -> dict[str, Any]:
    rows = Application.objects.filter(customer=_user(request))
    if params.status:
        rows = rows.filter(status=params.status)
    limit = min(max(params.limit, 1), 100)
    offset = max(params.offset, 0)
    page = rows.order_by("-created_at", "-id").prefetch_related("items__product_version__product")[
        offset : offset + limit
    ]
    return {"total": rows.count(), "items": [presenters.application_summary(a) for a in page]}


@router.get(
    "/applications/{public_id}",
    response={200: ApplicationOut, **errors(404)},
    summary="投保单详情与下一步",
)
def detail(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    return _state(_app(request, public_id), request)


@router.get(
    "/applications/{public_id}/data",
    response={200: ApplicationDataIn, **errors(403, 404)},
    summary="本人投保信息（未脱敏，用于修改）",
)
def get_data(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    app = _app(request, public_id)
    _require_owner(app, _user(request))
    return presenters.data_out(app)


# --- the flow -------------------------------------------------------------------------------------


@router.put(
    "/applications/{public_id}/data",
    response={200: ApplicationOut | StepDoneOut, **ERRORS},
    summary="填写或修改投保信息",
    description="Applicant, insured persons (health answers, beneficiaries), beneficiary mode, subject. "
    "A change after the customer confirmed sends the application back to `draft`." + STATE_ANSWER,
)
def save_data(
    request: HttpRequest, public_id: uuid.UUID, payload: ApplicationDataIn, state: StateAnswer = "full"
) -> dict[str, Any]:
    app = data_service.save_data(
        _target(request, public_id), payload.to_domain(), actor=_user(request), request=request
    )
    return _answer(app, request, state)


@router.post(
    "/applications/{public_id}/identity",
    response={200: ApplicationOut | StepDoneOut, **ERRORS},
    summary="投保人实名认证",
    description="The applicant's real-name check by the identity provider." + STATE_ANSWER,
)
def verify_identity(
    request: HttpRequest, public_id: uuid.UUID, payload: IdentityIn, state: StateAnswer = "full"
) -> dict[str, Any]:
    app = identity_service.verify_identity(
        _target(request, public_id),
        name=payload.name,
        id_number=payload.id_number,
        user=_user(request),
        request=request,
    )
    return _answer(app, request, state)


@router.post(
    "/applications/{public_id}/face",
    response={200: FaceOut, **ERRORS},
    summary="开始人脸识别",
    description="Returns the face service's page; the result arrives asynchronously (poll the application).",
)
def start_face(request: HttpRequest, public_id: uuid.UUID, payload: FaceIn) -> dict[str, Any]:
    url = start_face_check(
        _target(request, public_id), user=_user(request), return_url=payload.return_url, request=request
    )
    return {"session_url": url}


@router.post(
    "/applications/{public_id}/confirm",
    response={200: ApplicationOut, **ERRORS},
    summary="确认投保信息（锁定并核保）",
)
def confirm(request: HttpRequest, public_id: uuid.UUID, payload: ConfirmIn | None = None) -> dict[str, Any]:
    app = confirm_service.confirm(
        _target(request, public_id),
        user=_user(request),
        request=request,
        expected_revision=payload.data_revision if payload is not None else None,
    )
    return _state(app, request)


@router.post(
    "/applications/{public_id}/terms/agree",
    response={200: ApplicationOut, **ERRORS},
    summary="同意核保条件（加费/除外）",
)
def agree_terms(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    app = confirm_service.agree_terms(_target(request, public_id), user=_user(request), request=request)
    return _state(app, request)


@router.post(
    "/applications/{public_id}/documents/{document_id}/open",
    response={200: DocumentTextOut, **ERRORS},
    summary="打开投保文件（开始计时）",
    description="Starts the server's reading clock (once) and returns the text to show.",
)
def open_document(request: HttpRequest, public_id: uuid.UUID, document_id: int) -> dict[str, Any]:
    reading = disclosure_service.open_document(
        _target(request, public_id), document_id, user=_user(request), request=request
    )
    return _document(reading)


@router.post(
    "/applications/{public_id}/documents/{document_id}/read",
    response={200: DocumentReadOut, **ERRORS},
    summary="读完投保文件",
    description="Accepted once the document was opened, scrolled to its end and open for at least "
    "`min_read_seconds` by the server's clock; otherwise 422 naming `reading_time` or `scrolled_to_end`. "
    "With `show_next=true` the answer also carries the first key clause still to confirm, shown (and "
    "recorded as shown) at once when it can be (`next_clause`, else null).",
)
def finish_reading(
    request: HttpRequest, public_id: uuid.UUID, document_id: int, payload: ReadIn, show_next: bool = False
) -> dict[str, Any]:
    target, user = _target(request, public_id), _user(request)
    if not show_next:
        return _document(
            disclosure_service.finish_reading(
                target, document_id, scrolled_to_end=payload.scrolled_to_end, user=user, request=request
            )
        )
    reading, shown = finish_reading_and_show_next(
        target, document_id, scrolled_to_end=payload.scrolled_to_end, user=user, request=request
    )
    return {**_document(reading), "next_clause": _clause(shown) if shown is not None else None}


def _document(reading: DisclosureReading) -> dict[str, Any]:
    doc = reading.document
    return {**presenters.document_out(doc, reading), "body": doc.body}


@router.post(
    "/applications/{public_id}/clauses/confirm",
    response={200: ClausesConfirmedOut, **ERRORS},
    summary="确认多项重要条款",
    description="Confirms several key clauses in one call, in the order listed, each as the single "
    "`confirm` (its own record and time). A clause not shown before is shown first, so its reading "
    "clock starts then: a clause with `min_read_seconds` must have been shown that long before. The "
    "first refusal is 422 naming `clauses[i].<field>` (e.g. `clauses[1].reading_time`) and nothing is "
    "recorded. The same clause held by several products' documents (`applies_to`) is confirmed for all.",
)
def confirm_clauses(request: HttpRequest, public_id: uuid.UUID, payload: ClausesConfirmIn) -> dict[str, Any]:
    rows = disclosure_service.confirm_clauses(
        _target(request, public_id),
        [(ref.document_id, ref.code) for ref in payload.clauses],
        user=_user(request),
        request=request,
    )
    return {"clauses": [_clause(row) for row in rows]}


@router.post(
    "/applications/{public_id}/clauses/{document_id}/{clause_code}/show",
    response={200: ClauseOut, **ERRORS},
    summary="展示重要条款",
)
def show_clause(
    request: HttpRequest, public_id: uuid.UUID, document_id: int, clause_code: str
) -> dict[str, Any]:
    row = disclosure_service.show_clause(
        _target(request, public_id), document_id, clause_code, user=_user(request), request=request
    )
    return _clause(row)


@router.post(
    "/applications/{public_id}/clauses/{document_id}/{clause_code}/confirm",
    response={200: ClauseConfirmedOut, **ERRORS},
    summary="确认重要条款",
    description="With `show_next=true` the answer also carries the next key clause still to confirm, "
    "shown (and recorded as shown) at once, so a client confirms one and shows the next in one "
    "round trip; `next_clause` is null after the last clause or while its document is still unread.",
)
def confirm_clause(
    request: HttpRequest, public_id: uuid.UUID, document_id: int, clause_code: str, show_next: bool = False
) -> dict[str, Any]:
    target, user = _target(request, public_id), _user(request)
    if not show_next:
        return _clause(
            disclosure_service.confirm_clause(target, document_id, clause_code, user=user, request=request)
        )
    row, shown = confirm_clause_and_show_next(target, document_id, clause_code, user=user, request=request)
    return {**_clause(row), "next_clause": _clause(shown) if shown is not None else None}


def _clause(row: ClauseConfirmation) -> dict[str, Any]:
    doc = row.document
    clause: dict[str, Any] = next((c for c in doc.key_clauses or [] if c.get("code") == row.clause_code), {})
    return presenters.clause_out(doc, clause, row)


@router.post(
    "/applications/{public_id}/signatures",
    response={200: ApplicationOut | StepDoneOut, **ERRORS},
    summary="签名",
    description="`method` (see the application's `signatures`) is `handwritten` (send `ink`, checked "
    "against the signer's name) or `confirmation` (send `confirmed: true`). When every required "
    "signature is there the application is `signed` and its PDF form is made in the background."
    + STATE_ANSWER,
)
def sign(
    request: HttpRequest, public_id: uuid.UUID, payload: SignatureIn, state: StateAnswer = "full"
) -> dict[str, Any]:
    app = sign_service.sign(
        _target(request, public_id),
        user=_user(request),
        role=payload.role,
        insured_position=payload.insured_position,
        ink=payload.ink,
        confirmed=payload.confirmed,
        request=request,
    )
    return _answer(app, request, state)


@router.post(
    "/applications/{public_id}/payment",
    response={200: PaymentOpenOut, **ERRORS},
    summary="支付保费",
    description="Opens the applicant's real-name payment and returns its hosted pay page; a retry "
    "returns the same open payment. The policies are issued when the payment is confirmed.",
)
def pay(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    payment = pay_service.pay(_target(request, public_id), user=_user(request), request=request)
    return presenters.payment_open_out(payment)


@router.post(
    "/applications/{public_id}/declined-items/drop",
    response={200: ApplicationOut, **ERRORS},
    summary="不投保拒保的产品，继续投保其余产品",
)
def drop_declined_items(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    app = confirm_service.drop_declined_items(
        _target(request, public_id), user=_user(request), request=request
    )
    return _state(app, request)


@router.post(
    "/applications/{public_id}/cancel",
    response={200: ApplicationOut, **ERRORS},
    summary="撤销投保单",
)
def cancel(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    app = close_service.cancel(_target(request, public_id), user=_user(request), request=request)
    return _state(app, request)


@router.get(
    "/applications/{public_id}/application-form.pdf",
    response={200: None, **errors(404, 409)},
    summary="电子投保单 PDF",
    description="The signed application form (PAdES), once rendered after signing; 409 until then.",
    openapi_extra={"responses": {200: {"description": "PDF", "content": {"application/pdf": {}}}}},
)
def application_form(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    app = _app(request, public_id)
    if app.application_form_id is None:
        raise Conflict("电子投保单正在生成，请稍后再试", code="form_not_ready")
    document = app.application_form
    assert document is not None
    response = HttpResponse(document.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.filename}"'
    return response


# --- the agent-started flow ------------------------------------------------------------------------

AGENT_TAGS = ["agent applications"]


def _agent(request: HttpRequest) -> Any:
    """The calling agent: verified staff (session with TOTP, or a staff token), else 403."""
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    return request.user


def _agent_state(app: Application, agent: Any) -> dict[str, Any]:
    return presenters.agent_application_out(app, agent=agent)


@router.post(
    "/agent/applications",
    response={201: AgentApplicationOut, **ERRORS},
    tags=AGENT_TAGS,
    summary="代理人为客户发起投保",
    description="From one quote, or several for a bundle, as on the agent's page: a draft of channel "
    "`agent` without a customer. The agent fills in the data and makes the invitation; the customer "
    "does everything else themself.",
)
def agent_start(request: HttpRequest, payload: AgentStartIn) -> Status[dict[str, Any]]:
    agent = _agent(request)
    app = start_application(quote_ids=_quote_ids(payload.quote_ids), started_by=agent, request=request)
    return Status(201, _agent_state(app, agent))


@router.get(
    "/agent/applications",
    response={200: AgentApplicationListOut, **errors(403)},
    tags=AGENT_TAGS,
    summary="代理人发起的投保单",
)
def agent_list(request: HttpRequest, params: Query[ListQuery]) -> dict[str, Any]:
    rows = applications_started_by(_agent(request))
    if params.status:
        rows = rows.filter(status=params.status)
    limit = min(max(params.limit, 1), 100)
    offset = max(params.offset, 0)
    return {
        "total": rows.count(),
        "items": [presenters.agent_application_summary(a) for a in rows[offset : offset + limit]],
    }


@router.get(
    "/agent/applications/{public_id}",
    response={200: AgentApplicationOut, **errors(403, 404)},
    tags=AGENT_TAGS,
    summary="代理人查看投保单（已脱敏）",
)
def agent_detail(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    agent = _agent(request)
    return _agent_state(get_for_agent(public_id, agent), agent)


@router.put(
    "/agent/applications/{public_id}/data",
    response={200: AgentApplicationOut, **ERRORS},
    tags=AGENT_TAGS,
    summary="代理人填写或修改投保信息",
    description="The same payload and checks as the customer's `PUT /applications/{id}/data`. After "
    "the customer confirmed, a change sends the application back to `draft`: the customer checks, "
    "confirms and signs again. Not while a payment is open (409 `payment_in_progress`) nor once "
    "closed (409 `application_closed`).",
)
def agent_save_data(request: HttpRequest, public_id: uuid.UUID, payload: ApplicationDataIn) -> dict[str, Any]:
    agent = _agent(request)
    target = target_for_agent(public_id, agent)
    app = data_service.save_data(target, payload.to_domain(), actor=agent, request=request)
    return _agent_state(app, agent)


@router.post(
    "/agent/applications/{public_id}/invitation",
    response={201: InvitationOut, **ERRORS},
    tags=AGENT_TAGS,
    summary="生成投保邀请链接和二维码",
    description="A new link (and QR code) for the customer once the data is filled in (else 422 "
    "naming `applicant` / `insured`); the previous link stops working. The customer opens it, or "
    "their app sends it to `POST /applications/claim`.",
)
def agent_invite(request: HttpRequest, public_id: uuid.UUID) -> Status[dict[str, Any]]:
    from django.urls import reverse

    from huibao.application.qr import qr_svg

    agent = _agent(request)
    app = get_for_agent(public_id, agent, keys_only=True)
    invitation = invite_customer(app, agent=agent, request=request)
    url = request.build_absolute_uri(reverse("application:invite", args=[invitation.token]))
    expires_at = Application.objects.filter(pk=app.pk).values_list("expires_at", flat=True).get()
    body = {
        "url": url,
        "token": invitation.token,
        "expires_at": expires_at,
        "qr_svg": str(qr_svg(url, title="投保邀请二维码")),
    }
    return Status(201, body)


def _may_view_payment(reference_id: str, user: Any) -> bool:
    return Application.objects.filter(public_id=reference_id, customer_id=getattr(user, "pk", None)).exists()


def _register() -> None:
    from huibao.payment.api import register_payment_viewer

    register_payment_viewer(REFERENCE_KIND, _may_view_payment)


_register()
