"""Background jobs: an asynchronous batch's chunks, and the sweep that resumes stale batches.

A job that dies part-way loses only its open chunk (rolled back); the chunks before it are
committed with their policies and the batch's progress, so the sweep's new job resumes at the
next chunk and the batch finishes exactly once.
"""

from __future__ import annotations

import logging

from django.tasks import task

logger = logging.getLogger(__name__)

# Resumed this many times without finishing: the batch fails (a chunk that fails every time).
MAX_ATTEMPTS = 5


@task
def process_batch_task(batch_id: int) -> None:
    from huibao.embedded import services
    from huibao.embedded.models import EmbeddedBatch

    try:
        services.process_batch(batch_id)
    except Exception as exc:
        logger.exception("embedded batch %s: a chunk failed", batch_id)
        attempts = EmbeddedBatch.objects.filter(pk=batch_id).values_list("attempts", flat=True).first()
        if attempts is not None and attempts >= MAX_ATTEMPTS:
            services.fail_batch(batch_id, f"{type(exc).__name__}: chunk failed {attempts} times")
        raise


@task
def resume_stale_batches_task() -> list[int]:
    from huibao.embedded import services

    return services.resume_stale_batches()
