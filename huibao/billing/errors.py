"""Billing's domain errors (codes and HTTP statuses come from `huibao.core.errors`)."""

from __future__ import annotations

from huibao.core.errors import Conflict


class NotReinstatable(Conflict):
    code = "not_reinstatable"


class NoActiveMandate(Conflict):
    code = "no_active_mandate"


class NotPayable(Conflict):
    """An instalment that cannot be paid now (already paid, an earlier one unpaid, lapsed…)."""

    code = "not_payable"
