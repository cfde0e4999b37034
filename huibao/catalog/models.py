"""The multi-insurer catalog: insurers, products and their versions, plans, coverages, documents.

A `Product` is the stable identity a customer sees; everything that defines what is sold sits on
a `ProductVersion`. A version is `draft` while operators edit it, `published` once on sale, and
`retired` when a newer version replaces it. Published versions never change: editing a product on
sale makes a new draft version (`services.new_version`), so quotes, applications and policies keep
pointing at the exact text and prices that were shown.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_MAX_DIGITS, RATE_PLACES


class InsurerKind(models.TextChoices):
    PROPERTY = "property", "财产险公司"
    LIFE = "life", "人寿险公司"
    HEALTH = "health", "健康险公司"


class Insurer(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64, unique=True)
    short_name = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=InsurerKind.choices)
    founded_year = models.PositiveSmallIntegerField(null=True, blank=True)
    registered_capital_yi = models.DecimalField(
        "registered capital (100 million CNY)", max_digits=10, decimal_places=2, null=True, blank=True
    )
    solvency_ratio = models.PositiveSmallIntegerField("comprehensive solvency ratio %", null=True, blank=True)
    service_rating = models.CharField("regulator's service rating", max_length=4, blank=True, default="")
    hotline = models.CharField(max_length=32, blank=True, default="")
    headquarters = models.CharField(max_length=32, blank=True, default="")
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LineOfBusiness(models.TextChoices):
    ACCIDENT = "accident", "意外险"
    TRAVEL = "travel", "旅行险"
    MEDICAL = "medical", "医疗险"
    CRITICAL_ILLNESS = "critical_illness", "重疾险"
    TERM_LIFE = "term_life", "定期寿险"
    WHOLE_LIFE = "whole_life", "终身寿险/年金"
    AUTO_COMPULSORY = "auto_compulsory", "交强险"
    AUTO_COMMERCIAL = "auto_commercial", "商业车险"
    HOME_PROPERTY = "home_property", "家财险"
    RETURN_SHIPPING = "return_shipping", "退货运费险"
    PHONE_SCREEN = "phone_screen", "手机碎屏险"
    PET = "pet", "宠物险"
    FLIGHT_DELAY = "flight_delay", "航班延误险"
    ACCOUNT_SECURITY = "account_security", "账户安全险"


class Crowd(models.Model):
    """Who a product is for (人群): children, adults, elderly, family, business."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=16)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class Scenario(models.Model):
    """When a product is needed (场景): travel, online shopping, commuting, health, driving…"""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=16)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class ProductStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    ON_SALE = "on_sale", "在售"
    OFF_SALE = "off_sale", "停售"


class Product(models.Model):
    code = models.SlugField(max_length=48, unique=True)
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=64)
    line = models.CharField(max_length=32, choices=LineOfBusiness.choices, db_index=True)
    crowds = models.ManyToManyField(Crowd, related_name="products", blank=True)
    scenarios = models.ManyToManyField(Scenario, related_name="products", blank=True)
    status = models.CharField(max_length=16, choices=ProductStatus.choices, default=ProductStatus.DRAFT)
    current_version = models.ForeignKey(
        "ProductVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Marketplace figures, refreshed from sales and reviews; never part of what is sold.
    sales_count = models.PositiveIntegerField(default=0)
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    rating_count = models.PositiveIntegerField(default=0)
    # Lowest premium of the current version for its cheapest plan and youngest eligible insured,
    # computed by the rating engine on publication; used for "from ¥x" and price sorting.
    premium_from = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["status", "line"]), models.Index(fields=["status", "-sales_count"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ProductStatus.values), name="product_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已发布"
    RETIRED = "retired", "已停用"


class PaymentMode(models.TextChoices):
    SINGLE = "single", "趸交"
    ANNUAL = "annual", "年交"
    MONTHLY = "monthly", "月交"


class ProductVersion(models.Model):
    """Everything that is sold, frozen once published.

    JSON columns follow the schema in `huibao/catalog/schema/product.schema.json`:
    - `eligibility`: {"min_age_days", "max_age", "occupation_classes": [1..6], "regions": [province
      codes; empty = all], "health_questions": [{"code", "text", "knock_out_answer"}]}
    - `term_options`: [{"code", "label", "days"|"months"|"years"|"to_age"}]
    - `payment_modes`: ["single", "annual", "monthly"]
    - `renewal`: {"renewable", "guaranteed_years", "max_renewal_age", "note"}
    - `servicing`: what the policy allows after the sale (see `catalog/servicing.py`)
    - `claims`: what it pays and asks for at claim time (see `catalog/claim_terms.py`)
    - `value_added_services`: [{"code", "name", "description"}]
    - `pricing`: the rating spec (see `docs/rating.md`)
    - `application_rules`: how it is applied for (see `docs/application.md`): insured relations,
      beneficiaries, signature mode, face check, insured consent, effective date, subject fields
    - `underwriting`: the underwriting rules as data (see `docs/underwriting.md`)
    """

    # What is sold: the fields copied into a new version, exported, and editable while draft.
    CONTENT_FIELDS: tuple[str, ...] = (
        "tagline",
        "description",
        "highlights",
        "eligibility",
        "term_options",
        "payment_modes",
        "cooling_off_days",
        "renewal",
        "servicing",
        "claims",
        "value_added_services",
        "pricing",
        "application_rules",
        "underwriting",
    )

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    tagline = models.CharField(max_length=120, blank=True, default="")
    description = models.TextField(blank=True, default="")
    highlights = models.JSONField(default=list, blank=True)
    eligibility = models.JSONField(default=dict, blank=True)
    term_options = models.JSONField(default=list, blank=True)
    payment_modes = models.JSONField(default=list, blank=True)
    cooling_off_days = models.PositiveSmallIntegerField(default=0)
    renewal = models.JSONField(default=dict, blank=True)
    servicing = models.JSONField(default=dict, blank=True)
    claims = models.JSONField(default=dict, blank=True)
    value_added_services = models.JSONField(default=list, blank=True)
    pricing = models.JSONField(default=dict, blank=True)
    application_rules = models.JSONField(default=dict, blank=True)
    underwriting = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["product", "number"], name="product_version_unique_number"),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="product_version_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.code} v{self.number}"

    @property
    def is_frozen(self) -> bool:
        return self.status != VersionStatus.DRAFT


class Plan(models.Model):
    """A plan (方案) of a version: a named set of coverages, e.g. 基础版 / 升级版 / 尊享版."""

    version = models.ForeignKey(ProductVersion, on_delete=models.CASCADE, related_name="plans")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=32)
    sort_order = models.PositiveSmallIntegerField(default=0)
    # Sum insured the customer may choose for the plan's main cover; equal for a fixed plan.
    min_sum_insured = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=2)
    max_sum_insured = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=2)
    sum_insured_step = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=2, default=0)
    is_recommended = models.BooleanField(default=False)

    class Meta:
        ordering = ["version_id", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="plan_unique_code_per_version"),
            models.CheckConstraint(
                condition=Q(min_sum_insured__lte=models.F("max_sum_insured")), name="plan_sum_insured_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Coverage(models.Model):
    """A benefit item (保障责任) of a plan."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="coverages")
    code = models.SlugField(max_length=48)
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="")
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_optional = models.BooleanField(default=False)
    sum_insured = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=2)
    deductible = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=2, default=0)
    reimbursement_ratio = models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_PLACES, default=1
    )
    waiting_period_days = models.PositiveSmallIntegerField(default=0)
    per_claim_limit = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=2, null=True, blank=True
    )
    annual_limit = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="coverage_unique_code_per_plan"),
            models.CheckConstraint(
                condition=Q(reimbursement_ratio__gte=0) & Q(reimbursement_ratio__lte=1),
                name="coverage_ratio_between_0_and_1",
            ),
            models.CheckConstraint(condition=Q(deductible__gte=0), name="coverage_deductible_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class DocumentKind(models.TextChoices):
    TERMS = "terms", "保险条款"
    DISCLOSURE = "disclosure", "投保须知"
    EXCLUSIONS = "exclusions", "责任免除"
    HEALTH_NOTICE = "health_notice", "健康告知"
    PRODUCT_BRIEF = "product_brief", "产品说明书"
    PRIVACY = "privacy", "个人信息保护政策"


class Document(models.Model):
    """A document of a version. `key_clauses` lists the clauses that must be shown and confirmed
    one by one: [{"code", "kind": exclusion|waiting_period|cooling_off|surrender_loss|other,
    "title", "text"}]."""

    version = models.ForeignKey(ProductVersion, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=32, choices=DocumentKind.choices)
    title = models.CharField(max_length=120)
    body = models.TextField()
    key_clauses = models.JSONField(default=list, blank=True)
    min_read_seconds = models.PositiveSmallIntegerField(default=10)
    sort_order = models.PositiveSmallIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64, editable=False, default="")

    class Meta:
        ordering = ["version_id", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="document_unique_kind_per_version"),
        ]

    def __str__(self) -> str:
        return self.title


class CatalogRevision(models.Model):
    """A single row whose counter moves on every catalog change; caches (search index, compiled
    rating specs of current versions) compare it to know when to rebuild."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    counter = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"catalog revision {self.counter}"
