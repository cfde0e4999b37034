"""The applicant's real-name check and face check."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.models import Application
from huibao.application.selectors import REFERENCE_KIND, Target, _remember_identity, identity_is_current
from huibao.application.services._common import _acting, _known_empty, _locked, _require_acting
from huibao.application.services.loaded import _remember_loaded
from huibao.core.errors import Conflict, FieldError, ValidationFailed
from huibao.core.validators import normalise_person_name, validate_resident_id
from huibao.identity import services as identity_services


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
    with transaction.atomic():
        app = _locked(application)  # a stranger's answer (404) comes before any other
        resident = validate_resident_id(id_number, field="id_number")
        _require_acting(app, user)
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
    check = identity_services.verify_real_name(
        name=name.strip(),
        id_number=resident.number,
        reference_kind=REFERENCE_KIND,
        reference_id=str(app.public_id),
        request=request,
        actor=user,
    )
    with transaction.atomic():
        verified = check.status == "verified"
        if not (verified and _record_verified_if_unchanged(app, check)):
            app = _locked(app)
        if verified:
            if app.identity_check_id != check.pk:
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
        # For the state answer: what the lock found empty is not read again.
        _remember_loaded(app, **_known_empty(app))
    if not verified:
        raise ValidationFailed(
            "identity not verified", errors=[FieldError("id_number", str(check.status), check.message)]
        )
    return app


def _record_verified_if_unchanged(app: Application, check: Any) -> bool:
    """The verified check recorded on the application by one conditional `UPDATE`, if its row is
    as it was read before the provider was asked (same status, data revision and last change):
    then `app` is still current and needs no second locked read. False when anything moved —
    the caller then locks and reads it again."""
    now = timezone.now()
    changed = Application.objects.filter(
        pk=app.pk, status=app.status, data_revision=app.data_revision, updated_at=app.updated_at
    ).update(identity_check_id=check.pk, identity_verified_at=now, updated_at=now)
    if changed != 1:
        return False
    app.identity_check_id, app.identity_verified_at, app.updated_at = check.pk, now, now
    return True


def start_face_check(
    application: Application | Target, *, user: Any, return_url: str, request: HttpRequest | None = None
) -> str:
    """Opens a face check session for the applicant; returns the provider's page URL."""
    with transaction.atomic():
        app = _acting(application, user)
        if not identity_is_current(app):
            raise ValidationFailed(
                "identity first", errors=[FieldError("identity", "not_verified", "请先完成实名认证")]
            )
        check = identity_services.start_face_check(
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
