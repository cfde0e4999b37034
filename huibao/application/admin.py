"""Back office for applications: read-only, personal data masked, and the replay (回溯) of each
application for auditors — the timeline, the documents and pages as shown, the chain proof and
signed evidence exports (each export recorded in the audit chain).

Every page here needs a verified back-office session (password + TOTP, `admin_view`) and the
`application.view_application` permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from huibao.application import admin_underwriting  # noqa: F401  (registers the underwriter queue)
from huibao.application.evidence.export import export_json, export_pdf, render_json
from huibao.application.evidence.masked import masked_data
from huibao.application.evidence.proof import timeline_with_proof
from huibao.application.evidence.timeline import timeline
from huibao.application.evidence.verification import verify_export
from huibao.application.models import Application, ApplicationItem, PageTemplateVersion
from huibao.application.selectors import ID_HASH_CONTEXT
from huibao.core.admin import ReadOnlyModelAdmin
from huibao.core.errors import ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone
from huibao.core.validators import validate_resident_id

VIEW_PERMISSION = "application.replay_application"
MAX_EVIDENCE_BYTES = 20_000_000


class ApplicationItemInline(admin.TabularInline):
    model = ApplicationItem
    extra = 0
    can_delete = False
    fields = ("position", "product_version", "plan", "premium", "loading_percent", "underwriting_outcome")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyModelAdmin):
    list_display = (
        "number",
        "status",
        "channel",
        "masked_applicant",
        "total_premium",
        "created_at",
        "replay_link",
    )
    list_filter = ("status", "channel")
    search_fields = ("number",)
    search_help_text = "按投保单号搜索，或输入投保人完整身份证号精确查找"
    date_hierarchy = "created_at"
    fields = (
        "number",
        "public_id",
        "status",
        "channel",
        "masked_applicant",
        "masked_applicant_id",
        "masked_applicant_phone",
        "masked_applicant_email",
        "total_premium",
        "data_revision",
        "confirmed_revision",
        "confirmed_digest",
        "created_at",
        "confirmed_at",
        "signed_at",
        "paid_at",
        "issued_at",
        "expires_at",
        "retention_until",
        "replay_link",
    )
    readonly_fields = fields
    inlines = (ApplicationItemInline,)
    actions = None

    # --- masked columns ---------------------------------------------------------------------

    @admin.display(description="投保人")
    def masked_applicant(self, obj: Application) -> str:
        return mask_name(obj.applicant_name)

    @admin.display(description="投保人证件号码")
    def masked_applicant_id(self, obj: Application) -> str:
        return mask_id_number(obj.applicant_id_number)

    @admin.display(description="投保人手机号")
    def masked_applicant_phone(self, obj: Application) -> str:
        return mask_phone(obj.applicant_phone)

    @admin.display(description="投保人邮箱")
    def masked_applicant_email(self, obj: Application) -> str:
        return mask_email(obj.applicant_email)

    @admin.display(description="回溯")
    def replay_link(self, obj: Application) -> str:
        return format_html(
            '<a href="{}">回溯</a>', reverse("admin:application_application_replay", args=[obj.pk])
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Application], search_term: str
    ) -> tuple[QuerySet[Application], bool]:
        """A full ID number finds the applicant's applications by its keyed hash (never stored
        or compared in plain text); anything else searches the application number."""
        term = search_term.strip()
        if len(term) == 18:
            try:
                number = validate_resident_id(term).number
            except ValidationFailed:
                number = ""
            if number:
                return queryset.filter(applicant_id_hash=lookup_hash(number, context=ID_HASH_CONTEXT)), False
        return super().get_search_results(request, queryset, search_term)

    # --- replay -----------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        custom = [
            path("<int:object_id>/replay/", wrap(self.replay_view), name="application_application_replay"),
            path(
                "<int:object_id>/replay/export.json",
                wrap(self.export_json_view),
                name="application_application_replay_json",
            ),
            path(
                "<int:object_id>/replay/export.pdf",
                wrap(self.export_pdf_view),
                name="application_application_replay_pdf",
            ),
            path(
                "<int:object_id>/replay/verify/",
                wrap(self.verify_export_view),
                name="application_application_replay_verify",
            ),
            path(
                "<int:object_id>/replay/document/<int:document_id>/",
                wrap(self.document_view),
                name="application_application_replay_document",
            ),
            path(
                "<int:object_id>/replay/page/<str:sha256>/",
                wrap(self.page_view),
                name="application_application_replay_page",
            ),
        ]
        return custom + super().get_urls()

    def _application(self, request: HttpRequest, object_id: int) -> Application:
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        app = Application.objects.filter(pk=object_id).first()
        if app is None:
            raise Http404("投保单不存在")
        return app

    def _context(self, request: HttpRequest, app: Application, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "application": app,
            "has_view_permission": True,
        }

    def replay_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        app = self._application(request, object_id)
        steps, proof = timeline_with_proof(app)
        proof_by_seq = {p.seq: p for p in proof.entries}
        context = {
            **self._context(request, app, f"投保过程回溯：{app.number}"),
            "steps": [(s, proof_by_seq.get(s.seq)) for s in steps],
            "proof": proof,
            "data_sections": masked_data(app) if app.applicant_name else [],
            "items": app.items.select_related("product_version__product", "plan").order_by("position"),
        }
        return TemplateResponse(request, "admin/application/application/replay.html", context)

    def export_json_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        app = self._application(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        data = export_json(app, actor=request.user, request=request)
        response = HttpResponse(render_json(data), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{app.number}-evidence.json"'
        return response

    def verify_export_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """An evidence file (JSON export) brought back, e.g. in a dispute, checked against the
        audit chain: unchanged, complete, and one the platform exported."""
        app = self._application(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        upload = request.FILES.get("evidence")
        if upload is None:
            problems = ["请选择要核验的 JSON 证据文件"]
        elif upload.size is not None and upload.size > MAX_EVIDENCE_BYTES:
            problems = [f"文件过大（上限 {MAX_EVIDENCE_BYTES // 1_000_000} MB）"]
        else:
            problems = verify_export(app, upload.read())
        context = {
            **self._context(request, app, f"证据核验：{app.number}"),
            "filename": upload.name if upload is not None else "",
            "problems": problems,
        }
        return TemplateResponse(
            request,
            "admin/application/application/replay_verify.html",
            context,
            status=200 if not problems else 422,
        )

    def export_pdf_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        app = self._application(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        pdf = export_pdf(app, actor=request.user, request=request)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{app.number}-evidence.pdf"'
        return response

    def document_view(self, request: HttpRequest, object_id: int, document_id: int) -> HttpResponse:
        """The exact text of a document version shown during this application."""
        app = self._application(request, object_id)
        shown = next(
            (s.document for s in timeline(app) if s.document and s.document.document_id == document_id),
            None,
        )
        if shown is None:
            raise Http404("该文件未在此投保单中展示")
        context = {**self._context(request, app, f"《{shown.title}》"), "document": shown}
        return TemplateResponse(request, "admin/application/application/replay_document.html", context)

    def page_view(self, request: HttpRequest, object_id: int, sha256: str) -> HttpResponse:
        """The stored source of a page template version shown during this application."""
        app = self._application(request, object_id)
        if not any(s.page_version == sha256 for s in timeline(app)):
            raise Http404("该页面版本未在此投保单中出现")
        page = PageTemplateVersion.objects.filter(sha256=sha256).first()
        if page is None:
            raise Http404("页面模板源码未保存")
        context = {**self._context(request, app, f"页面模板 {page.template_name}"), "page": page}
        return TemplateResponse(request, "admin/application/application/replay_page.html", context)
