"""A paid claim reopened (fraud found later) and denied: the benefit released, a recovery of what
was paid opened and shown on the desk, recorded recovered or written off; nothing pays twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.claim import limits, recoveries
from huibao.claim.decisions import Decision, decide, paid_so_far
from huibao.claim.models import Claim, ClaimRecovery
from huibao.claim.states import ClaimStatus, DecisionKind, RecoveryStatus
from huibao.claim.tests.adjud_factories import adjuster, bank_result, complete_claim, under_review
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.payment.models import Payout
from huibao.provider.tests.factories import login

pytestmark = pytest.mark.django_db
DENY_FRAUD = Decision(DecisionKind.DENY, reason_code="fraud", clause="第十二条", note="发票系伪造")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def senior():
    return adjuster("sam", senior=True)


@pytest.fixture
def paid(senior) -> Claim:
    claim = under_review(complete_claim())
    decide(claim, Decision(DecisionKind.APPROVE), actor=senior)
    bank_result(claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    return claim


def _paid_in_year(claim: Claim) -> Decimal:
    return limits.usage_for(claim.policy, "general_medical", claim.incident_date).paid


def test_a_paid_claim_denied_later_releases_the_benefit_and_opens_a_recovery(paid, senior):
    # given a paid claim, its benefit on the ledger
    amount = Decimal(paid.approved_amount or 0)
    assert amount > 0 and _paid_in_year(paid) == amount
    # when fraud is found: reopened, then denied
    recoveries.reopen_claim(paid, actor=senior, reason="发票经核实系伪造")
    assert _paid_in_year(paid) == 0  # the year's limit gets the benefit back
    decide(paid, DENY_FRAUD, actor=senior)
    # then the claim is denied, nothing more is paid, and what was paid is to be recovered
    paid.refresh_from_db()
    assert paid.status == ClaimStatus.DENIED
    assert Payout.objects.filter(kind="claim").count() == 1
    recovery = ClaimRecovery.objects.get(claim=paid)
    assert (recovery.amount, recovery.status, recovery.reason_code) == (amount, RecoveryStatus.OPEN, "fraud")
    assert recovery.payee_account_last4 == paid.payee_account_last4
    assert AuditEntry.objects.filter(action="claim.recovery_opened", object_id=paid.number).exists()
    assert AuditEntry.objects.filter(action="claim.reopened", object_id=paid.number).exists()


def test_only_a_senior_adjuster_reopens_only_a_paid_claim_with_a_reason(paid, senior):
    junior = adjuster("jim")
    with pytest.raises(PermissionDenied):
        recoveries.reopen_claim(paid, actor=junior, reason="怀疑欺诈")
    with pytest.raises(ValidationFailed) as exc:
        recoveries.reopen_claim(paid, actor=senior, reason="  ")
    assert exc.value.errors[0].field == "note"
    paid.refresh_from_db()
    assert paid.status == ClaimStatus.PAID and _paid_in_year(paid) > 0  # nothing changed
    recoveries.reopen_claim(paid, actor=senior, reason="怀疑欺诈")
    with pytest.raises(Conflict):
        recoveries.reopen_claim(paid, actor=senior, reason="again")


def test_a_lower_partial_re_decision_recovers_the_difference_and_pays_nothing(paid, senior):
    # given a paid claim reopened
    amount = Decimal(paid.approved_amount or 0)
    recoveries.reopen_claim(paid, actor=senior, reason="部分费用虚报")
    # when it is approved again for ¥1,000 less
    lower = amount - Decimal("1000.00")
    decide(
        paid,
        Decision(DecisionKind.PARTIAL, reason_code="uncovered_expenses", amount=lower),
        actor=senior,
    )
    # then no new payout; ¥1,000 to recover; the ledger holds the new amount
    paid.refresh_from_db()
    assert paid.status == ClaimStatus.PAID
    assert Payout.objects.filter(kind="claim").count() == 1
    assert ClaimRecovery.objects.get(claim=paid).amount == Decimal("1000.00")
    assert _paid_in_year(paid) == lower


def test_a_recovered_amount_no_longer_counts_as_paid_and_a_write_off_needs_a_reason(paid, senior):
    # given a denial after payment with its recovery open
    amount = Decimal(paid.approved_amount or 0)
    recoveries.reopen_claim(paid, actor=senior, reason="欺诈")
    decide(paid, DENY_FRAUD, actor=senior)
    # a write-off without a reason is refused
    with pytest.raises(ValidationFailed) as exc:
        recoveries.resolve_recovery(paid, status=RecoveryStatus.WRITTEN_OFF, actor=senior, note="")
    assert exc.value.errors[0].field == "note"
    assert ClaimRecovery.objects.get(claim=paid).status == RecoveryStatus.OPEN
    # when the payee pays it back
    recoveries.resolve_recovery(paid, status=RecoveryStatus.RECOVERED, actor=senior, note="客户已退回")
    # then it is closed and no longer counted as paid; there is nothing open to resolve again
    recovery = ClaimRecovery.objects.get(claim=paid)
    assert recovery.status == RecoveryStatus.RECOVERED and recovery.resolved_at is not None
    assert paid_so_far(paid) == Decimal("0")
    assert amount > 0
    with pytest.raises(Conflict):
        recoveries.resolve_recovery(paid, status=RecoveryStatus.RECOVERED, actor=senior, note="")


def test_the_desk_shows_the_recovery_and_records_it_written_off(client, paid, senior):
    # given a paid claim on the desk of a senior adjuster
    login(client, senior)
    url = f"/claims/desk/{paid.public_id}/"
    assert 'data-testid="reopen"' in client.get(url).content.decode()
    # when it is reopened and denied through the desk
    client.post(f"{url}reopen/", {"note": "发现欺诈"})
    client.post(
        f"{url}decide/", {"kind": "deny", "reason_code": "fraud", "clause": "第十二条", "note": "发票伪造"}
    )
    page = client.get(url).content.decode()
    # then the recovery is shown, with the payee masked
    assert 'data-testid="recovery" data-status="open"' in page
    assert paid.payee_account not in page and paid.payee_account_last4 in page
    # when it is written off with a reason
    client.post(f"{url}write_off/", {"note": "客户失联，无法追回"})
    assert ClaimRecovery.objects.get(claim=paid).status == RecoveryStatus.WRITTEN_OFF
    assert 'data-status="written_off"' in client.get(url).content.decode()
