"""The policy's daily jobs (registered in `PolicyConfig.ready()`; run by `huibao.jobs`)."""

from __future__ import annotations

from huibao.jobs.registry import JobContext, register_job
from huibao.policy import endorsements

ENDORSEMENT_EXPIRY_JOB = "policy.expire_endorsements"


def expire_endorsements(ctx: JobContext) -> None:
    """Endorsements left unconfirmed or unpaid past their deadline by the end of the run date
    are expired. Idempotent: an expired endorsement is not open any more, so a run again (or a
    run resumed after a crash) finds nothing left to do; each one is its own transaction."""
    done = endorsements.expire_unconfirmed(ctx.run_date)
    ctx.progress(done, done)


def register() -> None:
    register_job(
        ENDORSEMENT_EXPIRY_JOB,
        expire_endorsements,
        order=80,
        description="过期未确认或未补缴保费的批改申请",
    )
