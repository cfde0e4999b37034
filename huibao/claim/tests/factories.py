"""Claim test builders: a medical policy issued through the real issuance (90-day waiting period,
a claims document with an exclusion), tiny real JPEG/PNG/PDF files, and a report's input."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

from django.utils import timezone
from PIL import Image

from huibao.account.models import User
from huibao.claim.services import ReportInput
from huibao.policy.models import Policy
from huibao.policy.tests.factories import Person, application, customer, issue, product_version

GOOD_CARD = "6222020200112345679"  # Luhn-valid
MEDICAL_COVERAGES = (
    ("general_medical", "一般医疗保险金", 2_000_000, False),
    ("death", "身故保险金", 100_000, False),
)
CLAIMS_DOC: dict[str, Any] = {
    "report_within_days": 365,
    "exclusions": [{"cause": "pre_existing", "clause": "第六条第（一）款", "text": "既往症不予赔偿"}],
    "materials": {"medical": ["id_card", "invoice"]},
}


def medical_policy(owner: User | None = None, *, claims: dict[str, Any] | None = None) -> Policy:
    version = product_version(line="medical", coverages=MEDICAL_COVERAGES, cooling_off_days=0)
    version.claims = CLAIMS_DOC if claims is None else claims
    version.save(update_fields=["claims"])
    app = application(
        [(version, Person(), 2_000_000, "300.00", {"term": "1y"})], customer=owner or customer()
    )
    return issue(app)[0]


def start_of(policy: Policy) -> datetime.date:
    return timezone.localtime(policy.effective_at).date()


def report_input(policy: Policy, **overrides: Any) -> ReportInput:
    values: dict[str, Any] = {
        "policy_id": str(policy.public_id),
        "claim_type": "medical",
        "incident_date": start_of(policy) + datetime.timedelta(days=120),
        "region_code": "310101",
        "place": "上海市第一人民医院",
        "description": "急性阑尾炎住院手术",
        "amount_claimed": Decimal("8600.00"),
        "payee_name": "李春花",
        "payee_account": GOOD_CARD,
    }
    values.update(overrides)
    return ReportInput(**values)


def jpeg(color: str = "red", size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def png(color: str = "blue") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6, 6), color).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(out, "PDF")
    return out.getvalue()


def in_force(policy: Policy) -> Policy:
    """What the daily status sweep does when the start comes: the history row at the start."""
    from django.db import transaction

    from huibao.policy.lifecycle import Reason, lock_policy, transition

    with transaction.atomic():
        locked = lock_policy(policy.pk)
        transition(locked, "in_force", reason=Reason.START, actor="system", at=locked.effective_at)
    policy.refresh_from_db()
    return policy


def expire(policy: Policy) -> Policy:
    from django.db import transaction

    from huibao.policy.lifecycle import Reason, lock_policy, transition

    with transaction.atomic():
        locked = lock_policy(policy.pk)
        assert locked.expires_at is not None
        transition(locked, "expired", reason=Reason.EXPIRY, actor="system", at=locked.expires_at)
    policy.refresh_from_db()
    return policy
