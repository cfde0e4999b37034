"""Application use-cases: from quotes to a confirmed, read, verified, signed and paid application.

Every function takes the application, locks its row, checks the state machine and the rules,
changes what it must in one transaction and records the step in the audit chain
(`trace.record_step`). Invalid input raises `ValidationFailed` with one `FieldError` per problem
and changes nothing.

The order a customer goes through (the web pages and `/api/v1` follow it; the server enforces
every prerequisite, not the page):

1. `start_application` from one or more quotes (a bundle), by the customer or by an agent;
   `invite_customer` gives an agent's link/QR for the customer (no signing by proxy).
2. `save_data`: applicant, insured persons, beneficiaries, subject, health answers. Any change
   after the customer confirmed sends the whole application back to draft.
3. `verify_identity` (real name + ID through the identity provider).
4. `confirm` by the customer: locks the data (revision + digest) and underwrites it →
   accepted / referred to an underwriter / declined. `agree_terms` when there is a loading or an
   exclusion.
5. Documents: `open_document` / `finish_reading` (server-timed), key clauses one by one
   (`show_clause` / `confirm_clause`); face check when the rules ask for it.
6. `sign`: handwritten (checked) or by confirmation, the applicant and, where the law needs the
   insured's consent, the insured; then the application form PDF is made and PAdES-signed.
7. `pay`: a real-name payment of the applicant; the payment's "paid" hook issues the policies in
   the same transaction (`on_payment_confirmed`).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from django.utils import timezone

from huibao.application import rules as app_rules
from huibao.application.models import (
    Application,
    ApplicationItem,
    Beneficiary,
    ClauseConfirmation,
    DisclosureReading,
    InsuredPerson,
    Signature,
)
from huibao.application.rules import ApplicantInput as ApplicantInput
from huibao.application.rules import ApplicationData as ApplicationData
from huibao.application.rules import BeneficiaryInput as BeneficiaryInput
from huibao.application.rules import InsuredInput as InsuredInput
from huibao.application.states import (
    OPEN_STATUSES,
    TRANSITIONS,
    ApplicationStatus,
    Channel,
    Relation,
    SignatureMethod,
    SignerRole,
    UnderwritingOutcome,
)
from huibao.application.trace import record_step
from huibao.catalog.models import Document, ProductStatus, ProductVersion, VersionStatus
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.money import to_fen
from huibao.core.states import check_transition
from huibao.core.validators import normalise_person_name, validate_resident_id
from huibao.rating import rules as rating_rules
from huibao.rating.models import Quote
from huibao.rating.selectors import quote_for_user
from huibao.rating.services import get_rating_product

REFERENCE_KIND = "application"
ID_HASH_CONTEXT = "person.id_number"
MAX_ITEMS = 6


def application_ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=int(getattr(settings, "HUIBAO_APPLICATION_TTL_HOURS", 72)))


def quote_ttl() -> datetime.timedelta:
    """How long a quote may be applied for (its price is for the insured's age on the day)."""
    return datetime.timedelta(hours=int(getattr(settings, "HUIBAO_QUOTE_TTL_HOURS", 72)))


def payment_ttl() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(getattr(settings, "HUIBAO_PAYMENT_TTL_MINUTES", 30)))


# --- input shapes -------------------------------------------------------------------------------
# The data entered (`ApplicationData` and its parts) is defined with its rules in `rules.py` and
# imported above under the same names (`services.ApplicationData`…).


@dataclass(frozen=True, slots=True)
class Invitation:
    token: str
    path: str


# --- helpers ------------------------------------------------------------------------------------


def _hash_id(number: str) -> str:
    return lookup_hash(number, context=ID_HASH_CONTEXT)


def _new_number() -> str:
    return "TB" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


@dataclass(frozen=True, slots=True)
class Target:
    """An application a caller names for a use-case, not read yet (`target_for_user`,
    `target_for_agent`): the use-case reads it once, under its row lock, and only when `access`
    holds for the row; otherwise `NotFound`, the answer `get_for_user` / `get_for_agent` give a
    stranger (whose row is never locked)."""

    public_id: Any
    access: Q


def _locked(application: Application | Target) -> Application:
    if isinstance(application, Target):
        app = (
            Application.objects.select_for_update()
            .filter(application.access, public_id=application.public_id)
            .first()
        )
        if app is None:
            raise NotFound("投保单不存在", code="application_not_found")
        return app
    return Application.objects.select_for_update().get(pk=application.pk)


@dataclass(slots=True)
class Loaded:
    """What a use-case read (or wrote) of its application and left current at its end, for the
    state answer (`schemas.application_out`) to use rather than read again. Any part left None
    is read there."""

    key: tuple[str, int]
    items: list[ApplicationItem] | None = None  # position order, with `STATE_ITEM_FIELDS`
    persons: list[InsuredPerson] | None = None  # position order, beneficiaries prefetched
    readings: list[DisclosureReading] | None = None  # all the application's
    confirmations: list[ClauseConfirmation] | None = None  # all the application's clause rows
    signatures: list[Signature] | None = None  # with role, insured id and signed_at


_LOADED_MEMO = "_loaded_state"


def _loaded_key(app: Application) -> tuple[str, int]:
    return (str(app.status), int(app.data_revision))


def _remember_loaded(app: Application, **parts: Any) -> None:
    """Leaves `parts` (see `Loaded`) on the instance the use-case returns; call it last, once
    nothing more changes them."""
    app.__dict__[_LOADED_MEMO] = Loaded(key=_loaded_key(app), **parts)


def take_loaded(app: Application) -> Loaded:
    """What the last use-case left on `app` (see `Loaded`), handed out once: a later call, or
    one after the instance's status or data revision changed, finds nothing and reads afresh."""
    memo = app.__dict__.pop(_LOADED_MEMO, None)
    if isinstance(memo, Loaded) and memo.key == _loaded_key(app):
        return memo
    return Loaded(key=_loaded_key(app))


def _move(app: Application, target: str) -> None:
    check_transition(TRANSITIONS, app.status, target, what="application")
    app.status = target
    if target in (ApplicationStatus.DECLINED, ApplicationStatus.EXPIRED, ApplicationStatus.CANCELLED):
        # Kept 5 years after it closed unissued (issued ones: per policy term, set at issuance).
        from huibao.application.retention import retention_until_for

        app.retention_until = retention_until_for(app)


def _is_owner(app: Application, user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and app.customer_id == user.pk)


def _require_owner(app: Application, user: Any) -> None:
    """Only the customer who owns the application may act on it (never the agent)."""
    if not _is_owner(app, user):
        raise PermissionDenied("只有投保人本人可以进行此操作", code="not_applicant")


def _require_not_expired(app: Application) -> None:
    """Past its time an application takes no further step, even before the sweep closes it."""
    if app.expires_at <= timezone.now():
        raise Conflict("投保单已过期，请重新投保", code="application_expired")


def _require_open(app: Application) -> None:
    if app.status not in OPEN_STATUSES:
        raise Conflict(
            f"投保单当前状态为“{ApplicationStatus(app.status).label}”，不能再操作",
            code="application_closed",
        )


def items_of(app: Application) -> list[ApplicationItem]:
    """The items in position order, with their product version, product, insurer, plan and insured
    (the re-priced `quote`, rarely needed, loads on access)."""
    return list(
        app.items.select_related("product_version__product__insurer", "plan", "insured").order_by("position")
    )


# What `state_items` reads: the columns the application state shows or decides on.
STATE_ITEM_FIELDS = (
    "application_id",
    "position",
    "insured_id",
    "product_version_id",
    "plan_id",
    "sum_insured",
    "base_premium",
    "premium",
    "loading_percent",
    "exclusions",
    "underwriting_outcome",
    "underwriting_reasons",
    "product_version__number",
    "product_version__status",
    "product_version__product_id",
    "product_version__application_rules",
    "product_version__product__code",
    "product_version__product__name",
    "product_version__product__insurer_id",
    "product_version__product__insurer__short_name",
    "plan__code",
    "plan__name",
    "insured__position",
)


def state_items(app: Application) -> list[ApplicationItem]:
    """`items_of` narrowed to `STATE_ITEM_FIELDS` (enough for the application state, its
    documents, rules and signatures); any other field loads on access."""
    return list(
        app.items.select_related("product_version__product__insurer", "plan", "insured")
        .only(*STATE_ITEM_FIELDS)
        .order_by("position")
    )


def rules_of(item: ApplicationItem) -> app_rules.ApplicationRules:
    return app_rules.parse_rules(item.product_version.application_rules)


def health_questions(
    app: Application, *, items: Sequence[ApplicationItem] | None = None
) -> list[dict[str, Any]]:
    """The health questions of every product in the application, each code once.

    `items` (as `items_of` returns them) saves the query when the caller already has them."""
    seen: dict[str, dict[str, Any]] = {}
    for item in items if items is not None else items_of(app):
        for q in item.product_version.eligibility.get("health_questions", []) or []:
            seen.setdefault(str(q["code"]), q)
    return list(seen.values())


def subject_fields(
    app: Application, *, items: Sequence[ApplicationItem] | None = None
) -> tuple[app_rules.SubjectField, ...]:
    return app_rules.combined_subject([rules_of(i) for i in (items if items is not None else items_of(app))])


# The documents of frozen (published or retired) product versions, by version id, in their
# order. A frozen version's documents never change (`catalog.services` refuses to edit them), so
# they are read once per process; a draft's are read on every call. The instances are shared
# between requests and threads: read them, never change or save them.
_frozen_documents: dict[int, tuple[Document, ...]] = {}
_frozen_documents_lock = threading.Lock()


# The product versions of an application's items, by (public id, data revision), once all of
# them are frozen. The set changes only with the data revision (`start_application` makes the
# items at revision 1, `save_data` and `drop_declined_items` move the revision on with any change
# of them) and a frozen version stays frozen, so an entry never goes stale. Bounded: the oldest
# entries go first.
_frozen_item_versions: dict[tuple[str, int], tuple[int, ...]] = {}
FROZEN_ITEM_VERSIONS_MAX = 4096


def clear_document_cache() -> None:
    """For tests: forget the documents of frozen versions and the applications' versions (tests
    roll their rows back, and SQLite hands the same keys out again)."""
    with _frozen_documents_lock:
        _frozen_documents.clear()
        _frozen_item_versions.clear()


def _application_versions(app: Application) -> dict[int, bool]:
    """Version id → frozen for the application's items (see `_frozen_item_versions`)."""
    key = (str(app.public_id), int(app.data_revision))
    cached = _frozen_item_versions.get(key)
    if cached is not None:
        return dict.fromkeys(cached, True)
    versions: dict[int, bool] = {}
    for vid, status in app.items.values_list("product_version_id", "product_version__status"):
        versions[vid] = versions.get(vid, False) or status != VersionStatus.DRAFT
    if versions and all(versions.values()):
        with _frozen_documents_lock:
            while len(_frozen_item_versions) >= FROZEN_ITEM_VERSIONS_MAX:
                del _frozen_item_versions[next(iter(_frozen_item_versions))]
            _frozen_item_versions[key] = tuple(versions)
    return versions


def _item_versions(items: Sequence[ApplicationItem]) -> dict[int, bool]:
    """Version id → frozen, from items loaded with their version; a version whose status was not
    loaded counts as not frozen (read, not cached) rather than costing a query per item."""
    versions: dict[int, bool] = {}
    for item in items:
        version = item.product_version
        frozen = "status" not in version.get_deferred_fields() and version.status != VersionStatus.DRAFT
        versions[item.product_version_id] = versions.get(item.product_version_id, False) or frozen
    return versions


def _version_documents(versions: Mapping[int, bool]) -> list[Document]:
    """The documents of the versions (id → frozen) ordered by version, sort order and id."""
    found = {vid: _frozen_documents.get(vid) for vid in versions}
    missing = sorted(vid for vid, docs in found.items() if docs is None)
    if missing:
        loaded: dict[int, list[Document]] = {vid: [] for vid in missing}
        for doc in Document.objects.filter(version_id__in=missing).order_by("version_id", "sort_order", "id"):
            loaded[doc.version_id].append(doc)
        with _frozen_documents_lock:
            for vid, rows in loaded.items():
                found[vid] = kept = tuple(rows)
                if versions[vid]:
                    _frozen_documents[vid] = kept
    return [doc for vid in sorted(found) for doc in found[vid] or ()]


def version_documents(version: ProductVersion) -> list[Document]:
    """The documents of one product version in their order (sort order, id); a frozen version's
    from the per-process cache (see `_frozen_documents`): read them, never change them."""
    frozen = "status" not in version.get_deferred_fields() and version.status != VersionStatus.DRAFT
    return _version_documents({version.pk: frozen})


def required_documents(app: Application, *, items: Sequence[ApplicationItem] | None = None) -> list[Document]:
    """Every document of every product, each distinct text (content hash) once.

    `items` (the application's items, loaded in this request with their version) saves reading
    the versions; without them one light query reads the items' versions and statuses (once per
    process and data revision when all are frozen: `_frozen_item_versions`). The documents of
    frozen versions come from a per-process cache (see `_frozen_documents`)."""
    versions = _item_versions(items) if items is not None else _application_versions(app)
    seen: dict[str, Document] = {}
    for doc in _version_documents(versions):
        seen.setdefault(_doc_key(doc), doc)
    return list(seen.values())


def _doc_key(doc: Document) -> str:
    return doc.content_sha256 or f"doc:{doc.pk}"


def data_snapshot(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    persons: Sequence[InsuredPerson] | None = None,
) -> dict[str, Any]:
    """The application data the customer confirms and signs (plaintext: never stored as is).

    `items` (as `items_of` returns them) and `persons` (the insured persons in position order,
    best with their beneficiaries prefetched) save reading them again; both must be current."""
    insured = []
    if persons is None:
        persons = list(app.insured_persons.all().order_by("position"))
    if items is None:
        items = list(app.items.select_related("insured").order_by("position"))
    for person in persons:
        insured.append(
            {
                "position": person.position,
                "relation": person.relation,
                "name": person.name,
                "id_number": person.id_number,
                "phone": person.phone,
                "occupation": person.occupation,
                "occupation_class": person.occupation_class,
                "health_answers": json.loads(person.health_answers or "{}"),
                "beneficiaries": [
                    {
                        "name": b.name,
                        "id_number": b.id_number,
                        "relation": b.relation,
                        "order": b.order,
                        "share_percent": str(b.share_percent),
                    }
                    for b in person.beneficiaries.all()
                ],
            }
        )
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
        "insured": insured,
        "beneficiary_mode": app.beneficiary_mode,
        "subject": app.subject,
        "items": [
            {
                "position": i.position,
                "product_version": i.product_version_id,
                "plan": i.plan_id,
                "quote": str(i.quote_id),
                "insured": i.insured.position if i.insured else None,
                "premium": str(i.premium),
            }
            for i in items
        ],
    }


def data_digest(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    persons: Sequence[InsuredPerson] | None = None,
) -> str:
    snapshot = data_snapshot(app, items=items, persons=persons)
    canonical = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- 1. start ----------------------------------------------------------------------------------


def _quote_for_application(quote_id: Any, user: Any) -> Quote:
    # Someone else's quote is answered as an unknown one: its id reveals nothing.
    quote = quote_for_user(user, quote_id)
    if quote is None:
        raise NotFound(
            f"报价 {quote_id} 不存在", errors=[FieldError("quote_ids", "unknown_quote", "报价不存在")]
        )
    version = quote.product_version
    if not _on_sale(version):
        raise ValidationFailed(
            "the quote's product version is no longer on sale",
            errors=[
                FieldError(
                    "quote_ids", "version_not_on_sale", f"“{version.product.name}”已更新或停售，请重新报价"
                )
            ],
        )
    if quote.created_at + quote_ttl() <= timezone.now():
        raise ValidationFailed(
            "the quote expired",
            errors=[
                FieldError("quote_ids", "quote_expired", f"“{version.product.name}”的报价已过期，请重新报价")
            ],
        )
    return quote


def _on_sale(version: Any) -> bool:
    """The version is the one on sale: published, and its product on sale with it as current."""
    product = version.product
    return (
        version.status == VersionStatus.PUBLISHED
        and product.status == ProductStatus.ON_SALE
        and product.current_version_id in (None, version.pk)
    )


def _not_on_sale(items: Sequence[ApplicationItem]) -> list[FieldError]:
    return [
        FieldError(
            "items",
            "version_not_on_sale",
            f"“{i.product_version.product.name}”已更新或停售，本投保单不能继续，请重新报价投保",
        )
        for i in items
        if not _on_sale(i.product_version)
    ]


def start_application(
    *,
    quote_ids: Sequence[Any],
    user: Any = None,
    channel: str = Channel.WEB,
    started_by: Any = None,
    request: HttpRequest | None = None,
) -> Application:
    """A draft application from one quote, or several (a bundle: one flow, several policies).

    `user` is the customer applying; `started_by` an agent or staff member preparing it for a
    customer (who then opens the invitation link and does everything else themself)."""
    ids = list(dict.fromkeys(str(q) for q in quote_ids))
    if not ids:
        raise ValidationFailed(
            "at least one quote", errors=[FieldError("quote_ids", "required", "请至少选择一个产品报价")]
        )
    if len(ids) > MAX_ITEMS:
        raise ValidationFailed(
            "too many products",
            errors=[FieldError("quote_ids", "too_many", f"一次最多投保{MAX_ITEMS}个产品")],
        )
    quotes = [_quote_for_application(q, started_by or user) for q in ids]
    products = [q.product_version.product_id for q in quotes]
    if len(set(products)) != len(products):
        raise ValidationFailed(
            "a product twice", errors=[FieldError("quote_ids", "duplicate_product", "同一产品只需选择一次")]
        )
    customer = (
        user
        if (
            user is not None
            and getattr(user, "is_authenticated", False)
            and getattr(user, "is_customer", False)
        )
        else None
    )
    if started_by is not None and channel == Channel.WEB:
        channel = Channel.AGENT
    with transaction.atomic():
        app = Application.objects.create(
            number=_new_number(),
            channel=channel,
            customer=customer,
            started_by=started_by,
            expires_at=timezone.now() + application_ttl(),
            total_premium=to_fen(sum((q.premium for q in quotes), Decimal(0))),
        )
        items = []
        for position, quote in enumerate(quotes, start=1):
            item = ApplicationItem.objects.create(
                application=app,
                position=position,
                product_version=quote.product_version,
                plan=quote.plan,
                origin_quote=quote,
                quote=quote,
                sum_insured=_quote_sum_insured(quote),
                base_premium=quote.premium,
                premium=quote.premium,
            )
            items.append(item)
        record_step(
            app,
            "started",
            actor=started_by or customer or "anonymous",
            request=request,
            detail={
                "channel": app.channel,
                "quotes": ids,
                "products": [q.product_version.product.code for q in quotes],
                "product_versions": [q.product_version_id for q in quotes],
            },
        )
    # A new application: its items (with their quotes' versions and plans) and nothing else yet.
    _remember_loaded(app, items=items, persons=[], readings=[], confirmations=[], signatures=[])
    return app


def _quote_sum_insured(quote: Quote) -> Decimal | None:
    raw = quote.inputs.get("sum_insured")
    if raw is None:
        return (
            quote.plan.max_sum_insured if quote.plan.min_sum_insured == quote.plan.max_sum_insured else None
        )
    try:
        return to_fen(Decimal(str(raw)))
    except InvalidOperation:
        return None


def data_complete(app: Application) -> bool:
    """The applicant and every item's insured person are filled in (not necessarily confirmed)."""
    return bool(app.applicant_name) and not app.items.filter(insured__isnull=True).exists()


def invite_customer(
    application: Application | Target, *, agent: Any, request: HttpRequest | None = None
) -> Invitation:
    """A fresh link (and QR code) for the customer, once the agent filled in the data; the
    previous link stops working."""
    token = secrets.token_urlsafe(24)
    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        if app.started_by_id is None or app.started_by_id != getattr(agent, "pk", None):
            raise PermissionDenied("只有发起该投保单的代理人可以发送邀请", code="not_agent")
        if not data_complete(app):
            raise ValidationFailed(
                "请先填写并保存投保信息，再发送邀请",
                code="data_incomplete",
                errors=_missing_data(app, items_of(app)),
            )
        app.invite_token_hash = hashlib.sha256(token.encode()).hexdigest()
        app.save(update_fields=["invite_token_hash", "updated_at"])
        record_step(app, "invitation_sent", actor=agent, request=request)
    return Invitation(token=token, path=f"/apply/invite/{token}/")


def _check_invitation(app: Application | None, token: str, user: Any) -> Application:
    """Who may take over the application behind an agent's link (the same answer for a look and
    for the taking)."""
    if app is None or not token:
        message = "邀请链接无效或已失效"
        error = FieldError("token", "invalid_invitation", message)
        raise NotFound(message, code="invalid_invitation", errors=[error])
    _require_open(app)
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_customer", False):
        raise PermissionDenied("请以投保人本人的账号登录后打开链接", code="login_required")
    if app.started_by_id == user.pk:
        raise PermissionDenied("代理人不能代替客户确认投保", code="agent_cannot_claim")
    if app.customer_id is not None and app.customer_id != user.pk:
        raise PermissionDenied("该投保单已由其他客户打开", code="claimed_by_other")
    return app


def _invitation_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_preview(token: str, *, user: Any) -> Application:
    """The application behind the agent's link, to show before the customer takes it over
    (read-only; refused for the same reasons `claim_invitation` refuses)."""
    app = Application.objects.select_related("started_by").filter(invite_token_hash=_invitation_digest(token))
    return _check_invitation(app.first(), token, user)


def claim_invitation(token: str, *, user: Any, request: HttpRequest | None = None) -> Application:
    """The customer opens the agent's link while logged in: the application becomes theirs."""
    with transaction.atomic():
        locked = Application.objects.select_for_update().filter(invite_token_hash=_invitation_digest(token))
        app = _check_invitation(locked.first(), token, user)
        if app.customer_id is None:
            app.customer = user
            app.save(update_fields=["customer", "updated_at"])
            record_step(app, "invitation_opened", actor=user, request=request)
    return app


# --- 2. data -----------------------------------------------------------------------------------


def _validate_data(
    app: Application, data: ApplicationData, *, items: Sequence[ApplicationItem] | None = None
) -> tuple[list[FieldError], dict[str, Any]]:
    """Checks everything (`rules.check_data`, pure); returns (errors, normalized values)."""
    if items is None:
        items = items_of(app)
    questions = [
        app_rules.HealthQuestion(code=str(q["code"]), text=str(q.get("text", "")))
        for q in health_questions(app, items=items)
    ]
    return app_rules.check_data(
        data, rule_sets=[rules_of(i) for i in items], questions=questions, today=timezone.localdate()
    )


def _reprice(item: ApplicationItem, person: InsuredPerson, *, user: Any) -> tuple[Quote, list[FieldError]]:
    """Prices the item again on the insured's real birth date, sex and occupation, on the same
    product version (the one the customer was shown), and records that quote."""
    origin = item.origin_quote
    inputs = dict(origin.inputs)
    for key in ("age", "birth_date", "start_date"):
        inputs.pop(key, None)
    inputs["birth_date"] = person.birth_date.isoformat()
    if "sex" in origin.inputs or person.sex:
        inputs["sex"] = person.sex
    if person.occupation_class is not None:
        inputs["occupation_class"] = person.occupation_class
    product = get_rating_product(item.product_version_id)
    plan_code = item.plan.code
    try:
        result = rating_rules.price(product, plan_code, inputs)
    except ValidationFailed as exc:
        return origin, [
            FieldError(
                f"insured[{person.position - 1}].{e.field.removeprefix('inputs.')}",
                e.code,
                f"{item.product_version.product.name}：{e.message}",
            )
            for e in exc.errors
        ]
    for candidate in (item.quote, origin):
        if candidate.premium == result.premium and candidate.inputs == result.inputs:
            return candidate, []
    quote = Quote(
        product_version_id=item.product_version_id,
        plan_id=item.plan_id,
        inputs=result.inputs,
        steps=result.steps_as_dicts(),
        premium=result.premium,
        engine_version=result.engine_version,
        user=user if getattr(user, "is_authenticated", False) else None,
        channel="application",
    )
    quote.save(force_insert=True)
    return quote, []


def save_data(
    application: Application | Target,
    data: ApplicationData,
    *,
    actor: Any,
    request: HttpRequest | None = None,
) -> Application:
    """Enters or changes the application data. After the customer confirmed, a change sends the
    whole application back to draft: confirmation, underwriting and signatures are void."""
    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        is_agent = (
            actor is not None
            and app.started_by_id is not None
            and getattr(actor, "pk", None) == app.started_by_id
        )
        if not is_agent and not _is_owner(app, actor):
            if (
                app.customer_id is None
                and getattr(actor, "is_authenticated", False)
                and getattr(actor, "is_customer", False)
            ):
                app.customer = actor  # an anonymous start is claimed by the customer who fills it in
            else:
                raise PermissionDenied("无权修改此投保单", code="not_allowed")
        if app.status == ApplicationStatus.AWAITING_PAYMENT:
            raise Conflict(
                "支付进行中，不能修改投保信息；如需修改请先等待支付结果或支付失效", code="payment_in_progress"
            )
        # Read once for the checks and the pricing (the pricing needs both quotes).
        items = list(
            app.items.select_related(
                "product_version__product__insurer", "plan", "insured", "quote", "origin_quote"
            ).order_by("position")
        )
        errors, values = _validate_data(app, data, items=items)
        if errors:
            raise ValidationFailed("application data is invalid", errors=errors)
        before = {"status": app.status, "revision": app.data_revision, "confirmed": app.is_confirmed}
        was_locked = app.status != ApplicationStatus.DRAFT or app.is_confirmed
        persons = _write_data(app, values)
        for_items, items = _assign_items(app, persons, items, user=actor)
        if for_items:
            raise ValidationFailed("application data is invalid", errors=for_items)
        app.data_revision += 1
        if was_locked:
            _back_to_draft(app)
        app.save()
        prefetch_related_objects(persons, "beneficiaries")  # as just written, for the digest and the state
        record_step(
            app,
            "data_saved" if not was_locked else "amended",
            actor=actor,
            request=request,
            page="application/data.html",
            before=before,
            detail={
                "digest": data_digest(app, items=items, persons=persons),
                "insured_count": len(values["persons"]),
                "by_agent": is_agent,
            },
        )
        # A draft now (`_back_to_draft` deleted any signature).
        _remember_loaded(app, items=items, persons=persons, signatures=[])
    return app


def _write_data(app: Application, values: dict[str, Any]) -> list[InsuredPerson]:
    """Writes the validated values; returns the insured persons in position order."""
    a = values["applicant"]
    resident = a["resident"]
    if app.applicant_id_number and app.applicant_id_number != resident.number:
        # A face check of the previous applicant is not the new applicant's.
        app.face_check_id = None
        app.face_passed_at = None
    app.applicant_name = a["name"]
    app.applicant_id_number = resident.number
    app.applicant_id_hash = _hash_id(resident.number)
    app.applicant_birth_date = resident.birth_date
    app.applicant_sex = resident.sex
    app.applicant_phone = a["phone"]
    app.applicant_email = a["email"]
    app.applicant_address = a["address"]
    app.applicant_region = a["region"] or resident.region_code[:2] + "0000"
    app.applicant_occupation = a["occupation"]
    app.subject = values["subject"]
    # The application row is locked: nobody else writes its insured persons meanwhile.
    existing = {p.position: p for p in app.insured_persons.all()}
    written: list[InsuredPerson] = []
    for position, p in enumerate(values["persons"], start=1):
        resident_i = p["resident"]
        fields = {
            "relation": p["relation"],
            "name": p["name"],
            "id_number": resident_i.number,
            "id_hash": _hash_id(resident_i.number),
            "birth_date": resident_i.birth_date,
            "sex": resident_i.sex,
            "phone": p["phone"] or (a["phone"] if p["relation"] == Relation.SELF else ""),
            "occupation": p["occupation"] or (a["occupation"] if p["relation"] == Relation.SELF else ""),
            "occupation_class": p["occupation_class"],
            "health_answers": json.dumps(p["answers"], sort_keys=True),
        }
        found = existing.pop(position, None)
        if found is None:
            person = InsuredPerson.objects.create(application=app, position=position, **fields)
        else:
            person = found
            for name, value in fields.items():
                setattr(person, name, value)
            person.save(update_fields=list(fields))
            person.beneficiaries.all().delete()
        for b in p["beneficiaries"]:
            Beneficiary.objects.create(
                insured=person,
                name=b["name"],
                id_number=b["id"].number,
                id_hash=_hash_id(b["id"].number),
                relation=b["relation"],
                order=b["order"],
                share_percent=b["share"],
            )
        written.append(person)
    app.applicant_id_number = resident.number
    if existing:
        stale = app.insured_persons.filter(pk__in=[p.pk for p in existing.values()])
        ApplicationItem.objects.filter(application=app, insured__in=stale).update(insured=None)
        stale.delete()
    return written


def _assign_items(
    app: Application, persons: Sequence[InsuredPerson], items: Sequence[ApplicationItem], *, user: Any
) -> tuple[list[FieldError], list[ApplicationItem]]:
    """One item per (product, insured person): items are cloned or removed to match the insured
    persons (in position order), each priced on its insured's data. `items` are the application's
    items in position order, read in this transaction (each gets its insured reassigned here).
    Returns the pricing problems and the items now (position order, as `items_of` loads them)."""
    groups: dict[Any, list[ApplicationItem]] = {}
    for item in items:
        groups.setdefault(item.origin_quote_id, []).append(item)
    errors: list[FieldError] = []
    next_position = max((i.position for i in items), default=0) + 1
    total = Decimal(0)
    kept: list[ApplicationItem] = []
    for group in groups.values():
        first = group[0]
        while len(group) < len(persons):
            clone = ApplicationItem.objects.create(
                application=app,
                position=next_position,
                product_version_id=first.product_version_id,
                plan_id=first.plan_id,
                origin_quote_id=first.origin_quote_id,
                quote_id=first.origin_quote_id,
                sum_insured=first.sum_insured,
                base_premium=first.base_premium,
                premium=first.premium,
            )
            next_position += 1
            group.append(
                ApplicationItem.objects.select_related(
                    "product_version__product__insurer", "plan", "origin_quote"
                ).get(pk=clone.pk)
            )
        for extra in group[len(persons) :]:
            extra.delete()
        kept.extend(group[: len(persons)])
        for item, person in zip(group, persons, strict=False):
            quote, problems = _reprice(item, person, user=user)
            errors.extend(problems)
            item.insured = person
            item.quote = quote
            item.base_premium = item.premium = quote.premium
            item.loading_percent = Decimal(0)
            item.exclusions = []
            item.underwriting_outcome = UnderwritingOutcome.PENDING
            item.underwriting_reasons = []
            item.save()
            total += quote.premium
    app.total_premium = to_fen(total)
    return errors, sorted(kept, key=lambda i: i.position)


def _back_to_draft(app: Application) -> None:
    """Voids confirmation, underwriting, agreement and signatures (the caller saves `app`)."""
    if app.status != ApplicationStatus.DRAFT:
        _move(app, ApplicationStatus.DRAFT)
    app.confirmed_revision = None
    app.confirmed_digest = ""
    app.confirmed_at = None
    app.terms_agreed_at = None
    app.signed_at = None
    app.application_form = None
    app.signatures.all().delete()
    from huibao.underwriting.services import withdraw_open_cases

    withdraw_open_cases(app)


# --- 3. identity ---------------------------------------------------------------------------------


def verify_identity(
    application: Application | Target,
    *,
    name: str,
    id_number: str,
    user: Any,
    request: HttpRequest | None = None,
) -> Application:
    """Real-name check of the applicant by the identity provider; the name and ID must be the
    applicant's on the application."""
    from huibao.identity.services import verify_real_name

    with transaction.atomic():
        app = _locked(application)  # a stranger's answer (404) comes before any other
        resident = validate_resident_id(id_number, field="id_number")
        _require_open(app)
        _require_owner(app, user)
        if not app.applicant_name:
            raise Conflict("请先填写投保人信息", code="data_missing")
        if normalise_person_name(name) != app.applicant_name or resident.number != app.applicant_id_number:
            raise ValidationFailed(
                "not the applicant",
                errors=[
                    FieldError(
                        "id_number", "not_applicant", "实名认证须为投保人本人：姓名和身份证号须与投保信息一致"
                    )
                ],
            )
    check = verify_real_name(
        name=name.strip(),
        id_number=resident.number,
        reference_kind=REFERENCE_KIND,
        reference_id=str(app.public_id),
        request=request,
        actor=user,
    )
    with transaction.atomic():
        app = _locked(app)
        verified = check.status == "verified"
        if verified:
            app.identity_check_id = check.pk
            app.identity_verified_at = timezone.now()
            app.save(update_fields=["identity_check_id", "identity_verified_at", "updated_at"])
            _remember_identity(app, check)  # the row just written: no need to read it back
        record_step(
            app,
            "identity_checked",
            actor=user,
            request=request,
            page="application/identity.html",
            detail={"result": check.status, "check": check.pk, "provider": check.provider},
        )
    if not verified:
        raise ValidationFailed(
            "identity not verified", errors=[FieldError("id_number", str(check.status), check.message)]
        )
    return app


_IDENTITY_MEMO = "_identity_is_current"


def identity_is_current(app: Application) -> bool:
    """The verified identity is the applicant's current one (a changed ID needs a new check).

    Remembered on the instance for its current check and ID number (an identity check row never
    changes once written), so one request asks the database once."""
    if app.identity_check_id is None:
        return False
    key = (app.identity_check_id, app.applicant_id_number)
    memo = app.__dict__.get(_IDENTITY_MEMO)
    if memo is not None and memo[0] == key:
        return bool(memo[1])
    from huibao.identity.models import IdentityCheck

    check = IdentityCheck.objects.filter(pk=app.identity_check_id).only("id_number_hash", "status").first()
    return _remember_identity(app, check)


def _remember_identity(app: Application, check: Any) -> bool:
    """Whether `check` (the application's identity check, or None) verifies the applicant's
    current ID number; remembered on the instance for that check and number."""
    current = bool(
        check is not None
        and check.status == "verified"
        and check.id_number_hash == lookup_hash(app.applicant_id_number, context=_identity_hash_context())
    )
    app.__dict__[_IDENTITY_MEMO] = ((app.identity_check_id, app.applicant_id_number), current)
    return current


def _identity_hash_context() -> str:
    from huibao.identity import services as identity_services

    return str(getattr(identity_services, "ID_HASH_CONTEXT", "identity.id_number"))


# --- 4. confirmation and underwriting -------------------------------------------------------------


def _missing_data(app: Application, items: Sequence[ApplicationItem]) -> list[FieldError]:
    errors = []
    if not app.applicant_name:
        errors.append(FieldError("applicant", "required", "请填写投保人信息"))
    if any(i.insured_id is None for i in items):
        errors.append(FieldError("insured", "required", "请填写被保险人信息"))
    return errors


def _missing_for_confirmation(app: Application, items: Sequence[ApplicationItem]) -> list[FieldError]:
    errors = _missing_data(app, items)
    if not identity_is_current(app):
        errors.append(FieldError("identity", "not_verified", "请先完成投保人实名认证"))
    return errors


def confirm(
    application: Application | Target,
    *,
    user: Any,
    request: HttpRequest | None = None,
    expected_revision: int | None = None,
) -> Application:
    """The customer confirms the data they checked: it is locked and underwritten.
    `expected_revision`: the data revision the customer was shown; if the data changed since
    (another tab, the agent), nothing is confirmed."""
    from huibao.underwriting.services import underwrite_application

    with transaction.atomic():
        app = _locked(application)
        _require_owner(app, user)
        if app.status != ApplicationStatus.DRAFT:
            raise Conflict("投保信息已确认", code="already_confirmed")
        _require_not_expired(app)
        if expected_revision is not None and expected_revision != app.data_revision:
            raise Conflict("投保信息刚刚有修改，请重新核对后再确认", code="data_changed")
        # Locked here for the underwriting, which writes their outcomes and premiums in place.
        items = list(
            app.items.select_for_update(of=("self",))
            .select_related("product_version__product__insurer", "plan", "insured")
            .order_by("position")
        )
        errors = _missing_for_confirmation(app, items) + _not_on_sale(items)
        if errors:
            raise ValidationFailed("cannot confirm yet", errors=errors)
        app.confirmed_revision = app.data_revision
        app.confirmed_at = timezone.now()
        # Sets the items' outcomes and premiums and `app.total_premium`, in the rows and here.
        underwrite_application(app, actor=user, request=request, items=items)
        outcome = overall_outcome(i.underwriting_outcome for i in items)
        persons = list(app.insured_persons.prefetch_related("beneficiaries").order_by("position"))
        # The confirmed data with the premiums as underwritten (a loading changes them; the
        # customer accepts it separately in `agree_terms`).
        app.confirmed_digest = data_digest(app, items=items, persons=persons)
        app.face_required = any(rules_of(i).face_check_required(app.total_premium) for i in items)
        _apply_outcome(app, outcome)
        app.save()
        record_step(
            app,
            "confirmed",
            actor=user,
            request=request,
            page="application/review.html",
            detail={
                "digest": app.confirmed_digest,
                "underwriting": outcome,
                "total_premium": app.total_premium,
            },
        )
        # Confirmed from a draft, which has no signature (`_back_to_draft` deletes them).
        _remember_loaded(app, items=items, persons=persons, signatures=[])
    return app


def overall_outcome(outcomes: Iterable[str]) -> str:
    """The application's outcome from its items'. A bundle is declined only when every product
    is: otherwise the others decide (refer while one waits for an underwriter, terms when one has
    a loading or an exclusion), and the declined products wait for the customer's choice —
    continue without them (`drop_declined_items`) or stop (`cancel`); signing waits until then."""
    values = list(outcomes)
    kept = [o for o in values if o != UnderwritingOutcome.DECLINE]
    if not kept:
        return UnderwritingOutcome.DECLINE
    if UnderwritingOutcome.REFER in kept or UnderwritingOutcome.PENDING in kept:
        return UnderwritingOutcome.REFER
    if UnderwritingOutcome.ACCEPT_WITH_TERMS in kept:
        return UnderwritingOutcome.ACCEPT_WITH_TERMS
    return UnderwritingOutcome.ACCEPT


def declined_items(items: Iterable[ApplicationItem]) -> list[ApplicationItem]:
    """The items the underwriting declined, in an application that goes on with the others."""
    return [i for i in items if i.underwriting_outcome == UnderwritingOutcome.DECLINE]


def _apply_outcome(app: Application, outcome: str) -> None:
    if outcome == UnderwritingOutcome.DECLINE:
        _move(app, ApplicationStatus.DECLINED)
    elif outcome == UnderwritingOutcome.REFER:
        _move(app, ApplicationStatus.REFERRED)
    else:
        _move(app, ApplicationStatus.ACCEPTED)
        if outcome == UnderwritingOutcome.ACCEPT:
            app.terms_agreed_at = app.confirmed_at


def resume_after_referral(
    application: Application, *, actor: Any, request: HttpRequest | None = None
) -> Application:
    """Called when an underwriter decided the last open case of the application."""
    with transaction.atomic():
        app = _locked(application)
        if app.status != ApplicationStatus.REFERRED:
            return app
        outcomes = [i.underwriting_outcome for i in app.items.all()]
        if UnderwritingOutcome.REFER in outcomes or UnderwritingOutcome.PENDING in outcomes:
            return app
        app.total_premium = to_fen(
            sum(
                (i.premium for i in app.items.all() if i.underwriting_outcome != UnderwritingOutcome.DECLINE),
                Decimal(0),
            )
        )
        overall = overall_outcome(outcomes)
        if app.is_confirmed:
            # The underwriter's terms changed the premiums of the data the customer confirmed.
            app.confirmed_digest = data_digest(app)
        app.face_required = any(rules_of(i).face_check_required(app.total_premium) for i in items_of(app))
        _apply_outcome(app, overall)
        app.save()
        record_step(app, "underwriting_decided", actor=actor, request=request, detail={"outcome": overall})
    return app


def drop_declined_items(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> Application:
    """The customer continues without the products of the bundle the underwriting declined: those
    items (and an insured person left without any) are removed, the total is re-computed, and
    the reduced application is what the customer now confirms (they chose it on this step)."""
    with transaction.atomic():
        app = _locked(application)
        _require_owner(app, user)
        items = items_of(app)
        declined = declined_items(items)
        if app.status != ApplicationStatus.ACCEPTED or not declined:
            raise Conflict("当前没有需要移除的拒保产品", code="nothing_declined")
        kept = [i for i in items if i not in declined]
        removed = [
            {
                "item": i.position,
                "product": i.product_version.product.code,
                "product_version": i.product_version_id,
                "insured": i.insured.position if i.insured else None,
                "reasons": i.underwriting_reasons,
                "cases": list(
                    i.cases.values("id", "status", "decision", "decision_reasons", "decided_by_id")
                ),
            }
            for i in declined
        ]
        before = {"status": app.status, "revision": app.data_revision, "total_premium": app.total_premium}
        ApplicationItem.objects.filter(pk__in=[i.pk for i in declined]).delete()
        keep_persons = {i.insured_id for i in kept if i.insured_id is not None}
        app.insured_persons.exclude(pk__in=keep_persons).delete()
        app.total_premium = to_fen(sum((i.premium for i in kept), Decimal(0)))
        app.face_required = any(rules_of(i).face_check_required(app.total_premium) for i in kept)
        app.signatures.all().delete()
        app.signed_at = None
        app.application_form = None
        app.data_revision += 1
        app.confirmed_revision = app.data_revision
        app.confirmed_digest = data_digest(app, items=kept)
        app.confirmed_at = timezone.now()
        app.save()
        record_step(
            app,
            "declined_items_removed",
            actor=user,
            request=request,
            page="application/review.html",
            before=before,
            detail={
                "removed": removed,
                "digest": app.confirmed_digest,
                "total_premium": app.total_premium,
            },
        )
    return app


def needs_terms_agreement(app: Application) -> bool:
    return app.status == ApplicationStatus.ACCEPTED and app.terms_agreed_at is None


def agree_terms(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> Application:
    """The customer accepts the loading and/or exclusions the underwriting set."""
    with transaction.atomic():
        app = _locked(application)
        _require_owner(app, user)
        if app.status != ApplicationStatus.ACCEPTED:
            raise Conflict("当前无需确认核保条件", code="no_terms")
        if app.terms_agreed_at is None:
            app.terms_agreed_at = timezone.now()
            app.save(update_fields=["terms_agreed_at", "updated_at"])
            terms = [
                {"item": i.position, "loading_percent": i.loading_percent, "exclusions": i.exclusions}
                for i in app.items.all()
            ]
            record_step(
                app,
                "terms_agreed",
                actor=user,
                request=request,
                page="application/terms.html",
                detail={"terms": terms},
            )
    return app


# --- 5. disclosure -------------------------------------------------------------------------------


def _document_of(app: Application, document_id: int) -> Document:
    doc = next((d for d in required_documents(app) if d.pk == int(document_id)), None)
    if doc is None:
        # A document of the same text shared by several products is read once, under the first.
        raise NotFound(
            "该文件不属于此投保单",
            errors=[FieldError("document", "unknown_document", "该文件不属于此投保单")],
        )
    return doc


def open_document(
    application: Application | Target, document_id: int, *, user: Any, request: HttpRequest | None = None
) -> DisclosureReading:
    """The document is shown: the reading clock starts on the server (once)."""
    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        _require_owner(app, user)
        doc = _document_of(app, document_id)
        # The application row is locked: no concurrent open of the same document can race here.
        reading = DisclosureReading.objects.filter(application=app, content_sha256=_doc_key(doc)).first()
        if reading is not None:
            _share_document(reading, doc)
        else:
            reading = DisclosureReading.objects.create(
                application=app, content_sha256=_doc_key(doc), document=doc, opened_at=timezone.now()
            )
            record_step(
                app,
                "document_opened",
                actor=user,
                request=request,
                page="application/document.html",
                detail={
                    "document": doc.pk,
                    "kind": doc.kind,
                    "title": doc.title,
                    "content_sha256": doc.content_sha256,
                    "product_version": doc.version_id,
                    "min_read_seconds": doc.min_read_seconds,
                },
            )
    return reading


def finish_reading(
    application: Application | Target,
    document_id: int,
    *,
    scrolled_to_end: bool,
    user: Any,
    request: HttpRequest | None = None,
    now: datetime.datetime | None = None,
) -> DisclosureReading:
    """Marks a document read: it must have been opened, scrolled to its end and open at least
    its minimum time, all measured by the server."""
    now = now or timezone.now()
    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        _require_owner(app, user)
        doc = _document_of(app, document_id)
        reading = DisclosureReading.objects.filter(application=app, content_sha256=_doc_key(doc)).first()
        if reading is not None:
            _share_document(reading, doc)
        if reading is None:
            raise ValidationFailed(
                "open it first",
                errors=[FieldError("document", "not_opened", f"请先打开并阅读《{doc.title}》")],
            )
        if reading.completed_at is not None:
            return reading
        if not scrolled_to_end:
            raise ValidationFailed(
                "scroll to the end",
                errors=[FieldError("scrolled_to_end", "not_scrolled", f"请将《{doc.title}》滑动阅读至文末")],
            )
        elapsed = (now - reading.opened_at).total_seconds()
        if elapsed < doc.min_read_seconds:
            left = int(doc.min_read_seconds - elapsed + 0.999)
            raise ValidationFailed(
                "reading time too short",
                errors=[
                    FieldError(
                        "reading_time",
                        "too_short",
                        f"《{doc.title}》需阅读至少{doc.min_read_seconds}秒，还需{left}秒",
                    )
                ],
            )
        reading.scrolled_to_end_at = now
        reading.completed_at = now
        reading.seconds_open = int(elapsed)
        reading.save(update_fields=["scrolled_to_end_at", "completed_at", "seconds_open"])
        record_step(
            app,
            "document_read",
            actor=user,
            request=request,
            page="application/document.html",
            detail={
                "document": doc.pk,
                "title": doc.title,
                "content_sha256": doc.content_sha256,
                "seconds_open": int(elapsed),
                "opened_at": reading.opened_at,
            },
        )
    return reading


def _share_document(row: DisclosureReading | ClauseConfirmation, doc: Document) -> None:
    """Caches the document already loaded on a reading/confirmation row that points at it."""
    if row.document_id == doc.pk:
        row.document = doc


def key_clauses(
    app: Application, *, documents: Sequence[Document] | None = None
) -> list[tuple[Document, dict[str, Any]]]:
    """Every key clause to show and confirm, in order: (document, clause).

    `documents` (what `required_documents` returned in this request) saves reading them again."""
    docs = documents if documents is not None else required_documents(app)
    return [(doc, clause) for doc in docs for clause in (doc.key_clauses or [])]


def _clause(
    clauses: Sequence[tuple[Document, dict[str, Any]]], document_id: int, clause_code: str
) -> tuple[int, Document, dict[str, Any]]:
    for index, (doc, clause) in enumerate(clauses):
        if doc.pk == int(document_id) and clause.get("code") == clause_code:
            return index, doc, clause
    raise NotFound(
        "该条款不属于此投保单", errors=[FieldError("clause", "unknown_clause", "该条款不属于此投保单")]
    )


def _clause_row(app: Application, doc: Document, clause_code: str) -> ClauseConfirmation | None:
    """The clause's row for this text if it was shown (tied to `doc` when another product of the
    bundle shares the text)."""
    row = ClauseConfirmation.objects.filter(
        application=app, content_sha256=_doc_key(doc), clause_code=clause_code
    ).first()
    if row is not None:
        _share_document(row, doc)
    return row


def show_clause(
    application: Application | Target,
    document_id: int,
    clause_code: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
) -> ClauseConfirmation:
    """A key clause is shown on its own; the previous one must be confirmed first."""
    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        _require_owner(app, user)
        clauses = key_clauses(app)
        index, doc, clause = _clause(clauses, document_id, clause_code)
        # A key clause comes after its document was read through (the page leads there; the server
        # holds to it for every client).
        if not DisclosureReading.objects.filter(
            application=app, content_sha256=_doc_key(doc), completed_at__isnull=False
        ).exists():
            raise ValidationFailed(
                "read the document first",
                errors=[FieldError("clause", "document_not_read", f"请先阅读完《{doc.title}》")],
            )
        # One read of the application's clause rows: the confirmed ones and this clause's own.
        rows = {
            (c.content_sha256, c.clause_code): c for c in ClauseConfirmation.objects.filter(application=app)
        }
        for earlier_doc, earlier in clauses[:index]:
            earlier_row = rows.get((_doc_key(earlier_doc), earlier["code"]))
            if earlier_row is None or earlier_row.confirmed_at is None:
                raise ValidationFailed(
                    "confirm in order",
                    errors=[FieldError("clause", "previous_not_confirmed", f"请先确认“{earlier['title']}”")],
                )
        # The application row is locked: no concurrent show of the same clause can race here.
        row = rows.get((_doc_key(doc), clause_code))
        if row is not None:
            _share_document(row, doc)
        if row is None:
            row = ClauseConfirmation.objects.create(
                application=app,
                content_sha256=_doc_key(doc),
                clause_code=clause_code,
                document=doc,
                shown_at=timezone.now(),
            )
            record_step(
                app,
                "clause_shown",
                actor=user,
                request=request,
                page="application/clause.html",
                detail={
                    "document": doc.pk,
                    "clause": clause_code,
                    "title": clause.get("title", ""),
                    "kind": clause.get("kind", ""),
                },
            )
    return row


def confirm_clause(
    application: Application | Target,
    document_id: int,
    clause_code: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
) -> ClauseConfirmation:
    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        _require_owner(app, user)
        _index, doc, clause = _clause(key_clauses(app), document_id, clause_code)
        row = _clause_row(app, doc, clause_code)
        if row is None:
            raise ValidationFailed(
                "show it first",
                errors=[FieldError("clause", "not_shown", f"请先阅读“{clause.get('title', '')}”")],
            )
        if row.confirmed_at is None:
            row.confirmed_at = timezone.now()
            row.save(update_fields=["confirmed_at"])
            record_step(
                app,
                "clause_confirmed",
                actor=user,
                request=request,
                page="application/clause.html",
                detail={
                    "document": doc.pk,
                    "clause": clause_code,
                    "title": clause.get("title", ""),
                    "text_sha256": hashlib.sha256(str(clause.get("text", "")).encode()).hexdigest(),
                    "seconds_shown": int((row.confirmed_at - row.shown_at).total_seconds()),
                },
            )
    return row


def show_next_clause(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> ClauseConfirmation | None:
    """Shows the first key clause not yet confirmed, exactly as `show_clause` would (recorded as
    shown); None when every clause is confirmed or the next one cannot be shown yet (its document
    is not read through). Nothing changes then."""
    with transaction.atomic():
        app = _locked(application)
        confirmed = set(
            ClauseConfirmation.objects.filter(application=app, confirmed_at__isnull=False).values_list(
                "content_sha256", "clause_code"
            )
        )
        for doc, clause in key_clauses(app):
            if (_doc_key(doc), clause["code"]) in confirmed:
                continue
            try:
                return show_clause(app, doc.pk, clause["code"], user=user, request=request)
            except ValidationFailed:
                return None  # its document is not read yet: it is shown after the reading
        return None


def confirm_clause_and_show_next(
    application: Application | Target,
    document_id: int,
    clause_code: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
) -> tuple[ClauseConfirmation, ClauseConfirmation | None]:
    """Confirms a key clause and, in the same transaction, shows the next one (`show_next_clause`)
    — what a client does next anyway, in one round trip instead of two: a phone on a slow network
    waits once."""
    with transaction.atomic():
        app = _locked(application)  # a stranger gets the same 404 as from `confirm_clause`
        row = confirm_clause(app, document_id, clause_code, user=user, request=request)
        return row, show_next_clause(app, user=user, request=request)


def finish_reading_and_show_next(
    application: Application | Target,
    document_id: int,
    *,
    scrolled_to_end: bool,
    user: Any,
    request: HttpRequest | None = None,
) -> tuple[DisclosureReading, ClauseConfirmation | None]:
    """Finishes a reading (`finish_reading`, with all its checks) and shows the first key clause
    it unlocks (`show_next_clause`), in one transaction and one round trip."""
    with transaction.atomic():
        app = _locked(application)
        reading = finish_reading(
            app, document_id, scrolled_to_end=scrolled_to_end, user=user, request=request
        )
        return reading, show_next_clause(app, user=user, request=request)


def disclosure_progress(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    documents: Sequence[Document] | None = None,
    readings: Iterable[DisclosureReading] | None = None,
    confirmations: Iterable[ClauseConfirmation] | None = None,
) -> dict[str, Any]:
    """Documents and key clauses, with what was read and confirmed. `items` / `documents` /
    `readings` / `confirmations` (all the application's rows) loaded in this request save reading
    them again."""
    docs = list(documents) if documents is not None else required_documents(app, items=items)
    readings_by_key = {
        r.content_sha256: r for r in (readings if readings is not None else app.readings.all())
    }
    clauses = key_clauses(app, documents=docs)
    confirmations_by_key = {
        (c.content_sha256, c.clause_code): c
        for c in (confirmations if confirmations is not None else app.clause_confirmations.all())
    }
    unread = [
        d
        for d in docs
        if not (readings_by_key.get(_doc_key(d)) and readings_by_key[_doc_key(d)].completed_at)
    ]
    unconfirmed = [
        (d, c)
        for d, c in clauses
        if not (
            confirmations_by_key.get((_doc_key(d), c["code"]))
            and confirmations_by_key[(_doc_key(d), c["code"])].confirmed_at
        )
    ]
    return {
        "documents": docs,
        "readings": readings_by_key,
        "clauses": clauses,
        "confirmations": confirmations_by_key,
        "unread": unread,
        "unconfirmed": unconfirmed,
        "complete": not unread and not unconfirmed,
    }


# --- face check ----------------------------------------------------------------------------------


def start_face_check(
    application: Application | Target, *, user: Any, return_url: str, request: HttpRequest | None = None
) -> str:
    """Opens a face check session for the applicant; returns the provider's page URL."""
    from huibao.identity.services import start_face_check as start

    with transaction.atomic():
        app = _locked(application)
        _require_open(app)
        _require_owner(app, user)
        if not identity_is_current(app):
            raise ValidationFailed(
                "identity first", errors=[FieldError("identity", "not_verified", "请先完成实名认证")]
            )
        check = start(
            name=app.applicant_name,
            id_number=app.applicant_id_number,
            reference_kind=REFERENCE_KIND,
            reference_id=str(app.public_id),
            return_url=return_url,
            request=request,
        )
        app.face_check_id = check.pk
        app.save(update_fields=["face_check_id", "updated_at"])
        record_step(
            app,
            "face_check_started",
            actor=user,
            request=request,
            page="application/face.html",
            detail={"face_check": check.pk},
        )
    return str(check.session_url)


def on_face_result(face_check: Any) -> None:
    """Face-check hook (runs in the transaction recording the provider's signed result)."""
    app = Application.objects.select_for_update().filter(public_id=face_check.reference_id).first()
    if app is None or app.face_check_id != face_check.pk:
        return
    passed = face_check.status == "passed"
    if passed:
        app.face_passed_at = timezone.now()
        app.save(update_fields=["face_passed_at", "updated_at"])
    record_step(
        app,
        "face_checked",
        actor="identity:face",
        detail={
            "face_check": face_check.pk,
            "result": face_check.status,
            "reason": getattr(face_check, "failure_reason", ""),
        },
    )


# --- 6. signatures -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureRequirement:
    role: str
    insured_position: int | None
    name: str
    method: str


def signature_method(app: Application, *, items: Sequence[ApplicationItem] | None = None) -> str:
    methods = {rules_of(i).signature for i in (items if items is not None else items_of(app))}
    return (
        SignatureMethod.HANDWRITTEN
        if SignatureMethod.HANDWRITTEN in methods
        else SignatureMethod.CONFIRMATION
    )


def required_signatures(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    persons: Sequence[InsuredPerson] | None = None,
) -> list[SignatureRequirement]:
    """The applicant always; an insured adult other than the applicant when a product with death
    cover needs the insured's written consent (保险法第34条).

    `items` (as `items_of` returns them) and `persons` (the insured persons in position order),
    loaded in this request, save reading them again."""
    if items is None:
        items = items_of(app)
    if persons is None:
        persons = list(app.insured_persons.order_by("position"))
    method = signature_method(app, items=items)
    needed = [SignatureRequirement(SignerRole.APPLICANT, None, app.applicant_name, method)]
    today = timezone.localdate()
    items_by_person: dict[int, list[ApplicationItem]] = {}
    for item in items:
        if item.insured_id is not None:
            items_by_person.setdefault(item.insured_id, []).append(item)
    for person in persons:
        if person.relation == Relation.SELF or app_rules.age_on(person.birth_date, today) < 18:
            continue
        if any(rules_of(i).insured_consent_for_death_cover for i in items_by_person.get(person.pk, [])):
            needed.append(
                SignatureRequirement(
                    SignerRole.INSURED, person.position, person.name, SignatureMethod.HANDWRITTEN
                )
            )
    return needed


def missing_before_signing(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    persons: Sequence[InsuredPerson] | None = None,
    progress: dict[str, Any] | None = None,
) -> list[FieldError]:
    """What still stands before signing. `items` / `persons` as for `data_digest`; `progress`
    (`disclosure_progress` of this request) saves reading the readings again."""
    errors: list[FieldError] = []
    if app.status != ApplicationStatus.ACCEPTED:
        errors.append(
            FieldError(
                "status", "not_accepted", f"投保单当前状态为“{ApplicationStatus(app.status).label}”，不能签名"
            )
        )
        return errors
    if items is None:
        items = items_of(app)
    for item in declined_items(items):
        errors.append(
            FieldError(
                "items",
                "item_declined",
                f"“{item.product_version.product.name}”核保未通过（拒保），"
                "请选择不投保该产品继续投保，或撤销投保单",
            )
        )
    if not app.is_confirmed or app.confirmed_digest != data_digest(app, items=items, persons=persons):
        errors.append(FieldError("confirmation", "not_confirmed", "请先确认投保信息"))
    if app.terms_agreed_at is None:
        errors.append(FieldError("terms", "not_agreed", "请先确认核保结论（加费或除外责任）"))
    if progress is None:
        progress = disclosure_progress(app, items=items)
    for doc in progress["unread"]:
        errors.append(FieldError("documents", "unread", f"请先阅读《{doc.title}》"))
    for _doc, clause in progress["unconfirmed"]:
        errors.append(FieldError("clauses", "unconfirmed", f"请逐条确认“{clause.get('title', '')}”"))
    if not identity_is_current(app):
        errors.append(FieldError("identity", "not_verified", "请先完成实名认证"))
    if app.face_required and app.face_passed_at is None:
        errors.append(FieldError("face", "not_passed", "本次投保需要完成人脸识别"))
    return errors


def sign(
    application: Application | Target,
    *,
    user: Any,
    role: str = SignerRole.APPLICANT,
    insured_position: int | None = None,
    ink: str | Mapping[str, Any] | None = None,
    confirmed: bool = False,
    request: HttpRequest | None = None,
) -> Application:
    """Records one signature; when every required signature is there the application is signed
    and its application form PDF is made (a background task renders and PAdES-signs it)."""
    from huibao.esign import handwriting

    with transaction.atomic():
        app = _locked(application)
        _require_owner(app, user)
        _require_not_expired(app)
        items = items_of(app)
        persons = list(app.insured_persons.prefetch_related("beneficiaries").order_by("position"))
        progress = disclosure_progress(app, items=items)
        problems = missing_before_signing(app, items=items, persons=persons, progress=progress)
        if problems:
            raise ValidationFailed("not ready to sign", errors=problems)
        needed = required_signatures(app, items=items, persons=persons)
        requirement = next(
            (
                n
                for n in needed
                if n.role == role and (role == SignerRole.APPLICANT or n.insured_position == insured_position)
            ),
            None,
        )
        if requirement is None:
            raise ValidationFailed(
                "no such signer", errors=[FieldError("role", "not_required", "无需该签名")]
            )
        image_b64 = ""
        ink_json = ""
        if requirement.method == SignatureMethod.HANDWRITTEN:
            parsed = handwriting.parse_strokes(ink if isinstance(ink, str) else dict(ink or {}))
            refusals = handwriting.check_handwritten_signature(parsed, requirement.name)
            if refusals:
                raise ValidationFailed("signature refused", errors=refusals)
            image_b64 = base64.b64encode(handwriting.render_signature_png(parsed)).decode()
            ink_json = ink if isinstance(ink, str) else json.dumps(ink)
        elif not confirmed:
            raise ValidationFailed(
                "confirm to sign",
                errors=[FieldError("confirmed", "required", "请勾选确认以上投保信息真实、已阅读并同意条款")],
            )
        insured = (
            next((p for p in persons if p.position == insured_position), None)
            if role == SignerRole.INSURED and insured_position is not None
            else None
        )
        # The application row is locked: its signatures change only here (and when it goes back
        # to draft), so those read now, with the new one, are all of them at the end.
        signatures = list(app.signatures.only("role", "insured", "signed_at"))
        insured_id = insured.pk if insured is not None else None
        replaced = [s.pk for s in signatures if s.role == role and s.insured_id == insured_id]
        if replaced:  # signing again replaces the signer's signature
            Signature.objects.filter(pk__in=replaced).delete()
            signatures = [s for s in signatures if s.pk not in replaced]
        digest = app.confirmed_digest
        signature = Signature.objects.create(
            application=app,
            role=role,
            insured=insured,
            signer_name=requirement.name,
            method=requirement.method,
            ink=ink_json,
            image_png_b64=image_b64,
            data_revision=app.data_revision,
            data_digest=digest,
            signed_at=timezone.now(),
            ip=_client_ip(request),
            user_agent=(request.META.get("HTTP_USER_AGENT", "")[:512] if request else ""),
        )
        record_step(
            app,
            "signed",
            actor=user,
            request=request,
            page="application/sign.html",
            detail={
                "role": role,
                "insured": insured_position,
                "method": requirement.method,
                "data_digest": digest,
                "image_sha256": hashlib.sha256(image_b64.encode()).hexdigest() if image_b64 else "",
            },
        )
        signatures.append(signature)
        # A signature's insured is one of the application's insured persons.
        positions = {p.pk: p.position for p in persons}
        have = {(s.role, _signer_position(s, positions)) for s in signatures}
        if all((n.role, n.insured_position) in have for n in needed):
            _move(app, ApplicationStatus.SIGNED)
            app.signed_at = timezone.now()
            app.save(update_fields=["status", "signed_at", "updated_at"])
            record_step(app, "signing_complete", actor=user, request=request)
            public_id = str(app.public_id)
            transaction.on_commit(lambda: _enqueue_form(public_id))
        # Signing changes neither the items, the persons nor what was read and confirmed.
        _remember_loaded(
            app,
            items=items,
            persons=persons,
            readings=list(progress["readings"].values()),
            confirmations=list(progress["confirmations"].values()),
            signatures=signatures,
        )
    return app


def _signer_position(signature: Signature, positions: Mapping[int, int]) -> int | None:
    """The position of the signature's insured person (None for the applicant's); `positions`
    maps the application's insured persons' ids to their positions."""
    if signature.insured_id is None:
        return None
    found = positions.get(signature.insured_id)
    return found if found is not None else signature.insured.position if signature.insured else None


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    from huibao.core.http import client_ip

    return client_ip(request)


def _enqueue_form(public_id: str) -> None:
    from huibao.application.tasks import render_application_form

    render_application_form.enqueue(public_id)


# --- 7. payment and issuance ---------------------------------------------------------------------


def pay(application: Application | Target, *, user: Any, request: HttpRequest | None = None) -> Any:
    """Opens (or returns the open) real-name payment of the applicant for the total premium.
    Retries and double clicks return the same payment; a failed or expired one is replaced."""
    from huibao.payment.models import Payment
    from huibao.payment.services import create_payment
    from huibao.payment.states import OPEN_STATUSES as PAYMENT_OPEN

    with transaction.atomic():
        app = _locked(application)
        _require_owner(app, user)
        if app.status == ApplicationStatus.AWAITING_PAYMENT:
            current = Payment.objects.filter(pk=app.payment_id).first() if app.payment_id else None
            if current is not None and current.status in PAYMENT_OPEN and current.expires_at > timezone.now():
                return current
            if current is not None and current.status == "succeeded":
                raise Conflict("已支付成功，正在出单", code="already_paid")
            _move(app, ApplicationStatus.SIGNED)
        if app.status != ApplicationStatus.SIGNED:
            raise Conflict(
                f"投保单当前状态为“{ApplicationStatus(app.status).label}”，不能支付", code="not_payable"
            )
        _require_not_expired(app)
        payment = create_payment(
            amount=app.total_premium,
            payer_name=app.applicant_name,
            payer_id_number=app.applicant_id_number,
            reference_kind=REFERENCE_KIND,
            reference_id=str(app.public_id),
            expires_in=payment_ttl(),
        )
        _move(app, ApplicationStatus.AWAITING_PAYMENT)
        app.payment_id = payment.pk
        app.save(update_fields=["status", "payment_id", "updated_at"])
        record_step(
            app,
            "payment_opened",
            actor=user,
            request=request,
            page="application/pay.html",
            detail={
                "payment": str(payment.public_id),
                "amount": payment.amount,
                "provider": payment.provider,
            },
        )
    return payment


def on_payment_confirmed(payment: Any) -> None:
    """Paid hook: runs inside the transaction that marks the payment succeeded (exactly once per
    payment). Issues the policies; money for an application that can no longer be issued (it
    expired, was cancelled or changed meanwhile) is refunded at once."""
    app = Application.objects.select_for_update().filter(public_id=payment.reference_id).first()
    if app is None:
        return
    if app.status != ApplicationStatus.AWAITING_PAYMENT or app.payment_id != payment.pk:
        from huibao.payment.services import refund

        record_step(
            app,
            "payment_refused",
            actor="system",
            detail={"payment": str(payment.public_id), "status": app.status},
        )
        transaction.on_commit(lambda: refund(payment, payment.amount, "投保单已失效或已变更"))
        return
    _issue(app, payment)


def _issue(app: Application, payment: Any) -> None:
    from huibao.policy.services import issue_policies

    now = timezone.now()
    app.paid_at = payment.paid_at or now
    # `app` was read under its lock in this transaction; the save below writes its retention.
    policies = issue_policies(app, payment, now=now, locked=True)
    _move(app, ApplicationStatus.ISSUED)
    app.issued_at = now
    app.save()
    record_step(
        app,
        "issued",
        actor="system",
        detail={
            "payment": str(payment.public_id),
            "amount": payment.amount,
            "policies": [p.number for p in policies],
        },
    )


def recover_paid_applications() -> list[str]:
    """Issues every application whose payment succeeded but which is not issued (e.g. the process
    died, or a hook was not registered, between the payment and the issuance). Idempotent."""
    from huibao.payment.models import Payment

    issued: list[str] = []
    paid = Payment.objects.filter(reference_kind=REFERENCE_KIND, status="succeeded").values_list(
        "pk", "reference_id"
    )
    candidates = {ref: pk for pk, ref in paid}
    stuck = Application.objects.filter(
        public_id__in=list(candidates), status=ApplicationStatus.AWAITING_PAYMENT
    ).values_list("public_id", flat=True)
    for public_id in stuck:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=candidates[str(public_id)])
            app = Application.objects.select_for_update().get(public_id=public_id)
            if app.status == ApplicationStatus.AWAITING_PAYMENT and app.payment_id == payment.pk:
                _issue(app, payment)
                issued.append(app.number)
    return issued


def _payment_ended_unpaid(app: Application) -> bool:
    """True when the application's current payment ended without the money being kept (failed,
    expired, or refused and refunded), or there is none: nothing can still confirm it."""
    if app.payment_id is None:
        return True
    from huibao.payment.models import Payment
    from huibao.payment.states import OPEN_STATUSES as OPEN_PAYMENT_STATUSES
    from huibao.payment.states import PaymentStatus

    status = Payment.objects.filter(pk=app.payment_id).values_list("status", flat=True).first()
    return status is None or (status not in OPEN_PAYMENT_STATUSES and status != PaymentStatus.SUCCEEDED)


def expire_applications(now: datetime.datetime | None = None) -> int:
    """Open applications past their time expire. One awaiting payment expires only once its
    payment has ended unpaid (an open payment expires first; a paid one is issued, or recovered)."""
    now = now or timezone.now()
    count = 0
    ids = Application.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list(
        "pk", flat=True
    )
    for pk in list(ids):
        with transaction.atomic():
            app = Application.objects.select_for_update().get(pk=pk)
            if app.status not in OPEN_STATUSES or app.expires_at > now:
                continue
            if app.status == ApplicationStatus.AWAITING_PAYMENT and not _payment_ended_unpaid(app):
                continue
            _move(app, ApplicationStatus.EXPIRED)
            app.save(update_fields=["status", "retention_until", "updated_at"])
            from huibao.underwriting.services import withdraw_open_cases

            withdraw_open_cases(app)
            record_step(app, "expired", actor="system")
            count += 1
    return count


def cancel(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> Application:
    with transaction.atomic():
        app = _locked(application)
        if not (
            _is_owner(app, user)
            or (app.started_by_id is not None and app.started_by_id == getattr(user, "pk", None))
        ):
            raise PermissionDenied("无权撤销此投保单", code="not_allowed")
        if app.status == ApplicationStatus.AWAITING_PAYMENT and not _payment_ended_unpaid(app):
            raise Conflict("支付进行中，不能撤销", code="payment_in_progress")
        _require_open(app)
        _move(app, ApplicationStatus.CANCELLED)
        app.save(update_fields=["status", "retention_until", "updated_at"])
        from huibao.underwriting.services import withdraw_open_cases

        withdraw_open_cases(app)
        record_step(app, "cancelled", actor=user, request=request)
    return app


def record_page_view(
    application: Application, page: str, *, request: HttpRequest, detail: dict[str, Any] | None = None
) -> None:
    """A page of the flow was shown (with its template version)."""
    record_step(application, "page_viewed", request=request, page=page, detail=detail)


def _user_access(user: Any) -> Q:
    """The applications `user` may reach: their own as the customer (logged in), or one they
    started as the agent."""
    pk = getattr(user, "pk", None)
    if pk is None:
        return Q(pk__in=[])
    access = Q(started_by_id=pk)
    if getattr(user, "is_authenticated", False):
        access |= Q(customer_id=pk)
    return access


def _agent_access(agent: Any) -> Q:
    pk = getattr(agent, "pk", None)
    return Q(started_by_id=pk) if pk is not None else Q(pk__in=[])


def _reachable(public_id: Any, access: Q, *, keys_only: bool) -> Application:
    rows = Application.objects.filter(access, public_id=public_id)
    if keys_only:
        rows = rows.only("pk", "public_id", "customer_id", "started_by_id")
    app = rows.first()
    if app is None:
        raise NotFound("投保单不存在", code="application_not_found")
    return app


def get_for_user(public_id: Any, user: Any, *, keys_only: bool = False) -> Application:
    """The application of this customer, or that the agent started.

    `keys_only` reads just what identifies it and who may act on it; any other field loads on
    access. To hand it to a use-case, `target_for_user` reads nothing at all."""
    return _reachable(public_id, _user_access(user), keys_only=keys_only)


def target_for_user(public_id: Any, user: Any) -> Target:
    """The application `get_for_user` would find, for a use-case to read once under its lock
    (the same `NotFound` for any other)."""
    return Target(public_id=public_id, access=_user_access(user))


def applications_of(user: Any) -> Iterable[Application]:
    return Application.objects.filter(customer=user).order_by("-created_at")


def get_for_agent(public_id: Any, agent: Any, *, keys_only: bool = False) -> Application:
    """An application this agent started (NotFound for any other, as if it did not exist);
    `keys_only` as for `get_for_user`."""
    return _reachable(public_id, _agent_access(agent), keys_only=keys_only)


def target_for_agent(public_id: Any, agent: Any) -> Target:
    """The application `get_for_agent` would find, as `target_for_user`."""
    return Target(public_id=public_id, access=_agent_access(agent))


def applications_started_by(agent: Any) -> QuerySet[Application]:
    """The applications this agent started, newest first (with the customer and the products)."""
    pk = getattr(agent, "pk", None)
    rows = Application.objects.filter(started_by_id=pk) if pk is not None else Application.objects.none()
    return (
        rows.select_related("customer")
        .prefetch_related("items__product_version__product")
        .order_by("-created_at", "-id")
    )
