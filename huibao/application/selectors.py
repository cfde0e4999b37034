"""Reads of applications and the access checkpoints every page, endpoint and use-case goes through."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import router
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from huibao.application import rules as app_rules
from huibao.application.models import (
    Application,
    ApplicationItem,
    Beneficiary,
    ClauseConfirmation,
    DisclosureReading,
    InsuredPerson,
)
from huibao.application.states import ApplicationStatus, UnderwritingOutcome
from huibao.catalog.documents import (
    documents_of_versions,
    frozen_versions,
    is_frozen,
    remember_frozen_versions,
)
from huibao.catalog.models import Document, VersionStatus
from huibao.core.errors import NotFound
from huibao.core.fields import lookup_hash
from huibao.identity.models import IdentityCheck
from huibao.identity.services import ID_HASH_CONTEXT as IDENTITY_HASH_CONTEXT
from huibao.payment.models import Payment

REFERENCE_KIND = "application"


ID_HASH_CONTEXT = "person.id_number"


@dataclass(frozen=True, slots=True)
class Target:
    """An application a caller names for a use-case, not read yet (`target_for_user`,
    `target_for_agent`): the use-case reads it once, under its row lock, and only when `access`
    holds for the row; otherwise `NotFound`, the answer `get_for_user` / `get_for_agent` give a
    stranger (whose row is never locked)."""

    public_id: Any
    access: Q


def items_of(app: Application) -> list[ApplicationItem]:
    """The items in position order, with their product version, product, insurer, plan, insured
    and `payment_mode` (the re-priced quote's, read in the same query; the quote itself, rarely
    needed, loads on access)."""
    return list(
        app.items.select_related("product_version__product__insurer", "plan", "insured")
        .annotate(payment_mode=KeyTextTransform("payment_mode", "quote__inputs"))
        .order_by("position")
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
    # What the state shows of each insured person and what its signatures need:
    # read with the items, so that `insured_persons` takes the persons from them.
    *(
        f"insured__{name}"
        for name in ("application_id", "position", "relation", "name", "id_number", "birth_date", "sex")
    ),
)


# What `state_items(…, with_policies=True)` reads of each item's policy: the columns the state shows.
STATE_POLICY_FIELDS = ("id", "public_id", "number", "status", "effective_at", "expires_at")


def state_items(app: Application, *, with_policies: bool = False) -> list[ApplicationItem]:
    """`items_of` narrowed to `STATE_ITEM_FIELDS` (enough for the application state, its
    documents, rules and signatures); any other field loads on access. `with_policies`: each
    with its policy's `STATE_POLICY_FIELDS` too (a join in the same statement; see
    `issued_policies`)."""
    related = ["product_version__product__insurer", "plan", "insured"]
    fields = list(STATE_ITEM_FIELDS)
    if with_policies:
        related.append("policy")
        fields += [f"policy__{name}" for name in STATE_POLICY_FIELDS]
    return list(
        app.items.select_related(*related)
        .only(*fields)
        .annotate(payment_mode=KeyTextTransform("payment_mode", "quote__inputs"))
        .order_by("position")
    )


def issued_policies(app: Application, items: Sequence[ApplicationItem]) -> list[Any]:
    """The application's policies in the order they were issued, each with `STATE_POLICY_FIELDS`:
    taken from `items` when they were read `with_policies` (an application's policy is its item's:
    issuance gives each item one, and no other policy names an application), else read."""
    if items and all("policy" in i._state.fields_cache for i in items):
        found = [i._state.fields_cache["policy"] for i in items]
        return sorted((p for p in found if p is not None), key=lambda p: p.pk)
    return list(app.policies.order_by("id").only(*STATE_POLICY_FIELDS))


def payment_mode_of(item: ApplicationItem) -> str | None:
    """The item's payment mode: the `payment_mode` the item queries here annotate, else its
    re-priced quote's (read once if not loaded)."""
    if hasattr(item, "payment_mode"):
        mode = item.payment_mode
    else:
        mode = (item.quote.inputs or {}).get("payment_mode")
    return str(mode) if mode else None


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


def _application_versions(app: Application) -> dict[int, bool]:
    """Version id → frozen for the application's items. The set changes only with the data
    revision (`start_application` makes the items at revision 1, `save_data` and
    `drop_declined_items` move the revision on with any change of them) and a frozen version stays
    frozen, so once all are frozen the set is remembered by (public id, data revision)."""
    key = (REFERENCE_KIND, str(app.public_id), int(app.data_revision))
    cached = frozen_versions(key)
    if cached is not None:
        return dict.fromkeys(cached, True)
    versions: dict[int, bool] = {}
    for vid, status in app.items.values_list("product_version_id", "product_version__status"):
        versions[vid] = versions.get(vid, False) or status != VersionStatus.DRAFT
    if versions and all(versions.values()):
        remember_frozen_versions(key, versions)
    return versions


def _item_versions(items: Sequence[ApplicationItem]) -> dict[int, bool]:
    """Version id → frozen, from items loaded with their version (`is_frozen`)."""
    versions: dict[int, bool] = {}
    for item in items:
        frozen = is_frozen(item.product_version)
        versions[item.product_version_id] = versions.get(item.product_version_id, False) or frozen
    return versions


def required_documents(app: Application, *, items: Sequence[ApplicationItem] | None = None) -> list[Document]:
    """Every document of every product, each distinct text (content hash) once.

    `items` (the application's items, loaded in this request with their version) saves reading
    the versions; without them one light query reads the items' versions and statuses (once per
    process and data revision when all are frozen). The documents of frozen versions come from
    the catalog's per-process cache (`huibao.catalog.documents`)."""
    versions = _item_versions(items) if items is not None else _application_versions(app)
    seen: dict[str, Document] = {}
    for doc in documents_of_versions(versions):
        seen.setdefault(doc_key(doc), doc)
    return list(seen.values())


def doc_key(doc: Document) -> str:
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


def data_complete(app: Application) -> bool:
    """The applicant and every item's insured person are filled in (not necessarily confirmed)."""
    return bool(app.applicant_name) and not app.items.filter(insured__isnull=True).exists()


_IDENTITY_MEMO = "_identity_is_current"


# What `with_identity_check` read with the application: (check id, status, ID number hash).
_IDENTITY_ROW = "_identity_check_row"


@dataclass(frozen=True, slots=True)
class _CheckRow:
    status: str
    id_number_hash: str


def with_beneficiaries_known(rows: QuerySet[Application]) -> QuerySet[Application]:
    """`rows` with whether any of their insured persons has a named beneficiary
    (`has_beneficiaries`, one index look-up in the same statement): `insured_persons` then reads
    no beneficiaries when there is none."""
    return rows.annotate(
        has_beneficiaries=Exists(Beneficiary.objects.filter(insured__application=OuterRef("pk")))
    )


def insured_persons(
    app: Application, *, items: Sequence[ApplicationItem] | None = None
) -> list[InsuredPerson]:
    """The insured persons in position order, their beneficiaries prefetched — none read when
    `app` was read knowing it has none (`with_beneficiaries_known`; a use-case that writes
    beneficiaries sets `has_beneficiaries` on the instance).

    `items` read with their whole insured person (`select_related("insured")`): when they name
    as many persons as the application has (`persons_count`, told by its locked read) and no
    beneficiary is named, those are the persons — nothing is read."""
    if items is not None and getattr(app, "has_beneficiaries", True) is False:
        count = getattr(app, "persons_count", None)
        found = {
            i.insured_id: i._state.fields_cache["insured"]
            for i in items
            if i.insured_id is not None and i._state.fields_cache.get("insured") is not None
        }
        if count is not None and len(found) == count:
            persons = sorted(found.values(), key=lambda p: p.position)
            for person in persons:
                person._prefetched_objects_cache = {"beneficiaries": Beneficiary.objects.none()}
            return persons
    rows = app.insured_persons.order_by("position")
    if getattr(app, "has_beneficiaries", True) is False:
        return list(rows.prefetch_related(Prefetch("beneficiaries", Beneficiary.objects.none())))
    return list(rows.prefetch_related("beneficiaries"))


def with_identity_check(rows: QuerySet[Application]) -> QuerySet[Application]:
    """`rows` with their identity check's status and ID number hash, in the same statement
    (two look-ups by primary key): `identity_is_current` then asks nothing. Apply
    `keep_identity_check` to each instance read."""
    check = IdentityCheck.objects.filter(pk=OuterRef("identity_check_id"))
    return rows.annotate(
        identity_check_status=Subquery(check.values("status")[:1]),
        identity_check_id_hash=Subquery(check.values("id_number_hash")[:1]),
    )


def keep_identity_check(app: Application) -> Application:
    """Keeps what `with_identity_check` read on `app`, for the check it names now (an identity
    check row never changes once written)."""
    if "identity_check_status" in app.__dict__:
        app.__dict__[_IDENTITY_ROW] = (
            app.identity_check_id,
            app.__dict__.pop("identity_check_status"),
            app.__dict__.pop("identity_check_id_hash", None),
        )
    return app


def identity_is_current(app: Application) -> bool:
    """The verified identity is the applicant's current one (a changed ID needs a new check).

    Remembered on the instance for its current check and ID number (an identity check row never
    changes once written), so one request asks the database once — not at all when the
    application was read `with_identity_check`."""
    if app.identity_check_id is None:
        return False
    key = (app.identity_check_id, app.applicant_id_number)
    memo = app.__dict__.get(_IDENTITY_MEMO)
    if memo is not None and memo[0] == key:
        return bool(memo[1])
    row = app.__dict__.get(_IDENTITY_ROW)
    if row is not None and row[0] == app.identity_check_id:
        return _remember_identity(app, None if row[1] is None else _CheckRow(row[1], row[2] or ""))
    check = IdentityCheck.objects.filter(pk=app.identity_check_id).only("id_number_hash", "status").first()
    return _remember_identity(app, check)


def _remember_identity(app: Application, check: Any) -> bool:
    """Whether `check` (the application's identity check, or None) verifies the applicant's
    current ID number; remembered on the instance for that check and number."""
    current = bool(
        check is not None
        and check.status == "verified"
        and check.id_number_hash == lookup_hash(app.applicant_id_number, context=IDENTITY_HASH_CONTEXT)
    )
    app.__dict__[_IDENTITY_MEMO] = ((app.identity_check_id, app.applicant_id_number), current)
    return current


def declined_items(items: Iterable[ApplicationItem]) -> list[ApplicationItem]:
    """The items the underwriting declined, in an application that goes on with the others."""
    return [i for i in items if i.underwriting_outcome == UnderwritingOutcome.DECLINE]


def needs_terms_agreement(app: Application) -> bool:
    return app.status == ApplicationStatus.ACCEPTED and app.terms_agreed_at is None


def key_clauses(
    app: Application, *, documents: Sequence[Document] | None = None
) -> list[tuple[Document, dict[str, Any]]]:
    """Every key clause to show and confirm, in order: (document, clause).

    `documents` (what `required_documents` returned in this request) saves reading them again."""
    docs = documents if documents is not None else required_documents(app)
    return [(doc, clause) for doc in docs for clause in (doc.key_clauses or [])]


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
        d for d in docs if not (readings_by_key.get(doc_key(d)) and readings_by_key[doc_key(d)].completed_at)
    ]
    unconfirmed = [
        (d, c)
        for d, c in clauses
        if not (
            confirmations_by_key.get((doc_key(d), c["code"]))
            and confirmations_by_key[(doc_key(d), c["code"])].confirmed_at
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


_STATE_ROWS: QuerySet[Application] | None = None


def _state_rows() -> QuerySet[Application]:
    """The applications with what the state answer asks of other tables in the same statement
    (`with_identity_check`, `with_beneficiaries_known`, `with_current_payment`); built once per
    process, cloned by use."""
    global _STATE_ROWS
    if _STATE_ROWS is None:
        _STATE_ROWS = with_current_payment(
            with_beneficiaries_known(with_identity_check(Application.objects.all()))
        ).annotate(persons_count=persons_count())
    return _STATE_ROWS.all()


def persons_count() -> Any:
    """How many insured persons the application has (a scalar sub-select by its key): with it,
    `insured_persons` takes the persons from the items that name them all."""
    return Coalesce(
        Subquery(
            InsuredPerson.objects.filter(application=OuterRef("pk"))
            .order_by()
            .values("application")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        ),
        0,
    )


# The columns of the current payment the state answer shows and decides on (`current_payment`).
PAYMENT_STATE_FIELDS = (
    "public_id",
    "status",
    "amount",
    "checkout_url",
    "expires_at",
    "paid_at",
    "refunded_amount",
    "failure_reason",
)
_PAYMENT_ROW = "_current_payment_row"


def with_current_payment(rows: QuerySet[Application]) -> QuerySet[Application]:
    """`rows` with their current payment's `PAYMENT_STATE_FIELDS` (look-ups by primary key in the
    same statement): `current_payment` then reads nothing. Apply `keep_current_payment` to each
    instance read."""
    found = Payment.objects.filter(pk=OuterRef("payment_id"))
    return rows.annotate(
        **{f"current_payment_{name}": Subquery(found.values(name)[:1]) for name in PAYMENT_STATE_FIELDS}
    )


def keep_current_payment(app: Application) -> Application:
    """Keeps what `with_current_payment` read on `app`, for the payment it names now."""
    if "current_payment_status" in app.__dict__:
        values = {name: app.__dict__.pop(f"current_payment_{name}", None) for name in PAYMENT_STATE_FIELDS}
        app.__dict__[_PAYMENT_ROW] = (app.payment_id, values)
    return app


def current_payment(app: Application) -> Payment | None:
    """The application's current payment (None without one): built from what the application's
    read brought (`with_current_payment`; its other columns load on access), else read."""
    if app.payment_id is None:
        return None
    row = app.__dict__.get(_PAYMENT_ROW)
    if row is None or row[0] != app.payment_id:
        return Payment.objects.filter(pk=app.payment_id).first()
    values = {"id": app.payment_id, **row[1]}
    if values["status"] is None:  # no such payment
        return None
    names = [f.attname for f in Payment._meta.concrete_fields if f.attname in values]
    return Payment.from_db(router.db_for_read(Payment), names, [values[name] for name in names])


def _reachable(public_id: Any, access: Q, *, keys_only: bool) -> Application:
    if keys_only:
        rows = Application.objects.filter(access, public_id=public_id)
        rows = rows.only("pk", "public_id", "customer_id", "started_by_id")
    else:
        rows = _state_rows().filter(access, public_id=public_id)
    app = rows.first()
    if app is None:
        raise NotFound("投保单不存在", code="application_not_found")
    return keep_current_payment(keep_identity_check(app))


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
