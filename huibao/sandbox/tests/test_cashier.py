"""The sandbox cashier as a real phone cashier: the payer of the order's real-name binding (not
asked again), back to the merchant's return URL once paid, the reason in words when declined."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from huibao.core.errors import ValidationFailed
from huibao.payment import services
from huibao.payment.models import Payment
from huibao.payment.tests import factories as f
from huibao.sandbox import payment as sandbox
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db


def base_url() -> str:
    return str(settings.HUIBAO_PUBLIC_URL).rstrip("/")


def _payment(return_url: str = "/apply/x/pay/") -> Payment:
    return services.create_payment(
        amount=Decimal("88.00"),
        payer_name=f.APPLICANT_NAME,
        payer_id_number=f.APPLICANT_ID,
        reference_kind="test_order",
        reference_id="C1",
        expires_in=datetime.timedelta(minutes=30),
        return_url=return_url,
    )


def test_the_cashier_shows_the_bound_payer_masked_and_pays_with_a_card_only(client: Client) -> None:
    # given: a payment bound to the applicant, with our page to return to
    p = _payment()
    # when: the cashier opens
    html = client.get(p.checkout_url).content.decode()
    # then: the payer masked, never in clear; only the card is asked
    assert "已实名" in html and f.APPLICANT_NAME not in html and f.APPLICANT_ID not in html
    assert f.APPLICANT_ID[-4:] in html
    # when: the card alone is submitted
    response = client.post(p.checkout_url, {"card_number": f.GOOD_CARD, "action": "pay"})
    # then: paid as the bound payer, and straight back to the merchant's page
    checkout = SandboxCheckout.objects.get(txn_id=p.provider_txn_id)
    assert checkout.status == "paid" and checkout.payer_id_number == f.APPLICANT_ID
    assert checkout.payer_name == f.APPLICANT_NAME
    assert response.status_code == 302 and response["Location"] == base_url() + "/apply/x/pay/"


def test_a_declined_card_says_why_in_words_and_links_back_to_pay_again(client: Client) -> None:
    p = _payment()
    response = client.post(p.checkout_url, {"card_number": f.DECLINED_CARD, "action": "pay"})
    html = response.content.decode()
    assert response.status_code == 200 and "支付失败" in html
    assert "发卡行拒绝了本次交易" in html and "card_declined" not in html
    assert "重新支付" in html and f'href="{base_url()}/apply/x/pay/"' in html


def test_someone_elses_card_is_reported_as_that_payer(client: Client) -> None:
    p = _payment()
    client.post(
        p.checkout_url,
        {"card_number": f.GOOD_CARD, "payer_name": "李四", "id_number": f.OTHER_ID, "action": "pay"},
    )
    checkout = SandboxCheckout.objects.get(txn_id=p.provider_txn_id)
    assert checkout.payer_name == "李四" and checkout.payer_id_number == f.OTHER_ID


def test_a_return_url_elsewhere_is_refused_and_nothing_is_created() -> None:
    with pytest.raises(ValidationFailed) as raised:
        _payment(return_url="https://evil.example/steal")
    assert raised.value.errors[0].field == "return_url"
    assert not SandboxCheckout.objects.exists()
    assert sandbox.reason_text("card_declined").startswith("发卡行")
