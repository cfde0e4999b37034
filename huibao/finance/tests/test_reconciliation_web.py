"""Reconciliation pages and API: finance imports, resolves (htmx) and closes; an insurer's or a
channel's staff read only their own."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import load_workbook

from huibao.account.models import User, UserKind
from huibao.distribution.models import InsurerMember, SalesUnitMember
from huibao.finance import reconciliation as recon
from huibao.finance.models import CommissionEntry, Reconciliation, StatementLine
from huibao.finance.tests import reconciliation_factories as f

pytestmark = pytest.mark.django_db
D = "2026-11-12"


def staff_client(role: str, username: str) -> Client:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    user = User.objects.get(pk=user.pk)
    client = Client()
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def books():
    ins = f.insurer(code="cpic-test", short_name="太保测试")
    same = f.policy(ins, number="CPIC-1")
    f.book_premium(same, "1000.00")
    f.commission(same, "150.00")
    rate = f.policy(ins, number="CPIC-2")
    f.book_premium(rate, "2000.00")
    f.commission(rate, "300.00")
    return ins


def statement() -> bytes:
    return f.csv_bytes(
        [["CPIC-1", "1000.00", "150.00", D, "承保"], ["CPIC-2", "2000.00", "280.00", D, "承保"]]
    )


def test_finance_imports_resolves_in_place_and_closes_on_the_pages(books):
    # given
    client = staff_client("finance", "fin")
    form = client.get(f"/finance/reconciliation/new/?party=insurer:{books.pk}")
    assert form.status_code == 200 and 'value="保单号"' in form.content.decode()
    # when: the statement is uploaded
    response = client.post(
        "/finance/reconciliation/new/",
        {
            "party": f"insurer:{books.pk}",
            "month": "2026-11",
            "tolerance": "0.00",
            "col_policy_number": "保单号",
            "col_premium": "保费",
            "col_commission": "手续费",
            "col_date": "日期",
            "col_event": "业务类型",
            "header_row": "1",
            "encoding": "auto",
            "file": SimpleUploadedFile("cpic-2026-11.csv", statement(), content_type="text/csv"),
        },
    )
    # then
    rec = Reconciliation.objects.get()
    assert response.status_code == 302 and str(rec.public_id) in response["Location"]
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="total-amount_differs" data-count="1"' in page
    assert 'data-testid="total-matched" data-count="1"' in page
    # closing while a difference is open is refused
    refused = client.post(f"/finance/reconciliation/{rec.public_id}/close/")
    assert refused.status_code == 409 and "未处理" in refused.content.decode()
    # resolving with htmx answers the row alone
    item = rec.items.get(policy_number="CPIC-2")
    partial = client.post(
        f"/finance/reconciliation/{rec.public_id}/items/{item.pk}/resolve/",
        {"action": "adjust", "reason": "对方费率14%"},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200
    body = partial.content.decode()
    assert body.lstrip().startswith("<tr") and 'data-status="adjusted"' in body
    assert CommissionEntry.objects.filter(event="adjustment", amount=Decimal("-20.00")).exists()
    closed = client.post(f"/finance/reconciliation/{rec.public_id}/close/")
    assert closed.status_code == 302
    rec.refresh_from_db()
    assert rec.status == "closed"


def test_a_bad_file_on_the_page_lists_each_line_and_imports_nothing(books):
    client = staff_client("finance", "fin")
    data = f.csv_bytes([["CPIC-1", "abc", "150.00", D, "承保"], ["CPIC-1", "1000.00", "150.00", D, "承保"]])
    response = client.post(
        "/finance/reconciliation/new/",
        {
            "party": f"insurer:{books.pk}",
            "month": "2026-11",
            "col_policy_number": "保单号",
            "col_commission": "手续费",
            "col_premium": "保费",
            "col_date": "日期",
            "col_event": "业务类型",
            "header_row": "1",
            "encoding": "auto",
            "file": SimpleUploadedFile("bad.csv", data),
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert 'data-field="line[2].premium"' in body and "第2行" in body
    assert Reconciliation.objects.count() == 0 and StatementLine.objects.count() == 0


def test_pages_need_the_finance_role(books):
    client = staff_client("customer_service", "cs")
    assert client.get("/finance/reconciliation/").status_code == 403


def _imported(ins) -> Reconciliation:
    return recon.import_statement(recon.Party.of_insurer(ins), f.PERIOD, "s.csv", io.BytesIO(statement()))


def test_api_import_resolve_close_for_finance(books):
    client = staff_client("finance", "fin")
    response = client.post(
        "/api/v1/reconciliations",
        {
            "party_kind": "insurer",
            "party": "cpic-test",
            "month": "2026-11",
            "file": SimpleUploadedFile("s.csv", statement()),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    totals = {t["category"]: t for t in body["totals"]}
    assert totals["amount_differs"]["their_commission"] == "280.00"
    items = client.get(f"/api/v1/reconciliations/{body['id']}/items?show=open").json()
    assert items["count"] == 1
    item = items["items"][0]
    assert (item["our_commission"], item["their_commission"]) == ("300.00", "280.00")
    assert client.post(f"/api/v1/reconciliations/{body['id']}/close").status_code == 409
    resolved = client.post(
        f"/api/v1/reconciliations/{body['id']}/items/{item['id']}/resolve",
        {"action": "dispute", "reason": "费率应为15%"},
        content_type="application/json",
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "disputed"
    export = client.get(f"/api/v1/reconciliations/{body['id']}/disputes.xlsx")
    sheet = load_workbook(io.BytesIO(export.content), read_only=True).worksheets[0]
    assert [r[0] for r in sheet.iter_rows(min_row=3, values_only=True)] == ["CPIC-2"]
    assert client.post(f"/api/v1/reconciliations/{body['id']}/close").json()["status"] == "closed"


def test_api_bad_statement_is_422_by_line(books):
    client = staff_client("finance", "fin")
    data = f.csv_bytes([["CPIC-1", "1000.00", "150.00", "2026-12-01", "承保"]])
    response = client.post(
        "/api/v1/reconciliations",
        {
            "party_kind": "insurer",
            "party": "cpic-test",
            "month": "2026-11",
            "file": SimpleUploadedFile("s.csv", data),
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "line[2].date", "code": "out_of_period", "message": response.json()["errors"][0]["message"]}
    ]
    assert Reconciliation.objects.count() == 0


def test_insurer_staff_see_their_own_only_and_cannot_resolve(books, django_user_model):
    # given: one reconciliation for our insurer, one for another
    mine = _imported(books)
    other_ins = f.insurer(code="other-test")
    p = f.policy(other_ins, number="OTHER-1")
    f.commission(p, "10.00")
    other = recon.import_statement(
        recon.Party.of_insurer(other_ins),
        f.PERIOD,
        "o.csv",
        io.BytesIO(f.csv_bytes([["OTHER-1", "0", "10.00", D, ""]])),
    )
    user = django_user_model.objects.create_user(username="cpic-finance", password="x")
    InsurerMember.objects.create(insurer=books, user=user)
    client = Client()
    client.force_login(user)
    # when / then
    listed = client.get("/api/v1/reconciliations").json()
    assert [r["id"] for r in listed] == [str(mine.public_id)]
    assert client.get(f"/api/v1/reconciliations/{other.public_id}").status_code == 404
    item = mine.items.get(policy_number="CPIC-2")
    refused = client.post(
        f"/api/v1/reconciliations/{mine.public_id}/items/{item.pk}/resolve",
        {"action": "adjust", "reason": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    # and the staff pages stay closed to them
    assert client.get("/finance/reconciliation/").status_code == 302


def test_channel_staff_see_their_channel_only(books, django_user_model):
    unit = f.channel("ch-beta")
    p = books.policies.get(number="CPIC-1")
    f.commission(p, "50.00", unit=unit)
    data = f.csv_bytes([["CPIC-1", "", "50.00", D, ""]])
    rec = recon.import_statement(recon.Party.of_channel(unit), f.PERIOD, "c.csv", io.BytesIO(data))
    _imported(books)
    user = django_user_model.objects.create_user(username="beta-finance", password="x")
    SalesUnitMember.objects.create(unit=unit, user=user)
    client = Client()
    client.force_login(user)
    listed = client.get("/api/v1/reconciliations").json()
    assert [(r["id"], r["party_kind"]) for r in listed] == [(str(rec.public_id), "channel")]


def test_finance_matches_again_and_replaces_the_statement_on_the_page(books):
    client = staff_client("finance", "fin3")
    rec = _imported(books)
    page = client.get(f"/finance/reconciliation/{rec.public_id}/").content.decode()
    assert 'data-testid="rematch"' in page and 'data-testid="replace-statement"' in page
    # matched again: nothing changed in the books, the same items
    assert client.post(f"/finance/reconciliation/{rec.public_id}/rematch/").status_code == 302
    assert rec.items.filter(status="open").count() == 1
    # a bad corrected file: each line named, the old statement kept
    bad = f.csv_bytes([["CPIC-1", "1000.00", "abc", D, "承保"]])
    refused = client.post(
        f"/finance/reconciliation/{rec.public_id}/replace/", {"file": SimpleUploadedFile("bad.csv", bad)}
    )
    assert refused.status_code == 422 and 'data-field="line[2].commission"' in refused.content.decode()
    assert StatementLine.objects.filter(reconciliation=rec).count() == 2
    # the corrected file: the difference is gone
    fixed = f.csv_bytes(
        [["CPIC-1", "1000.00", "150.00", D, "承保"], ["CPIC-2", "2000.00", "300.00", D, "承保"]]
    )
    done = client.post(
        f"/finance/reconciliation/{rec.public_id}/replace/", {"file": SimpleUploadedFile("fixed.csv", fixed)}
    )
    assert done.status_code == 302
    assert rec.items.filter(status="open").count() == 0 and rec.items.count() == 2


def test_api_rematch_and_replace(books):
    client = staff_client("finance", "fin4")
    rec = _imported(books)
    assert client.post(f"/api/v1/reconciliations/{rec.public_id}/rematch").status_code == 200
    fixed = f.csv_bytes(
        [["CPIC-1", "1000.00", "150.00", D, "承保"], ["CPIC-2", "2000.00", "300.00", D, "承保"]]
    )
    response = client.post(
        f"/api/v1/reconciliations/{rec.public_id}/statement", {"file": SimpleUploadedFile("fixed.csv", fixed)}
    )
    assert response.status_code == 200, response.content
    assert rec.items.filter(status="open").count() == 0
    bad = client.post(
        f"/api/v1/reconciliations/{rec.public_id}/statement",
        {"file": SimpleUploadedFile("bad.csv", f.csv_bytes([["CPIC-1", "x", "1.00", D, "承保"]]))},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "line[2].premium"
