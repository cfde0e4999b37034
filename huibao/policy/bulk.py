"""Many policies issued at once, each of one item and no application: what a partner channel
sells inside its own checkout (`huibao.embedded`), up to a thousand per call.

The columns of each policy are computed as for any issuance (`services.policy_row`: number,
term, cover dates, coverages, retention, schedule); what differs is what is written around them,
in a number of statements that does not grow with the number of policies:

- numbers: one `UPDATE … RETURNING` per insurer for all its policies (`services.take_numbers`),
  or the blocks the caller reserved before its transaction (`services.reserve_numbers`: the
  sequence row is then not held until commit);
- one write per table: the policies, their parties (holder and insured), their first history
  rows — PostgreSQL `COPY` with the ids reserved in one statement per table
  (`core.bulkcopy.copy_create`), `bulk_create` on SQLite: the same rows either way;
- no audit entry per policy (the caller seals the batch's evidence under one root), no insurer
  delivery, no e-policy task (the channel documents the sale at its checkout; recovery skips
  these policies: `services.missing_epolicies`), no premium schedule (single premium only: the
  channel collected it and settles it in batch), no `policies_issued` announcement — the caller
  announces its own batch event, which carries the same `IssuedPolicy` values.

Must run inside the caller's transaction.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping, Sequence

from django.db import transaction
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core.bulkcopy import IdPool, copy_create, copy_rows
from huibao.policy import lifecycle
from huibao.policy.issuance import IssuanceRequest
from huibao.policy.models import Policy, PolicyParty, PolicyStatusChange
from huibao.policy.services import IssuedPolicy, NumberBlock, _parties, policy_row, take_numbers


def issue_bulk(
    requests: Sequence[IssuanceRequest],
    *,
    now: datetime.datetime,
    ids: IdPool | None = None,
    blocks: Mapping[int, NumberBlock] | None = None,
) -> list[IssuedPolicy]:
    """One policy per request (each of exactly one item, no application, a single premium), in
    the order given. Raises ValueError for a request that is not of that shape. The ids of the
    policies, parties and status rows are reserved in one statement, with whatever the caller
    asked of `ids` for its own rows (the embedded evidence). `blocks` (by insurer id) are numbers
    reserved beforehand (`services.reserve_numbers`); an insurer without one takes its numbers
    here, in the caller's transaction."""
    if not requests:
        return []
    for request in requests:
        if request.application_id is not None or len(request.items) != 1:
            raise ValueError("issue_bulk(): one item and no application per request")
        if request.items[0].payment_mode != "single":
            raise ValueError("issue_bulk(): a single premium only")
    with transaction.atomic(savepoint=False):
        year = timezone.localtime(now).year
        insurers: dict[int, Insurer] = {}
        counts: Counter[int] = Counter()
        for request in requests:
            insurer = request.items[0].product_version.product.insurer
            insurers[insurer.pk] = insurer
            counts[insurer.pk] += 1
        # Row locks of the sequences in insurer order: no deadlock between concurrent batches.
        reserved = dict(blocks or {})
        numbers: dict[int, NumberBlock] = {
            pk: reserved[pk] if pk in reserved else take_numbers(insurers[pk], year, counts[pk])
            for pk in sorted(insurers)
        }
        policies = [
            policy_row(
                request,
                request.items[0],
                numbers=numbers[request.items[0].product_version.product.insurer_id],
                now=now,
            )
            for request in requests
        ]
        pool = ids or IdPool()
        # Every policy has exactly two party rows (holder; insured, or the holder again as "self").
        pool.want(Policy, len(policies))
        pool.want(PolicyParty, 2 * len(policies))
        pool.want(PolicyStatusChange, len(policies))
        pool.reserve()
        copy_create(Policy, policies, pool=pool)
        parties: list[PolicyParty] = []
        issued: list[IssuedPolicy] = []
        for request, policy in zip(requests, policies, strict=True):
            own = _parties(policy, request, request.items[0])
            parties.extend(own)
            issued.append(IssuedPolicy(policy=policy, parties=tuple(own), subject=request.items[0].subject))
        copy_create(PolicyParty, parties, pool=pool)
        # History rows are never read back here: values, not instances (`copy_rows`).
        copy_rows(
            PolicyStatusChange,
            lifecycle.ISSUED_CHANGE_FIELDS,
            [lifecycle.issued_change_values(p, at=now) for p in policies],
            pool=pool,
        )
    return issued
