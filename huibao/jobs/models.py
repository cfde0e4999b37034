"""A job's run for one business date, and the named leases (the scheduler's)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from huibao.jobs.states import JobRunStatus


class JobRun(models.Model):
    """One (job, business date): its status, where it got to (`cursor`, saved with each batch it
    commits) and who runs it (`worker_id`, `heartbeat_at`: a run whose heartbeat is stale is taken
    to have crashed and is resumed by the next runner). `error` holds the exception's class and
    its scrubbed message, never personal data."""

    job = models.CharField(max_length=100)
    run_date = models.DateField()
    status = models.CharField(max_length=16, choices=JobRunStatus.choices, default=JobRunStatus.PENDING)
    cursor = models.JSONField(null=True, blank=True)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker_id = models.CharField(max_length=100, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-run_date", "job"]
        constraints = [
            models.UniqueConstraint(fields=["job", "run_date"], name="jobs_run_unique_job_date"),
            models.CheckConstraint(condition=Q(status__in=JobRunStatus.values), name="jobs_run_status_valid"),
        ]
        indexes = [models.Index(fields=["job", "status", "run_date"], name="jobs_run_job_status")]

    def __str__(self) -> str:
        return f"{self.job} {self.run_date:%Y-%m-%d} {self.status}"


class Lease(models.Model):
    """A named lease held by one process at a time (the scheduler): taken when free or when its
    holder's heartbeat is stale, renewed while held. `value` is the holder's own state (the last
    date the scheduler started a daily run for)."""

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=100, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    value = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"
