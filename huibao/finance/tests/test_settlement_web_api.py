"""Settlement through the API and the back-office pages: finance staff's workflow, the scoping
of insurer and channel staff to their own statements (404 for others'), and the Excel and PDF
exports read back."""

from __future__ import annotations

import datetime
import io
import subprocess
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from huibao.account.models import User, UserKind
from huibao.distribution.models import InsurerMember, SalesUnitKind, SalesUnitMember
from huibao.esign.pdf import verify_pdf
from huibao.finance import settlement
from huibao.finance.settlement_models import SettlementStatement
from huibao.finance.settlement_states import StatementStatus
from huibao.finance.tests import settlement_factories as f

pytestmark = pytest.mark.django_db
D = Decimal
NOV = datetime.date(2025, 11, 10)
API = "/api/v1/finance/statements"


def _partner(username: str) -> User:
    # Insurer and channel staff log in with their own accounts; no back-office permission.
    return User.objects.create_user(username=username, password="x-unused-123", kind=UserKind.STAFF)


@pytest.fixture
def two_insurers():
    mine, theirs = f.insurer("picc"), f.insurer("cpic")
    for ins in (mine, theirs):
        f.premium(ins, "1000.00", NOV)
        f.inbound(ins, "150.00", NOV)
    return (
        settlement.generate_insurer_statement(mine, "2025-11"),
        settlement.generate_insurer_statement(theirs, "2025-11"),
    )


def test_insurer_staff_see_only_their_insurers_statements(client, two_insurers):
    # given
    mine, theirs = two_insurers
    user = _partner("picc-finance")
    InsurerMember.objects.create(insurer=mine.insurer, user=user)
    client.force_login(user)
    # when
    listed = client.get(API)
    # then
    assert listed.status_code == 200
    assert [s["number"] for s in listed.json()] == [mine.number]
    assert client.get(f"{API}/{mine.number}").json()["net_amount"] == "850.00"
    for path in (
        f"{API}/{theirs.number}",
        f"{API}/{theirs.number}/export.xlsx",
        f"{API}/{theirs.number}/export.pdf",
    ):
        refused = client.get(path)
        assert refused.status_code == 404 and refused.json()["code"] == "statement_not_found"
    # and they cannot act on their own either
    assert client.post(f"{API}/{mine.number}/submit").status_code == 403


def test_channel_staff_see_their_subtree_only(client):
    # given: a channel with a sub-channel, and another channel
    ins = f.insurer()
    channel = f.unit(SalesUnitKind.CHANNEL, "ch1")
    sub = f.unit(SalesUnitKind.SUBCHANNEL, "ch1-a", parent=channel)
    other = f.unit(SalesUnitKind.CHANNEL, "ch2")
    for unit in (channel, sub, other):
        f.outbound(ins, unit, "100.00", NOV)
    made = {u.code: settlement.generate_unit_statement(u, "2025-11") for u in (channel, sub, other)}
    user = _partner("ch1-manager")
    SalesUnitMember.objects.create(unit=channel, user=user, is_manager=True)
    client.force_login(user)
    # when
    numbers = {s["number"] for s in client.get(API).json()}
    # then
    assert numbers == {made["ch1"].number, made["ch1-a"].number}
    assert client.get(f"{API}/{made['ch2'].number}").status_code == 404


def test_an_agent_sees_their_own_statement(client):
    ins = f.insurer()
    user = _partner("agent-1")
    agent = f.unit(SalesUnitKind.AGENT)
    agent.user = user
    agent.save(update_fields=["user"])
    colleague = f.unit(SalesUnitKind.AGENT)
    f.outbound(ins, agent, "100.00", NOV)
    f.outbound(ins, colleague, "100.00", NOV)
    own = settlement.generate_unit_statement(agent, "2025-11")
    theirs = settlement.generate_unit_statement(colleague, "2025-11")
    client.force_login(user)
    assert [s["number"] for s in client.get(API).json()] == [own.number]
    assert client.get(f"{API}/{theirs.number}").status_code == 404


def test_anyone_else_is_refused(client, two_insurers):
    customer = User.objects.create_user(username="13800000001", password="x-unused-123")
    client.force_login(customer)
    refused = client.get(API)
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    client.logout()
    assert client.get(API).status_code == 401


def test_finance_runs_the_workflow_through_the_api(client):
    # given
    ins = f.insurer("pingan")
    f.premium(ins, "2000.00", NOV)
    f.inbound(ins, "300.00", NOV)
    preparer, approver = f.finance_user("prep"), f.finance_user("appr")
    f.login(client, preparer)
    # when: generated twice (201, then the same one: 200), submitted
    body = {"party_kind": "insurer", "party": "pingan", "period": "2025-11"}
    made = client.post(API, body, content_type="application/json")
    assert made.status_code == 201, made.json()
    number = made.json()["number"]
    again = client.post(API, body, content_type="application/json")
    assert again.status_code == 200 and again.json()["number"] == number
    assert made.json()["lines"][0]["amount"] in {"2000.00", "300.00"}
    assert client.post(f"{API}/{number}/submit").json()["status"] == "submitted"
    own = client.post(f"{API}/{number}/approve")
    assert own.status_code == 409 and own.json()["code"] == "own_statement"
    # then: another finance user approves and pays
    f.login(client, approver)
    assert client.post(f"{API}/{number}/approve").json()["status"] == "approved"
    bad = client.post(
        f"{API}/{number}/paid",
        {"bank_reference": "", "paid_on": "2025-12-01"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "bank_reference"
    paid = client.post(
        f"{API}/{number}/paid",
        {"bank_reference": "CMB-1", "paid_on": "2025-12-01"},
        content_type="application/json",
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    listed = client.get(API, {"status": "paid", "party": "pingan"}).json()
    assert [s["number"] for s in listed] == [number]


def test_bad_generation_input_names_the_field(client):
    f.login(client, f.finance_user("prep"))
    unknown = client.post(
        API, {"party_kind": "insurer", "party": "nope", "period": "2025-11"}, content_type="application/json"
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "party"
    f.insurer("abc")
    period = client.post(
        API, {"party_kind": "insurer", "party": "abc", "period": "11/2025"}, content_type="application/json"
    )
    assert period.status_code == 422 and period.json()["errors"][0]["field"] == "period"
    status = client.get(API, {"status": "lost"})
    assert status.status_code == 422 and status.json()["errors"][0]["field"] == "status"
    assert not SettlementStatement.objects.exists()


def test_overdue_filter(client, two_insurers):
    f.login(client, f.finance_user("clerk"))
    overdue = client.get(API, {"overdue": "true"}).json()  # due 2025-12-15, long past
    assert {s["number"] for s in overdue} == {s.number for s in two_insurers}
    assert all(s["overdue"] for s in overdue)


def test_the_excel_export_reads_back(client, two_insurers):
    mine, _theirs = two_insurers
    f.login(client, f.finance_user("clerk"))
    response = client.get(f"{API}/{mine.number}/export.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["汇总", "明细"]
    summary = {row[0].value: row[1] for row in book["汇总"].iter_rows()}
    assert summary["结算单号"].value == mine.number
    assert summary["净额（正数为我方应付）"].value == 850  # a number, not text
    assert summary["净额（正数为我方应付）"].number_format == "#,##0.00"
    lines = list(book["明细"].iter_rows(values_only=True))
    assert lines[0] == ("序号", "类型", "保单号", "日期", "事件", "金额")
    assert sorted(row[5] for row in lines[1:]) == [150, 1000]
    assert all(isinstance(row[5], (int, float)) for row in lines[1:])
    cells = list(book["明细"].iter_rows(min_row=2))
    assert all(row[5].number_format == "#,##0.00" for row in cells)


def test_the_pdf_export_reads_back_and_is_signed(client, two_insurers, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    mine, _theirs = two_insurers
    f.login(client, f.finance_user("clerk"))
    response = client.get(f"{API}/{mine.number}/export.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    path = tmp_path / "s.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout
    assert mine.number in text and "850.00" in text and "1,000.00" in text and "结算单" in text
    check = verify_pdf(response.content)
    assert check.valid, check.problems


def test_the_pages_list_show_and_act(client, two_insurers):
    # given
    mine, _theirs = two_insurers
    preparer = f.finance_user("prep")
    f.login(client, preparer)
    # when / then: the list, filtered, and the statement with its lines
    page = client.get("/finance/statements/", {"party": mine.insurer.code})
    assert page.status_code == 200
    assert mine.number in page.content.decode() and _theirs.number not in page.content.decode()
    detail = client.get(f"/finance/statements/{mine.number}/")
    assert detail.status_code == 200 and "850.00" in detail.content.decode()
    # submit, then the preparer's own approval is refused inline
    client.post(f"/finance/statements/{mine.number}/submit/")
    refused = client.post(f"/finance/statements/{mine.number}/approve/", follow=True)
    assert "制单人或提交人不能审批自己的结算单" in refused.content.decode()
    mine.refresh_from_db()
    assert mine.status == StatementStatus.SUBMITTED
    # the exports from the page
    assert client.get(f"/finance/statements/{mine.number}/export.xlsx").status_code == 200


def test_the_pages_need_finance(client, two_insurers):
    f.login(client, f.finance_user("cs", role="customer_service"))
    assert client.get("/finance/statements/").status_code == 403
    assert client.get("/api/v1/finance/statements").status_code == 403
