"""Builders for the insurers' side of claims: a connector-mode insurer, a claim with complete
materials on it, staff logged in with a role, and a signed notice forged with the sandbox key."""

from __future__ import annotations

import datetime
import io
import json
from contextlib import AbstractContextManager
from typing import Any

import time_machine
from django.contrib.auth.models import Group

from huibao.account.models import User, UserKind
from huibao.claim import insurer
from huibao.claim.models import Claim
from huibao.claim.services import report_claim, submit_claim, upload_material
from huibao.claim.tests.factories import jpeg, pdf, report_input, start_of
from huibao.policy.models import Policy
from huibao.policy.tests.factories import staff_login
from huibao.sandbox import insurer_claims, notifications

NOTIFY_URL = "/claims/insurer/notify/sandbox/"


def at(policy: Policy, days: int, hours: int = 0) -> AbstractContextManager[Any]:
    moment = datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(
        days=days, hours=hours
    )
    return time_machine.travel(moment, tick=False)


def connector_mode(policy: Policy, *, days: int = 15, payer: str = "insurer") -> None:
    insurer.save_setting(policy.insurer, mode="connector", decision_days=days, payer=payer, actor="test")


def complete_claim(owner: User, policy: Policy, **overrides: Any) -> Claim:
    """A claim reported, its materials uploaded and submitted (materials_complete)."""
    claim = report_claim(owner, report_input(policy, **overrides))
    upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
    upload_material(owner, claim.public_id, kind="invoice", file=io.BytesIO(pdf()), invoice_number="INV001")
    return submit_claim(owner, claim.public_id)


def staff(client: Any, role: str, username: str = "staff1", email: str = "") -> Any:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True, email=email
    )
    user.groups.add(Group.objects.get(name=role))
    return staff_login(client, User.objects.get(pk=user.pk))


def notice_of(claim_number: str, kind: str) -> insurer_claims.SandboxInsurerClaimNotice:
    return next(n for n in insurer_claims.owed_notices(claim_number) if n.kind == kind)


def signed_post(client: Any, body: dict[str, Any], *, now: datetime.datetime, tamper: bool = False) -> Any:
    """Posts a notice signed with the sandbox insurer's key (or a broken signature)."""
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    headers = notifications.channel_headers(insurer_claims.CHANNEL.name, body["notify_id"], raw, now)
    if tamper:
        raw = raw.replace(b'"approve"', b'"deny"') if b'"approve"' in raw else raw + b" "
    return client.generic(
        "POST",
        NOTIFY_URL,
        raw,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
