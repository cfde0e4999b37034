"""The policy's payment authorisation page (代扣授权): sign through the sandbox provider, see it
masked, replace it, revoke it with a warning; bad input names its field and changes nothing."""

from __future__ import annotations

import pytest

from huibao.billing.models import PaymentMandate, PremiumSchedule
from huibao.core.models import AuditEntry
from huibao.payment.tests.factories import APPLICANT_ID, APPLICANT_NAME, GOOD_CARD
from huibao.policy import actions
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return f.customer()


@pytest.fixture
def monthly(owner):
    version = f.product_version()
    app = f.application(
        [(version, f.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})], customer=owner
    )
    return f.issue(app)[0]


def _url(policy) -> str:
    return f"/policy/mine/{policy.public_id}/mandate/"


def _sign(client, policy, card: str = GOOD_CARD, id_number: str = APPLICANT_ID):
    return client.post(
        _url(policy),
        {
            "action": "sign",
            "payer_name": APPLICANT_NAME,
            "payer_id_number": id_number,
            "account_number": card,
        },
    )


def _schedule(policy) -> PremiumSchedule:
    return PremiumSchedule.objects.select_related("mandate").get(
        reference_kind="policy", reference_id=policy.number
    )


def test_the_hub_offers_the_authorisation_for_an_instalment_policy(monthly, owner) -> None:
    found = {a.key: a for a in actions.actions_for(monthly, owner)}
    assert found["mandate"].url == _url(monthly)
    single = f.simple_issued(owner)
    assert "mandate" not in {a.key for a in actions.actions_for(single, owner)}


def test_sign_shows_it_masked_and_instalments_are_collected_through_it(client, monthly, owner) -> None:
    client.force_login(owner)
    assert "尚未签署代扣授权" in client.get(_url(monthly)).content.decode()
    response = _sign(client, monthly)
    assert response.status_code == 302
    schedule = _schedule(monthly)
    assert schedule.mandate is not None and schedule.mandate.status == "active"
    assert schedule.mandate.masked_account == f"**** {GOOD_CARD[-4:]}"
    html = client.get(_url(monthly)).content.decode()
    assert f"**** {GOOD_CARD[-4:]}" in html and GOOD_CARD not in html and APPLICANT_ID not in html
    entry = AuditEntry.objects.get(action="policy.mandate_signed", object_id=monthly.number)
    assert GOOD_CARD not in str(entry.after)


def test_a_new_authorisation_replaces_and_revokes_the_old(client, monthly, owner) -> None:
    client.force_login(owner)
    _sign(client, monthly)
    first = _schedule(monthly).mandate
    _sign(client, monthly)
    first.refresh_from_db()
    assert first.status == "revoked"
    assert _schedule(monthly).mandate.status == "active"
    assert PaymentMandate.objects.filter(customer=owner, status="active").count() == 1


def test_bad_card_names_the_field_and_changes_nothing(client, monthly, owner) -> None:
    client.force_login(owner)
    response = _sign(client, monthly, card="6222021234567890123")
    assert response.status_code == 422
    assert "银行卡号校验位错误" in response.content.decode()
    response = _sign(client, monthly, id_number="110101199001011234")
    assert response.status_code == 422 and "身份证号" in response.content.decode()
    assert _schedule(monthly).mandate is None and not PaymentMandate.objects.exists()


def test_revoke_needs_the_warning_acknowledged(client, monthly, owner) -> None:
    client.force_login(owner)
    _sign(client, monthly)
    html = client.get(_url(monthly)).content.decode()
    assert "解约后不再自动扣款" in html
    refused = client.post(_url(monthly), {"action": "revoke"})
    assert refused.status_code == 422 and _schedule(monthly).mandate.status == "active"
    done = client.post(_url(monthly), {"action": "revoke", "confirm": "on"})
    assert done.status_code == 302
    assert _schedule(monthly).mandate.status == "revoked"
    assert AuditEntry.objects.filter(action="policy.mandate_revoked", object_id=monthly.number).exists()
    # twice: nothing left to revoke, a clear message
    again = client.post(_url(monthly), {"action": "revoke", "confirm": "on"})
    assert again.status_code == 422 and "没有生效中的代扣授权" in again.content.decode()


def test_only_the_owner_reaches_it(client, monthly) -> None:
    client.force_login(f.customer())
    assert client.get(_url(monthly)).status_code == 404
    assert _sign(client, monthly).status_code == 404
    assert not PaymentMandate.objects.exists()


def test_a_single_premium_policy_has_no_authorisation_page(client, owner) -> None:
    client.force_login(owner)
    assert client.get(_url(f.simple_issued(owner))).status_code == 404


def test_signing_and_revoking_show_in_the_policy_history(client, monthly, owner) -> None:
    client.force_login(owner)
    _sign(client, monthly)
    client.post(_url(monthly), {"action": "revoke", "confirm": "on"})
    html = client.get(f"/policy/mine/{monthly.public_id}/history/").content.decode()
    assert html.index("签署代扣授权") < html.index("解约代扣授权")
    body = client.get(f"/api/v1/policies/{monthly.public_id}/history").json()
    assert [e["title"] for e in body["timeline"] if e["kind"] == "audit"] == ["签署代扣授权", "解约代扣授权"]
