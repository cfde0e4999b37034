"""The statements of a fast-tracked submit (the customer's submit of a small, clean, complete
claim: screened, approved and its payout requested in one transaction) are pinned: the ceiling
may only go down. Everything the submit must do is checked beside the count — every timeline
step recorded and the customer told of each, the audit entries, the screen's verdict, the benefit
on the ledger, exactly one payout requested — so a lower count never buys a missing row."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.claim.models import BenefitEntry, Claim, ClaimStatusChange, ClaimTriage
from huibao.claim.services import report_claim, submit_claim, upload_material
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.adjud_factories import adjuster, at
from huibao.claim.tests.factories import in_force, jpeg, medical_policy, pdf, report_input
from huibao.core.models import AuditEntry
from huibao.fraud.models import Screening
from huibao.notification.models import OutboxMessage
from huibao.payment.models import Payout
from huibao.policy.tests.factories import customer

pytestmark = pytest.mark.django_db

# Every statement the submit sends, SAVEPOINT/RELEASE included (the test's own transaction makes
# the submit's outermost block a savepoint pair: BEGIN/COMMIT outside tests). 102 before the
# moves were batched. PostgreSQL reads the screen's history in one UNION ALL; SQLite cannot order
# and limit the parts of a UNION, so it asks each rule's history on its own.
MAX_STATEMENTS = {"postgresql": 30, "sqlite": 38}
SMALL = Decimal("1800.00")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _reported_with_materials() -> tuple[Claim, object]:
    policy = in_force(medical_policy(customer()))
    owner = policy.customer
    with at(policy, 130):
        claim = report_claim(owner, report_input(policy, amount_claimed=SMALL))
        upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
        upload_material(
            owner, claim.public_id, kind="invoice", file=io.BytesIO(pdf()), invoice_number="FP20261234"
        )
    return claim, policy


def test_a_fast_tracked_submit_does_everything_within_its_statement_ceiling():
    # given: a small claim reported with its materials uploaded
    claim, policy = _reported_with_materials()
    owner = claim.claimant
    notices_before = OutboxMessage.objects.filter(user=owner).count()
    # when: the customer submits
    with at(policy, 130), CaptureQueriesContext(connection) as statements:
        submitted = submit_claim(owner, claim.public_id)
    # then: decided and paying, with every step recorded and told
    assert submitted.status == ClaimStatus.PAYING and submitted.auto_decided
    assert submitted.approved_amount == SMALL and submitted.decided_at is not None
    steps = list(
        ClaimStatusChange.objects.filter(claim=claim).order_by("id").values_list("from_status", "to_status")
    )
    assert steps == [
        ("", "reported"),
        ("reported", "materials_complete"),
        ("materials_complete", "approved"),
        ("approved", "paying"),
    ]
    told = OutboxMessage.objects.filter(user=owner, template="claim.progress").order_by("id")
    move_ids = set(
        ClaimStatusChange.objects.filter(claim=claim).exclude(from_status="").values_list("pk", flat=True)
    )
    assert {int(m.dedup_key.rsplit(":", 1)[1]) for m in told} == move_ids
    assert OutboxMessage.objects.filter(user=owner).count() > notices_before
    actions = list(AuditEntry.objects.filter(object_id=claim.number).values_list("action", flat=True))
    assert actions.count("claim.status_changed") == 3
    for action in ("claim.screened", "claim.benefit_recorded", "claim.approved"):
        assert action in actions
    triage = ClaimTriage.objects.get(claim=claim)
    screening = Screening.objects.get(public_id=triage.screening_id)
    assert screening.route == triage.route == "pass" and triage.fast_tracked and triage.reason_codes == []
    assert AuditEntry.objects.filter(action="fraud.screened", object_id=str(screening.public_id)).exists()
    assert list(BenefitEntry.objects.filter(reference=claim.number).values_list("paid", flat=True)) == [SMALL]
    payouts = list(Payout.objects.filter(kind="claim", reference__startswith=claim.number))
    assert [(p.reference, p.amount) for p in payouts] == [(claim.number, SMALL)]
    assert AuditEntry.objects.filter(action="payout.requested", object_id=str(payouts[0].public_id)).exists()
    # and within the ceiling
    count = len(statements.captured_queries)
    ceiling = MAX_STATEMENTS[connection.vendor]
    listed = "\n".join(q["sql"][:120] for q in statements.captured_queries)
    assert count <= ceiling, f"{count} statements (ceiling {ceiling}):\n{listed}"


def test_a_fast_tracked_claim_is_not_assigned_and_a_queued_one_is():
    # given: an adjuster's desk that handles every claim, and two small claims reported with
    # their materials, the second above the fast track's limit (queued)
    desk_user = adjuster("desk")
    fast, policy = _reported_with_materials()
    owner = fast.claimant
    # when the first is submitted (fast-tracked)
    with at(policy, 130), CaptureQueriesContext(connection) as statements:
        decided = submit_claim(owner, fast.public_id)
    # then nobody is assigned to it, and no desk was read
    assert decided.status == ClaimStatus.PAYING and decided.assigned_to_id is None
    assert not [q for q in statements.captured_queries if "claim_claimsdesk" in q["sql"]]
    assert not AuditEntry.objects.filter(action="claim.assigned", object_id=fast.number).exists()
    # and a claim the fast track does not decide (over its limit) goes to the desk, after the
    # move that queues it
    with at(policy, 131):
        big = report_claim(
            owner,
            report_input(
                policy,
                amount_claimed=Decimal("5000.00"),
                incident_date=fast.incident_date + timedelta(days=1),
            ),
        )
        upload_material(owner, big.public_id, kind="id_card", file=io.BytesIO(jpeg() + b"2"))
        upload_material(
            owner,
            big.public_id,
            kind="invoice",
            file=io.BytesIO(pdf() + b"%2\n"),
            invoice_number="FP20269999",
        )
        queued = submit_claim(owner, big.public_id)
    assert queued.status == ClaimStatus.UNDER_REVIEW and queued.assigned_to_id == desk_user.pk
    assert AuditEntry.objects.filter(action="claim.assigned", object_id=big.number).exists()
