"""Back-office pages and the /api/v1/distribution endpoints: who may open what (operator
manages, finance reads agreements, a channel manager sees their own subtree, a customer
nothing), forms with field errors in Chinese, status actions with history."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from huibao.application.tests import factories as app_f
from huibao.distribution.models import InsurerAgreement, SalesUnit, SalesUnitMember
from huibao.distribution.tests import factories as f
from huibao.fraud.tests.factories import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return staff_client(Client(), "operator", username="op1")


@pytest.fixture
def insurer():
    return f.bare_insurer()


def test_a_customer_and_an_anonymous_visitor_never_reach_the_pages(insurer):
    agreement = f.draft(insurer)
    anonymous = Client()
    assert anonymous.get("/distribution/agreements/").status_code == 302
    customer = Client()
    customer.force_login(app_f.customer())
    for url in (
        "/distribution/agreements/",
        f"/distribution/agreements/{agreement.pk}/",
        "/distribution/units/",
    ):
        assert customer.get(url).status_code in (302, 403), url
    assert customer.get("/api/v1/distribution/agreements").status_code == 403


def test_the_operator_creates_an_agreement_with_field_errors_first(operator, insurer):
    # when the form is posted with a bad date and no line
    bad = operator.post(
        "/distribution/agreements/", {"number": "", "insurer": str(insurer.pk), "valid_from": "2026-13-01"}
    )
    # then the fields are named, in Chinese, and nothing is written
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "起始日期格式应为" in page
    assert not InsurerAgreement.objects.exists()
    # when it is posted right
    ok = operator.post(
        "/distribution/agreements/",
        {
            "number": "XY-2026-001",
            "insurer": str(insurer.pk),
            "valid_from": "2026-01-01",
            "lines": ["accident"],
        },
    )
    agreement = InsurerAgreement.objects.get(number="XY-2026-001")
    assert ok.status_code == 302 and ok["Location"].endswith(f"/distribution/agreements/{agreement.pk}/")
    assert agreement.status == "draft" and agreement.lines == ["accident"]


def test_status_actions_and_history_on_the_detail_page(operator, insurer):
    agreement = f.draft(insurer)
    operator.post(f"/distribution/agreements/{agreement.pk}/status/", {"status": "active"})
    # suspending without a reason is refused with the message on the page
    page = operator.post(
        f"/distribution/agreements/{agreement.pk}/status/", {"status": "suspended"}, follow=True
    )
    assert "请填写原因" in page.content.decode()
    operator.post(
        f"/distribution/agreements/{agreement.pk}/status/", {"status": "suspended", "reason": "对账争议"}
    )
    agreement.refresh_from_db()
    assert agreement.status == "suspended"
    detail = operator.get(f"/distribution/agreements/{agreement.pk}/").content.decode()
    assert "对账争议" in detail and 'data-testid="to-active"' in detail


def test_finance_reads_agreements_but_cannot_change_them(insurer):
    agreement = f.draft(insurer)
    finance = staff_client(Client(), "finance", username="fin1")
    assert finance.get(f"/distribution/agreements/{agreement.pk}/").status_code == 200
    assert (
        finance.post(f"/distribution/agreements/{agreement.pk}/status/", {"status": "active"}).status_code
        == 403
    )
    assert finance.get("/distribution/units/").status_code == 403
    agreement.refresh_from_db()
    assert agreement.status == "draft"


def test_the_hierarchy_page_shows_the_tree_and_moves_a_team(operator):
    units = f.tree()
    page = operator.get("/distribution/units/").content.decode()
    assert page.index('data-code="HQ"') < page.index('data-code="T1"') < page.index('data-code="A1"')
    assert "L1" in page  # the agent's licence
    br2 = f.unit("BR2", "branch", units["HQ"])
    operator.post(f"/distribution/units/{units['T1'].pk}/move/", {"parent": str(br2.pk)})
    assert SalesUnit.objects.get(code="A1").path == "HQ/BR2/T1/A1"
    # a unit under a wrong parent: the field error in Chinese, nothing created
    bad = operator.post(
        "/distribution/units/", {"code": "A7", "name": "赵六", "kind": "agent", "parent": str(br2.pk)}
    )
    assert bad.status_code == 400 and "不能设在所选上级之下" in bad.content.decode()
    assert not SalesUnit.objects.filter(code="A7").exists()


def _manager(unit: SalesUnit) -> Client:
    client = staff_client(Client(), "channel_manager", username=f"mgr-{unit.code}")
    SalesUnitMember.objects.create(unit=unit, user=client.user, is_manager=True)
    return client


def test_a_channel_manager_sees_only_their_own_subtree_on_the_page_and_the_api():
    units = f.tree()
    manager = _manager(units["CH"])
    page = manager.get("/distribution/units/").content.decode()
    assert 'data-code="SUB"' in page and 'data-code="A1"' not in page
    listed = manager.get("/api/v1/distribution/units").json()
    assert [u["code"] for u in listed] == ["CH", "SUB"]
    assert manager.get("/api/v1/distribution/units/A1").status_code == 404
    # and no agreements, no changes
    assert manager.get("/api/v1/distribution/agreements").status_code == 403
    move = manager.post(
        "/api/v1/distribution/units/SUB/move",
        json.dumps({"parent_code": "CH"}),
        content_type="application/json",
    )
    assert move.status_code == 403


def test_staff_without_a_unit_or_permission_see_no_hierarchy():
    f.tree()
    other = staff_client(Client(), "channel_manager", username="mgr-none")
    assert other.get("/api/v1/distribution/units").status_code == 403
    assert other.get("/distribution/units/").status_code == 403


def test_the_api_moves_agreements_through_their_states_and_names_refusals(operator, insurer):
    agreement = f.draft(insurer, lines=("accident",))
    f.active(insurer, lines=("accident",))
    url = f"/api/v1/distribution/agreements/{agreement.pk}/status"
    overlap = operator.post(url, json.dumps({"status": "active"}), content_type="application/json")
    assert overlap.status_code == 422 and overlap.json()["errors"][0]["code"] == "overlapping_agreement"
    wrong = operator.post(
        url, json.dumps({"status": "suspended", "reason": "x"}), content_type="application/json"
    )
    assert wrong.status_code == 409
    listed = operator.get("/api/v1/distribution/agreements?status=active").json()
    assert [a["status"] for a in listed] == ["active"]


def test_the_api_creates_units_under_allowed_parents_only(operator):
    f.tree()
    made = operator.post(
        "/api/v1/distribution/units",
        json.dumps(
            {
                "code": "A5",
                "name": "孙七",
                "kind": "agent",
                "parent_code": "T1",
                "licence_lines": ["accident"],
            }
        ),
        content_type="application/json",
    )
    assert made.status_code == 201 and made.json()["path"] == "HQ/BR/T1/A5"
    refused = operator.post(
        "/api/v1/distribution/units",
        json.dumps({"code": "A6", "name": "周八", "kind": "agent", "parent_code": "CH"}),
        content_type="application/json",
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "parent"
