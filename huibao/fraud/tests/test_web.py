"""The analysts' pages: fraud_analyst allowed, a customer and other roles refused; the queue
with its filters, a case with its evidence, clear/confirm with the blacklist, rule changes
refused naming the field, the blacklist managed on the page."""

from __future__ import annotations

import datetime

import pytest

from huibao.account.models import User, UserKind
from huibao.fraud import selectors, services
from huibao.fraud.models import BlacklistEntry, FraudCase, FraudRule
from huibao.fraud.services import screen_claim
from huibao.fraud.tests.factories import staff_client, subject

pytestmark = pytest.mark.django_db
VALID_ID = "11010519491231002X"


@pytest.fixture
def analyst(client):
    return staff_client(client, "fraud_analyst")


def _case(**changes) -> FraudCase:
    screen_claim(subject(invoice_numbers=("DUP-1",), insured_id_hash="9" * 64, insurer_code="CPIC"))
    screening = screen_claim(subject(invoice_numbers=("DUP-1",), **changes))
    return FraudCase.objects.get(screening=screening)


def test_a_customer_is_sent_to_the_staff_login(client) -> None:
    customer = User.objects.create_user(
        username="13800000000", password="x-unused-123", kind=UserKind.CUSTOMER
    )
    client.force_login(customer)
    for url in ("/fraud/", "/fraud/blacklist/", "/fraud/rules/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/account/staff/login/")


def test_a_role_without_fraud_permissions_is_refused(client) -> None:
    agent = staff_client(client, "agent", username="agent1")
    assert agent.get("/fraud/").status_code == 403
    assert agent.post("/fraud/blacklist/", {"id_number": VALID_ID, "reason": "x"}).status_code == 403
    assert not BlacklistEntry.objects.exists()


def test_the_queue_lists_open_cases_and_filters_them(analyst) -> None:
    case = _case()
    page = analyst.get("/fraud/").content.decode()
    assert case.claim.reference in page and "发票号重复" in page
    assert case.claim.reference in analyst.get("/fraud/?rule=duplicate_invoice_number").content.decode()
    assert case.claim.reference not in analyst.get("/fraud/?rule=frequent_region").content.decode()
    assert case.claim.reference not in analyst.get("/fraud/?insurer=NOPE").content.decode()
    assert case.claim.reference not in analyst.get("/fraud/?status=cleared").content.decode()


def test_the_case_page_shows_the_evidence_and_the_matched_earlier_claim(analyst) -> None:
    case = _case()
    earlier = next(f for f in case.screening.fired if f["code"] == "duplicate_invoice_number")["matches"][0]
    page = analyst.get(f"/fraud/cases/{case.public_id}/").content.decode()
    assert "发票号重复" in page and earlier["reference"] in page and "CPIC" in page
    assert 'data-testid="earlier"' in page and "张**" in page


def test_an_analyst_takes_and_confirms_a_case_and_blacklists_the_person(analyst) -> None:
    # given
    case = _case()
    url = f"/fraud/cases/{case.public_id}/"
    # when
    analyst.post(url + "take/")
    response = analyst.post(
        url + "confirm/", {"note": "发票伪造", "blacklist": "1", "blacklist_reason": "伪造发票"}
    )
    # then
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.assigned_to, case.resolved_by) == ("confirmed", analyst.user, analyst.user)
    assert selectors.is_blacklisted(case.claim.claimant_id_hash)
    assert "确认欺诈" in analyst.get(url).content.decode()


def test_clearing_without_a_note_is_refused_on_the_page_and_changes_nothing(analyst) -> None:
    case = _case()
    response = analyst.post(f"/fraud/cases/{case.public_id}/clear/", {"note": ""})
    assert response.status_code == 422 and "处理意见：必填" in response.content.decode()
    assert FraudCase.objects.get(pk=case.pk).status == "open"
    analyst.post(f"/fraud/cases/{case.public_id}/clear/", {"note": "核实无误"})
    assert FraudCase.objects.get(pk=case.pk).status == "cleared"


def test_a_rule_change_on_the_page_makes_a_new_version(analyst) -> None:
    response = analyst.post(
        "/fraud/rules/",
        {"code": "soon_after_start", "param_days": "45", "score": "25", "route": "pass", "enabled": "1"},
    )
    assert response.status_code == 302
    rule = selectors.current_rule("soon_after_start")
    assert (rule.version, rule.parameters, rule.score, rule.changed_by) == (2, {"days": 45}, 25, analyst.user)


def test_a_rule_change_that_breaks_the_schema_is_refused_naming_the_field(analyst) -> None:
    response = analyst.post(
        "/fraud/rules/",
        {
            "code": "frequent_insured",
            "param_max_claims": "lots",
            "param_days": "90",
            "score": "40",
            "route": "review",
        },
    )
    page = response.content.decode()
    assert (
        response.status_code == 422
        and 'data-field="parameters.max_claims"' in page
        and "理赔件数上限：须为整数" in page
    )
    assert FraudRule.objects.filter(code="frequent_insured").count() == 1


def test_the_blacklist_page_adds_refuses_and_removes(analyst) -> None:
    # bad input: the field named, nothing written, the ID number not echoed
    response = analyst.post(
        "/fraud/blacklist/", {"id_number": "11010519491231002Y", "name": "李四", "reason": ""}
    )
    page = response.content.decode()
    assert response.status_code == 422 and 'data-field="id_number"' in page and 'data-field="reason"' in page
    assert "11010519491231002Y" not in page and not BlacklistEntry.objects.exists()
    # added
    until = (datetime.date.today() + datetime.timedelta(days=365)).isoformat()
    analyst.post(
        "/fraud/blacklist/",
        {"id_number": VALID_ID, "name": "李四", "reason": "骗保", "source": "platform", "valid_until": until},
    )
    entry = BlacklistEntry.objects.get()
    page = analyst.get("/fraud/blacklist/").content.decode()
    assert "李*" in page and VALID_ID not in page
    # removed, and kept
    analyst.post(f"/fraud/blacklist/{entry.public_id}/remove/", {"reason": "误报"})
    entry.refresh_from_db()
    assert entry.removed_at is not None and entry.removal_reason == "误报"
    assert not services.selectors.is_blacklisted(entry.id_hash)


def test_the_back_office_lists_the_fraud_records_read_only(client) -> None:
    _case()
    auditor = staff_client(client, "auditor", username="auditor1")
    for path in ("fraudrule", "screening", "fraudcase", "blacklistentry"):
        assert auditor.get(f"/admin/fraud/{path}/").status_code == 200
    assert auditor.get("/fraud/blacklist/").status_code == 200
    assert auditor.post("/fraud/blacklist/", {"id_number": VALID_ID, "reason": "x"}).status_code == 403
    assert not BlacklistEntry.objects.exists()
