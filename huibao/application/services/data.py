"""Entering and changing the application data (applicant, insured persons, beneficiaries, subject)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest
from django.utils import timezone

from huibao.application import rules as app_rules
from huibao.application.evidence.trace import record_step
from huibao.application.models import Application, ApplicationItem, Beneficiary, InsuredPerson
from huibao.application.premium import total_premium
from huibao.application.rules import ApplicationData
from huibao.application.selectors import (
    ID_HASH_CONTEXT,
    Target,
    data_digest,
    health_questions,
    items_of,
    rules_of,
)
from huibao.application.services._common import _acting, _is_owner, _known_empty, _move
from huibao.application.services.loaded import _remember_loaded
from huibao.application.states import ApplicationStatus, Relation, UnderwritingOutcome
from huibao.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.rating.models import Quote
from huibao.rating.services import PersonFacts, reprice_for_person
from huibao.underwriting.services import withdraw_open_cases

# The data entered (`ApplicationData` and its parts) is defined with its rules in `rules.py`.


def _hash_id(number: str) -> str:
    return lookup_hash(number, context=ID_HASH_CONTEXT)


def _validate_data(
    app: Application, data: ApplicationData, *, items: Sequence[ApplicationItem] | None = None
) -> tuple[list[FieldError], dict[str, Any]]:
    """Checks everything (`rules.check_data`, pure); returns (errors, normalized values)."""
    if items is None:
        items = items_of(app)
    questions = [
        app_rules.HealthQuestion(
            code=str(q["code"]), text=str(q.get("text", "")), sex=str(q.get("sex") or "")
        )
        for q in health_questions(app, items=items)
    ]
    return app_rules.check_data(
        data, rule_sets=[rules_of(i) for i in items], questions=questions, today=timezone.localdate()
    )


def _reprice(item: ApplicationItem, person: InsuredPerson, *, user: Any) -> tuple[Quote, list[FieldError]]:
    """The item priced again for its insured person (`rating.services.reprice_for_person`);
    pricing problems come back named after the person's fields, with the product's name."""
    facts = PersonFacts(
        birth_date=person.birth_date, sex=person.sex, occupation_class=person.occupation_class
    )
    try:
        return reprice_for_person(item.origin_quote, facts, candidates=(item.quote,), user=user), []
    except ValidationFailed as exc:
        return item.origin_quote, [
            FieldError(
                f"insured[{person.position - 1}].{e.field.removeprefix('inputs.')}",
                e.code,
                f"{item.product_version.product.name}：{e.message}",
            )
            for e in exc.errors
        ]


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
        # Open; the owner is checked below (the agent who started it may change it too).
        app = _acting(application, actor, owner=False, knowing=("has_persons",))
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
        # As just written, for the digest and the state: none to read when none was written (the
        # persons' earlier ones were deleted in `_write_data`).
        written = any(p["beneficiaries"] for p in values["persons"])
        app.__dict__["has_beneficiaries"] = written  # what `_locked` found is no longer current
        prefetch_related_objects(
            persons, "beneficiaries" if written else Prefetch("beneficiaries", Beneficiary.objects.none())
        )
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
        _remember_loaded(app, items=items, persons=persons, signatures=[], **_known_empty(app))
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
    # Checked by the rules: named only where every product allows it (then each insured's list).
    app.beneficiary_mode = values["beneficiary_mode"]
    # The application row is locked: nobody else writes its insured persons meanwhile.
    # (None to read when the locked read found none.)
    no_persons = getattr(app, "has_persons", True) is False
    existing = {} if no_persons else {p.position: p for p in app.insured_persons.all()}
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
    app.total_premium = total_premium(kept)
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
    withdraw_open_cases(app)
