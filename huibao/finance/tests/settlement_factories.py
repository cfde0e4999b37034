"""Test data for settlement: insurers with agreements, premium posted to the ledger, commission
entries written directly (the commission and ledger helpers of the other areas build theirs the
same way)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.catalog.models import Insurer
from huibao.distribution.models import (
    AgencyEntity,
    AgreementStatus,
    InsurerAgreement,
    SalesUnit,
    SalesUnitKind,
)
from huibao.finance import accounts, ledger
from huibao.finance.models import CommissionEntry

_seq = itertools.count(1)


def agency() -> AgencyEntity:
    obj, _ = AgencyEntity.objects.get_or_create(
        code="hb", defaults={"name": "汇保保险代理有限公司", "licence_number": "260000000000000"}
    )
    return obj


def insurer(code: str | None = None, **agreement: Any) -> Insurer:
    n = next(_seq)
    code = code or f"ins{n}"
    obj = Insurer.objects.create(
        code=code, name=f"测试保险{code}", short_name=f"测{code}"[:16], kind="property"
    )
    terms = {
        "settlement_period": "monthly",
        "days_to_pay": 15,
        "premium_collector": "agency",
        "net_settlement": True,
    }
    terms.update(agreement)
    InsurerAgreement.objects.create(
        number=f"AG-{code}",
        agency=agency(),
        insurer=obj,
        status=AgreementStatus.ACTIVE,
        valid_from=datetime.date(2025, 1, 1),
        **terms,
    )
    return obj


def unit(
    kind: str = SalesUnitKind.CHANNEL, code: str | None = None, parent: SalesUnit | None = None
) -> SalesUnit:
    code = code or f"u{next(_seq)}"
    path = f"{parent.path}/{code}" if parent else code
    return SalesUnit.objects.create(
        code=code, name=f"单位{code}", kind=kind, parent=parent, path=path, agency=agency()
    )


def premium(ins: Insurer, amount: str, on: datetime.date, *, policy_id: int | None = None) -> None:
    """Premium collected for `ins`: Dr cash / Cr premium payable (a negative amount: a refund)."""
    value = Decimal(amount)
    key = f"premium:test:{next(_seq)}"
    if value >= 0:
        lines = [
            ledger.debit(accounts.cash(), value),
            ledger.credit(accounts.premium_payable(ins), value, policy_id=policy_id),
        ]
    else:
        lines = [
            ledger.debit(accounts.premium_payable(ins), -value, policy_id=policy_id),
            ledger.credit(accounts.refunds_payable(), -value),
        ]
    ledger.post(key, on=on, description="test premium", lines=lines)


def inbound(ins: Insurer, amount: str, on: datetime.date, **kwargs: Any) -> CommissionEntry:
    return CommissionEntry.objects.create(
        key=f"in:{next(_seq)}",
        direction="inbound",
        event=kwargs.pop("event", "issued"),
        insurer=ins,
        amount=Decimal(amount),
        occurred_on=on,
        **kwargs,
    )


def outbound(ins: Insurer, to: SalesUnit, amount: str, on: datetime.date) -> CommissionEntry:
    return CommissionEntry.objects.create(
        key=f"out:{next(_seq)}",
        direction="outbound",
        event="issued",
        insurer=ins,
        sales_unit=to,
        amount=Decimal(amount),
        occurred_on=on,
    )


def finance_user(username: str, role: str = "finance") -> User:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def login(client: Any, user: User, *, verified: bool = True) -> Any:
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    if verified:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
