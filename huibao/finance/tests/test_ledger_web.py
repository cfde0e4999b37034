"""The ledger's pages: finance sees the trial balance, a statement, a transaction, reverses it
with a reason; the ageing page and its Excel export; others are refused."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.test import Client
from openpyxl import load_workbook

from huibao.account.services import create_staff_user
from huibao.finance import ledger
from huibao.finance.accounts import AccountRef, cash
from huibao.finance.models import AccountKind, JournalTransaction, LedgerAccount
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 3, 1)
PAYABLE = AccountRef("premium_payable:insurer:i1", "应付保费-甲保险", AccountKind.LIABILITY, "insurer", 1)


def _books() -> JournalTransaction:
    return ledger.post(
        "premium:payment:1",
        on=DAY,
        description="收到保费 P1",
        lines=[ledger.debit(cash(), D("320.00")), ledger.credit(PAYABLE, D("320.00"))],
    )


def _client(roles: list[str]) -> Client:
    user = create_staff_user(f"u{'-'.join(roles) or 'none'}", "Str0ng-pass-word!", roles)
    return f.staff_login(Client(), user)


def test_finance_reads_the_trial_balance_and_a_statement() -> None:
    _books()
    client = _client(["finance"])
    # when
    page = client.get("/finance/ledger/", {"on": "2026-03-31"})
    # then
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-account="cash"' in body and 'data-balanced="1"' in body and "320.00" in body
    assert 'data-testid="staff-nav"' in body and "/finance/ageing/" in body
    acc = LedgerAccount.objects.get(code=PAYABLE.code)
    statement = client.get(
        f"/finance/ledger/accounts/{acc.pk}/", {"since": "2026-03-01", "until": "2026-03-31"}
    )
    assert statement.status_code == 200
    assert statement.context["st"].closing == D("320.00")
    assert [s.running for s in statement.context["st"].lines] == [D("320.00")]


def test_a_bad_date_is_named_and_nothing_else_happens() -> None:
    client = _client(["finance"])
    page = client.get("/finance/ledger/", {"on": "2026-13-01"})
    assert page.status_code == 422
    assert page.context["errors"] == [
        {"field": "on", "code": "invalid_date", "message": "日期格式应为 YYYY-MM-DD"}
    ]


def test_finance_reverses_a_transaction_with_a_reason() -> None:
    txn = _books()
    client = _client(["finance"])
    url = f"/finance/ledger/transactions/{txn.public_id}/"
    assert client.get(url).context["can_reverse"] is True
    # when: no reason
    refused = client.post(url, {"reason": "  "})
    # then: named, nothing written
    assert refused.status_code == 422 and refused.context["errors"][0]["field"] == "reason"
    assert JournalTransaction.objects.count() == 1
    # when: with a reason
    done = client.post(url, {"reason": "金额录错"})
    # then
    rev = JournalTransaction.objects.get(reverses=txn)
    assert done.status_code == 302 and done["Location"] == f"/finance/ledger/transactions/{rev.public_id}/"
    assert ledger.balance(cash()) == 0 and "金额录错" in rev.description
    # and a second reversal is refused
    again = client.post(url, {"reason": "再次"})
    assert again.status_code == 422 and again.context["errors"][0]["code"] == "already_reversed"
    assert JournalTransaction.objects.count() == 2


def test_the_ageing_page_and_its_excel_export() -> None:
    _books()
    client = _client(["finance"])
    page = client.get("/finance/ageing/", {"on": "2026-05-15"})
    assert page.status_code == 200
    [row] = page.context["rows"]
    assert row["row"].buckets["61-90"] == D("320.00")  # 75 days old
    export = client.get("/finance/ageing/", {"on": "2026-05-15", "format": "xlsx"})
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][0] == PAYABLE.code and rows[2][5] == 320  # the 61–90 column
    assert rows[-1][0] == "合计"
    bad = client.get("/finance/ageing/", {"party": "customer"})
    assert bad.status_code == 422 and bad.context["errors"][0]["field"] == "party"


@pytest.mark.parametrize("roles", [[], ["customer_service"]])
def test_others_are_refused(roles: list[str]) -> None:
    txn = _books()
    client = _client(roles)
    for url in ("/finance/ledger/", "/finance/ageing/", f"/finance/ledger/transactions/{txn.public_id}/"):
        assert client.get(url).status_code == 403
    assert client.post(f"/finance/ledger/transactions/{txn.public_id}/", {"reason": "x"}).status_code == 403
    assert JournalTransaction.objects.count() == 1


def test_the_auditor_reads_but_does_not_reverse() -> None:
    txn = _books()
    client = _client(["auditor"])
    url = f"/finance/ledger/transactions/{txn.public_id}/"
    assert client.get(url).context["can_reverse"] is False
    assert client.post(url, {"reason": "x"}).status_code == 403
    assert JournalTransaction.objects.count() == 1


def test_anonymous_goes_to_the_staff_login() -> None:
    page = Client().get("/finance/ledger/")
    assert page.status_code == 302 and "/account/staff/login/" in page["Location"]
