"""Back office for the catalog: insurers, products, versions, plans, coverages, documents.

Every admin records its changes in the audit chain (`AuditedModelAdmin`) and moves the catalog
revision counter so the search index and rating caches rebuild. A published or retired version is
frozen: its fields, plans, coverages and documents are read-only here; operators open a new draft
with the "创建新版本" action and put it on sale with "发布" (both in `huibao.catalog.services`).
Who may change what comes from the role groups' model permissions (`huibao.account.roles`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from huibao.catalog import services
from huibao.catalog.models import (
    Coverage,
    Crowd,
    Document,
    Insurer,
    Plan,
    Product,
    ProductVersion,
    Scenario,
    VersionStatus,
)
from huibao.core.admin import AuditedModelAdmin
from huibao.core.errors import DomainError


def _version_of(obj: object) -> ProductVersion | None:
    if isinstance(obj, ProductVersion):
        return obj
    if isinstance(obj, Plan | Document):
        return obj.version
    if isinstance(obj, Coverage):
        return obj.plan.version
    return None


def _frozen(obj: object) -> bool:
    version = _version_of(obj)
    return version is not None and version.pk is not None and version.is_frozen


def _all_fields(model: type[Any]) -> list[str]:
    return [f.name for f in model._meta.get_fields() if f.concrete and not f.auto_created]


class CatalogAdmin(AuditedModelAdmin):
    """Audited, and tells the caches the catalog moved after every change."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.bump_revision()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.bump_revision()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        services.bump_revision()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        services.bump_revision()


class FrozenVersionMixin:
    """Objects of a published/retired version are read-only (inline or not)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and _frozen(obj):
            return _all_fields(self.model)  # type: ignore[attr-defined]
        return super().get_readonly_fields(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and _frozen(obj):
            return False
        return bool(super().has_delete_permission(request, obj))  # type: ignore[misc]


class FrozenInlineMixin:
    """An inline under a frozen version offers no adding, editing or deleting."""

    def _parent_frozen(self, obj: Any) -> bool:
        return obj is not None and _frozen(obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._parent_frozen(obj) and bool(super().has_add_permission(request, obj))  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._parent_frozen(obj) and bool(super().has_change_permission(request, obj))  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._parent_frozen(obj) and bool(super().has_delete_permission(request, obj))  # type: ignore[misc]


def _run_each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: Iterable[Any],
    service: Callable[[Any], object],
    label: Callable[[Any], str],
    done: Callable[[Any], str],
) -> None:
    """Runs a catalog service on each selected row, telling the user, per row, what happened.
    A domain error on one row (e.g. a frozen version) is reported and the others still run."""
    for obj in objects:
        try:
            service(obj)
        except DomainError as exc:
            details = "；".join(f"{e.field}: {e.message}" for e in exc.errors)
            failure = f"{label(obj)}失败：{exc.message} {details}".strip()
            modeladmin.message_user(request, failure, messages.ERROR)
        else:
            modeladmin.message_user(request, done(obj), messages.SUCCESS)


# --- Insurers, crowds, scenarios -----------------------------------------------------------


@admin.register(Insurer)
class InsurerAdmin(CatalogAdmin):
    list_display = (
        "code",
        "name",
        "short_name",
        "kind",
        "solvency_ratio",
        "service_rating",
        "hotline",
        "is_active",
    )
    list_filter = ("kind", "is_active", "service_rating")
    search_fields = ("code", "name", "short_name")
    ordering = ("code",)


@admin.register(Crowd)
class CrowdAdmin(CatalogAdmin):
    list_display = ("code", "name", "sort_order")
    list_editable = ("sort_order",)
    search_fields = ("code", "name")


@admin.register(Scenario)
class ScenarioAdmin(CatalogAdmin):
    list_display = ("code", "name", "sort_order")
    list_editable = ("sort_order",)
    search_fields = ("code", "name")


# --- Products and versions -------------------------------------------------------------------


class VersionInline(admin.TabularInline[ProductVersion, Product]):
    model = ProductVersion
    fk_name = "product"
    extra = 0
    fields = ("number", "status", "tagline", "published_at", "created_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    verbose_name = "版本"
    verbose_name_plural = "版本（只读；在版本页编辑草稿）"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(CatalogAdmin):
    list_display = (
        "code",
        "name",
        "insurer",
        "line",
        "status",
        "version_number",
        "premium_from",
        "sales_count",
        "rating_avg",
    )
    list_filter = ("status", "line", "insurer", "crowds", "scenarios")
    search_fields = ("code", "name", "insurer__name", "insurer__short_name")
    list_select_related = ("insurer", "current_version")
    autocomplete_fields = ("insurer",)
    filter_horizontal = ("crowds", "scenarios")
    # Status and current version move only through publish / take off sale; the marketplace
    # figures come from sales, reviews and the rating engine.
    readonly_fields = (
        "status",
        "current_version",
        "sales_count",
        "rating_avg",
        "rating_count",
        "premium_from",
        "created_at",
        "updated_at",
    )
    inlines = (VersionInline,)
    actions = ("make_new_version", "take_off_sale", "put_on_sale")

    @admin.display(description="当前版本", ordering="current_version__number")
    def version_number(self, obj: Product) -> str:
        return f"v{obj.current_version.number}" if obj.current_version else "—"

    @admin.action(description="创建新版本", permissions=["change"])
    def make_new_version(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        _run_each(
            self,
            request,
            queryset,
            lambda p: services.new_version(p, actor=request.user, request=request),
            lambda p: f"{p.code} 创建新版本",
            lambda p: f"{p.code}：已创建新草稿版本。",
        )

    @admin.action(description="下架", permissions=["change"])
    def take_off_sale(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        _run_each(
            self,
            request,
            queryset,
            lambda p: services.take_off_sale(p, actor=request.user, request=request),
            lambda p: f"{p.code} 下架",
            lambda p: f"{p.code}：已下架。",
        )

    @admin.action(description="重新上架", permissions=["change"])
    def put_on_sale(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        _run_each(
            self,
            request,
            queryset,
            lambda p: services.put_on_sale(p, actor=request.user, request=request),
            lambda p: f"{p.code} 上架",
            lambda p: f"{p.code}：已上架。",
        )


class PlanInline(FrozenInlineMixin, admin.TabularInline[Plan, ProductVersion]):
    model = Plan
    extra = 0
    fields = (
        "code",
        "name",
        "sort_order",
        "min_sum_insured",
        "max_sum_insured",
        "sum_insured_step",
        "is_recommended",
    )
    show_change_link = True
    verbose_name = "方案"
    verbose_name_plural = "方案"


class DocumentInline(FrozenInlineMixin, admin.TabularInline[Document, ProductVersion]):
    model = Document
    extra = 0
    fields = ("kind", "title", "min_read_seconds", "sort_order", "content_sha256")
    readonly_fields = ("content_sha256",)
    show_change_link = True
    verbose_name = "文件"
    verbose_name_plural = "文件（在文件页编辑正文与重要条款）"


@admin.register(ProductVersion)
class ProductVersionAdmin(FrozenVersionMixin, CatalogAdmin):
    list_display = ("__str__", "product", "number", "status", "published_at", "created_at")
    list_filter = ("status", "product__line", "product__insurer")
    search_fields = ("product__code", "product__name")
    list_select_related = ("product",)
    readonly_fields = ("product", "number", "status", "published_at", "created_at")
    inlines = (PlanInline, DocumentInline)
    actions = ("publish", "make_new_version")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Versions are opened from a product ("创建新版本"), never typed in from scratch.
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = ProductVersion.objects.filter(pk=obj.pk).only("status").first()
        if stored is not None and stored.status != VersionStatus.DRAFT:
            self.message_user(request, "已发布的版本不可修改：请先创建新版本。", messages.ERROR)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="发布", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[ProductVersion]) -> None:
        _run_each(
            self,
            request,
            queryset.select_related("product"),
            lambda v: services.publish_version(v, actor=request.user, request=request),
            lambda v: f"{v} 发布",
            lambda v: f"{v}：已发布并上架。",
        )

    @admin.action(description="创建新版本", permissions=["change"])
    def make_new_version(self, request: HttpRequest, queryset: QuerySet[ProductVersion]) -> None:
        _run_each(
            self,
            request,
            queryset.select_related("product"),
            lambda v: services.new_version(v.product, actor=request.user, request=request),
            lambda v: f"{v.product.code} 创建新版本",
            lambda v: f"{v.product.code}：已创建新草稿版本。",
        )


class CoverageInline(FrozenInlineMixin, admin.TabularInline[Coverage, Plan]):
    model = Coverage
    extra = 0
    fields = (
        "code",
        "name",
        "sort_order",
        "is_optional",
        "sum_insured",
        "deductible",
        "reimbursement_ratio",
        "waiting_period_days",
        "per_claim_limit",
        "annual_limit",
    )
    verbose_name = "保障责任"
    verbose_name_plural = "保障责任"


@admin.register(Plan)
class PlanAdmin(FrozenVersionMixin, CatalogAdmin):
    list_display = ("name", "code", "version", "min_sum_insured", "max_sum_insured", "is_recommended")
    list_filter = ("version__status",)
    search_fields = ("code", "name", "version__product__code", "version__product__name")
    list_select_related = ("version__product",)
    raw_id_fields = ("version",)
    inlines = (CoverageInline,)


@admin.register(Coverage)
class CoverageAdmin(FrozenVersionMixin, CatalogAdmin):
    list_display = (
        "name",
        "code",
        "plan",
        "sum_insured",
        "deductible",
        "reimbursement_ratio",
        "waiting_period_days",
    )
    list_filter = ("plan__version__status", "is_optional")
    search_fields = ("code", "name", "plan__version__product__code")
    list_select_related = ("plan__version__product",)
    raw_id_fields = ("plan",)


@admin.register(Document)
class DocumentAdmin(FrozenVersionMixin, CatalogAdmin):
    list_display = ("title", "kind", "version", "min_read_seconds", "short_sha")
    list_filter = ("kind", "version__status")
    search_fields = ("title", "version__product__code", "version__product__name")
    list_select_related = ("version__product",)
    raw_id_fields = ("version",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return fields if "content_sha256" in fields else [*fields, "content_sha256"]

    @admin.display(description="摘要")
    def short_sha(self, obj: Document) -> str:
        return obj.content_sha256[:12]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The digest is what applications cite as the text the customer read: keep it current.
        obj.content_sha256 = services.document_sha256(obj.title, obj.body, obj.key_clauses or [])
        super().save_model(request, obj, form, change)
