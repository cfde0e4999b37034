"""Traceability (可回溯): every step of an application goes into the tamper-evident audit chain.

`record_step` writes one audit entry on the application (object type `application`, id = its
public id) with the step, the page and the version of the page template that was shown, and the
request's IP and user agent. Page versions are the SHA-256 of the template source; the source is
stored once per version in `PageTemplateVersion`, so what the customer saw can be rebuilt from the
template, the product version and the documents (themselves versioned by content hash).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from huibao.application.models import Application, PageTemplateVersion
from huibao.core import audit

_page_versions: dict[str, str] = {}
_lock = threading.Lock()


def page_version(template_name: str) -> str:
    """SHA-256 of the template's source (stored once); '' if the template cannot be read."""
    cached = _page_versions.get(template_name)
    if cached is not None:
        return cached
    try:
        template = get_template(template_name)
    except TemplateDoesNotExist:
        return ""
    source = getattr(getattr(template, "template", None), "source", "") or ""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    PageTemplateVersion.objects.get_or_create(
        sha256=digest, defaults={"template_name": template_name, "source": source}
    )
    with _lock:
        _page_versions[template_name] = digest
    return digest


def record_step(
    application: Application,
    step: str,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    page: str = "",
    detail: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> None:
    after: dict[str, Any] = {"status": application.status, "revision": application.data_revision}
    if page:
        after["page"] = page
        after["page_version"] = page_version(page)
    if detail:
        after.update(detail)
    audit.record(
        f"application.{step}",
        "application",
        str(application.public_id),
        actor=actor if actor is not None else (getattr(request, "user", None) if request else "system"),
        before=before,
        after=after,
        request=request,
    )


def record_page_view(
    application: Application, page: str, *, request: HttpRequest, detail: dict[str, Any] | None = None
) -> None:
    """A page of the flow was shown (with its template version)."""
    record_step(application, "page_viewed", request=request, page=page, detail=detail)
