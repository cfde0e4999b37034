"""Who sells what, under which agreement: the agency's licence, its agreements with insurers
(合作协议), and its sales hierarchy (agency → branch → team → agent; partner channels and their
sub-channels).

The rules (what an agreement covers, who may sell a line) are in `rules.py` and `selectors.py`;
these are the records.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AgencyEntity(models.Model):
    """The licensed agency (保险专业代理机构) the platform is run by, or one of its legal entities."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    licence_number = models.CharField(_("经营保险代理业务许可证编号"), max_length=64)
    # Lines of business (catalog.LineOfBusiness values) the licence allows.
    licence_lines = models.JSONField(default=list)
    licence_valid_until = models.DateField(null=True, blank=True)
    # Unified social credit code (统一社会信用代码), printed on statements.
    credit_code = models.CharField(max_length=18, blank=True, default="")

    class Meta:
        ordering = ["code"]
        verbose_name = _("代理机构")
        verbose_name_plural = _("代理机构")

    def __str__(self) -> str:
        return self.name


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("生效")
    SUSPENDED = "suspended", _("暂停")
    ENDED = "ended", _("终止")


class SettlementPeriod(models.TextChoices):
    MONTHLY = "monthly", _("按月")
    QUARTERLY = "quarterly", _("按季")


class PremiumCollector(models.TextChoices):
    # The agency collects the premium and remits it to the insurer (net of commission or gross,
    # per `net_settlement`); or the customer pays the insurer directly and only commission moves.
    AGENCY = "agency", _("代理机构代收")
    INSURER = "insurer", _("保险公司直收")


class InsurerAgreement(models.Model):
    """A cooperation agreement between the agency and one insurer: what may be sold, when, and
    how the money is settled. A product is sellable only while an active agreement covers it on
    the day (its product listed, or its line listed when no product is)."""

    number = models.CharField(_("协议编号"), max_length=40, unique=True)
    agency = models.ForeignKey(AgencyEntity, on_delete=models.PROTECT, related_name="agreements")
    insurer = models.ForeignKey("catalog.Insurer", on_delete=models.PROTECT, related_name="agreements")
    status = models.CharField(max_length=16, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT)
    # Lines of business covered (catalog.LineOfBusiness values); `products` narrows it when set.
    lines = models.JSONField(default=list)
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="agreements")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)  # null: until ended
    settlement_period = models.CharField(
        max_length=16, choices=SettlementPeriod.choices, default=SettlementPeriod.MONTHLY
    )
    # Days after the period's end by which the statement is to be paid.
    days_to_pay = models.PositiveSmallIntegerField(default=15)
    premium_collector = models.CharField(
        max_length=16, choices=PremiumCollector.choices, default=PremiumCollector.AGENCY
    )
    # True: the agency remits premium less its commission (轧差); False: gross both ways.
    net_settlement = models.BooleanField(default=True)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["insurer_id", "-valid_from"]
        verbose_name = _("合作协议")
        verbose_name_plural = _("合作协议")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AgreementStatus.values), name="agreement_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="agreement_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class AgreementRevision(models.Model):
    """A single row whose counter moves with every change to an agreement or to the products it
    lists, in the same transaction as the change: caches of agreement reads (the embedded sale's
    per-process offers) compare it on every call, so a revoked agreement is seen by the very
    next call. Moved by database triggers (migration 0003) on `distribution_insureragreement`
    and its products table, whatever writes them: services, the admin, `QuerySet.update`,
    factories, raw SQL."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    counter = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"agreement revision {self.counter}"


class AgreementStatusChange(models.Model):
    agreement = models.ForeignKey(InsurerAgreement, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=200, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class SalesUnitKind(models.TextChoices):
    AGENCY = "agency", _("总公司")
    BRANCH = "branch", _("分公司")
    TEAM = "team", _("团队")
    AGENT = "agent", _("代理人")
    CHANNEL = "channel", _("合作渠道")
    SUBCHANNEL = "subchannel", _("子渠道")


# Which kind may sit under which: a tree per hierarchy (rules.py checks it on every save).
ALLOWED_PARENTS: dict[str, tuple[str, ...]] = {
    SalesUnitKind.AGENCY: (),
    SalesUnitKind.BRANCH: (SalesUnitKind.AGENCY, SalesUnitKind.BRANCH),
    SalesUnitKind.TEAM: (SalesUnitKind.BRANCH,),
    SalesUnitKind.AGENT: (SalesUnitKind.TEAM,),
    SalesUnitKind.CHANNEL: (SalesUnitKind.AGENCY,),
    SalesUnitKind.SUBCHANNEL: (SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL),
}


class SalesUnit(models.Model):
    """One node of the sales hierarchy. An agent is a person (its `user`); a channel or a
    sub-channel is a partner organisation (its staff are users linked by `SalesUnitMember`).
    `path` is the materialised path of codes from the root ("HQ/SH/SH-T1/A0001"), so a
    subtree is one indexed prefix query."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=SalesUnitKind.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    path = models.CharField(max_length=255, db_index=True)
    agency = models.ForeignKey(AgencyEntity, on_delete=models.PROTECT, related_name="sales_units")
    # The agent themself (kind agent only).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="sales_unit"
    )
    # An agent's practice registration (执业登记) and the lines it covers; a channel's licence.
    licence_number = models.CharField(max_length=64, blank=True, default="")
    licence_lines = models.JSONField(default=list)
    licence_valid_until = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("销售组织")
        verbose_name_plural = _("销售组织")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=SalesUnitKind.values), name="sales_unit_kind_valid"),
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(kind=SalesUnitKind.AGENT),
                name="sales_unit_user_only_agent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class SalesUnitPathChange(models.Model):
    """A unit's place in the hierarchy before and after a move (`services.move_unit` writes one
    per unit of the moved subtree): the reports attribute a sale to where its seller stood when
    it was made, so a moved agent's history stays with the team that sold it."""

    unit = models.ForeignKey(SalesUnit, on_delete=models.CASCADE, related_name="path_changes")
    old_path = models.CharField(max_length=255)
    new_path = models.CharField(max_length=255)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "pk"]
        indexes = [models.Index(fields=["unit", "changed_at"], name="sales_unit_path_change")]

    def __str__(self) -> str:
        return f"{self.old_path} → {self.new_path}"


class SalesUnitMember(models.Model):
    """A staff user of a channel, branch or team (its manager, its finance clerk): what they see
    on the channel pages and the API is their unit's subtree."""

    unit = models.ForeignKey(SalesUnit, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_memberships"
    )
    is_manager = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "user"], name="sales_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.unit_id}"


class InsurerMember(models.Model):
    """A user on an insurer's side (its channel or finance staff): they see that insurer's
    agreements, statements and reconciliations only, on the pages and through the API."""

    insurer = models.ForeignKey("catalog.Insurer", on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="insurer_memberships"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["insurer", "user"], name="insurer_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.insurer_id}"
