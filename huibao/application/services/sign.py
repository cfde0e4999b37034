"""Signatures: who must sign, how, and the signing itself."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.application import rules as app_rules
from huibao.application.evidence.trace import record_step
from huibao.application.journey import missing_before_signing
from huibao.application.models import Application, ApplicationItem, InsuredPerson, Signature
from huibao.application.selectors import Target, disclosure_progress, insured_persons, items_of, rules_of
from huibao.application.services._common import _acting, _move
from huibao.application.services.loaded import _remember_loaded
from huibao.application.states import ApplicationStatus, Relation, SignatureMethod, SignerRole
from huibao.application.tasks import render_application_form
from huibao.core import audit
from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.http import client_ip
from huibao.esign import handwriting


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
    with transaction.atomic(), audit.batched():
        # How many insured persons, with the lock: when the items name them all and no
        # beneficiary is named, the persons are the items' (read with them), not read again.
        app = _acting(
            application, user, open=False, not_expired=True, knowing=("has_signatures", "persons_count")
        )
        items = items_of(app)
        persons = insured_persons(app, items=items)
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
        # (None to read when the locked read found none.)
        signatures = (
            []
            if getattr(app, "has_signatures", True) is False
            else list(app.signatures.only("role", "insured", "signed_at"))
        )
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
    return client_ip(request)


def _enqueue_form(public_id: str) -> None:
    render_application_form.enqueue(public_id)
