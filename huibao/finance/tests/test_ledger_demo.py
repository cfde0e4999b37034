"""The demo's policies are in the ledger: their payments booked by the hooks and the issuances'
booking jobs as they were made, `finance_backfill` (run by setup_demo) finds nothing missing, and
the books balance."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Q, Sum

from huibao.account.demo import create_demo_users
from huibao.finance import accounts, ledger, postings
from huibao.finance.models import JournalTransaction
from huibao.finance.tests.booking_jobs import run_booking_jobs
from huibao.payment.models import Payment, Refund

pytestmark = pytest.mark.django_db


def test_the_demo_payments_are_in_the_ledger(settings, django_capture_on_commit_callbacks) -> None:
    # given: the demo market, log-ins and policies
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load_demo", products=60, verbosity=0)
    create_demo_users()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_policies", stdout=StringIO())
    run_booking_jobs()  # what the worker does with the jobs the issuances queued
    # when
    out = StringIO()
    call_command("finance_backfill", stdout=out)
    # then: every paid premium payment is booked, once
    paid = Payment.objects.filter(reference_kind__in=postings.PREMIUM_KINDS, status__in=postings.MONEY_IN)
    assert paid.exists()
    for payment in paid:
        base = postings.premium_key(payment.pk)
        keys = JournalTransaction.objects.filter(Q(key=base) | Q(key__startswith=base + ":"))
        assert (
            keys.exists() or JournalTransaction.objects.filter(key=postings.receipt_key(payment.pk)).exists()
        )
    assert "premium transactions posted: 0" in out.getvalue()
    # and the cash is what came in less what went back
    money_in = paid.aggregate(s=Sum("amount"))["s"] or Decimal("0")
    money_out = Refund.objects.filter(status="succeeded").aggregate(s=Sum("amount"))["s"] or Decimal("0")
    assert ledger.balance(accounts.cash()) == money_in - money_out
    assert ledger.trial_balance().balanced
