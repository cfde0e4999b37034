"""The shared O2O service network: providers (公估、道路救援、法律援助、医院、维修) that every
insurer on the platform may use, their log-ins, and the tasks given to them with their history.

A task refers to its subject (a claim, later perhaps a policy service) by kind and reference
only: the provider app knows nothing of claims. Workflows live in `services`."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.provider.states import (
    OPEN_STATUSES,
    ProviderKind,
    ProviderStatus,
    TaskAction,
    TaskKind,
    TaskStatus,
)


class ServiceProvider(models.Model):
    """A provider of the network. `capabilities` is the set of task kinds it takes (a JSON list of
    `TaskKind` values, kept sorted and unique by the services); `regions` the GB/T 2260 prefixes
    it serves ("44" 广东省, "4403" 深圳市, "440305" 南山区). Contact details are encrypted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=ProviderKind.choices)
    capabilities = models.JSONField(default=list)
    regions = models.JSONField(default=list)
    licence_number = models.CharField(max_length=64, blank=True, default="")
    contact_name = EncryptedTextField(blank=True, default="", context="provider.contact_name")
    contact_phone = EncryptedTextField(blank=True, default="", context="provider.contact_phone")
    contact_email = EncryptedTextField(blank=True, default="", context="provider.contact_email")
    address = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=ProviderStatus.choices, default=ProviderStatus.ACTIVE)
    # Insurers that do not use this provider (the network is shared by all the others).
    excluded_insurers = models.ManyToManyField("catalog.Insurer", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("服务商")
        verbose_name_plural = _("服务商")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProviderStatus.values), name="provider_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=ProviderKind.values), name="provider_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class ProviderUser(models.Model):
    """A staff log-in that belongs to one provider (role "provider"): it sees that provider's
    tasks only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_link"
    )
    provider = models.ForeignKey(ServiceProvider, on_delete=models.CASCADE, related_name="users")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("服务商账号")
        verbose_name_plural = _("服务商账号")

    def __str__(self) -> str:
        return f"{self.user_id} → {self.provider_id}"


class ServiceTask(models.Model):
    """One task given to one provider. A decline ends it and re-offers the work as a new task to
    the next provider (`reoffer_of` links them); at most one open task per subject and kind."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(ServiceProvider, on_delete=models.PROTECT, related_name="tasks")
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OFFERED)
    subject_kind = models.CharField(max_length=32)
    subject_reference = models.CharField(max_length=64)
    region = models.CharField(max_length=6)
    summary = models.TextField(blank=True, default="")
    insurer_code = models.CharField(max_length=32, blank=True, default="")
    due_at = models.DateTimeField()
    overdue_at = models.DateTimeField(null=True, blank=True)  # set once by the overdue job
    report = models.TextField(blank=True, default="")
    assessed_amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, null=True, blank=True
    )
    decline_reason = models.CharField(max_length=200, blank=True, default="")
    cancel_reason = models.CharField(max_length=200, blank=True, default="")
    reoffer_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reoffered_as"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # declined or cancelled
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("服务任务")
        verbose_name_plural = _("服务任务")
        indexes = [
            models.Index(fields=["provider", "status"], name="provider_task_prov_status"),
            models.Index(fields=["subject_kind", "subject_reference"], name="provider_task_subject"),
            models.Index(fields=["status", "due_at"], name="provider_task_status_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="provider_task_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=TaskKind.values), name="provider_task_kind_valid"),
            models.CheckConstraint(
                condition=Q(assessed_amount__isnull=True) | Q(assessed_amount__gte=0),
                name="provider_task_amount_not_negative",
            ),
            # Retries and concurrent assignments never make a second open task of the same work.
            models.UniqueConstraint(
                fields=["subject_kind", "subject_reference", "kind"],
                condition=Q(status__in=sorted(OPEN_STATUSES)),
                name="provider_task_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject_reference}"


class TaskFile(models.Model):
    """A file of a task's report, stored through Django's storage API (checked by content)."""

    task = models.ForeignKey(ServiceTask, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to="provider/tasks/%Y/%m/")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class TaskEvent(models.Model):
    """The task's own history, one row per change (and per progress note)."""

    task = models.ForeignKey(ServiceTask, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=TaskAction.choices)
    status = models.CharField(max_length=16, choices=TaskStatus.choices)
    note = models.TextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=TaskAction.values), name="provider_event_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.status}"
