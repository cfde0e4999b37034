"""The application pages with Django's test client: start, data (errors next to their fields),
identity, review, reading, clauses, signatures, payment and the agent's flow."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from huibao.account.demo import totp_secret_base32
from huibao.account.services import create_staff_user, enrol_totp
from huibao.application.models import Application
from huibao.application.selectors import disclosure_progress, required_documents
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.catalog.models import Product
from huibao.core.masking import mask_id_number
from huibao.core.models import AuditEntry
from huibao.esign.tests.ink import write

pytestmark = pytest.mark.django_db
S = ApplicationStatus
STAFF_PASSWORD = "Sturdy-pass-2026"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user():
    return f.customer()


@pytest.fixture
def customer_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def product():
    return f.simple_product()


def url(name: str, app: Application, *args: Any) -> str:
    return reverse(f"application:{name}", args=[app.public_id, *args])


def text_of(response: Any) -> str:
    return response.content.decode()


def error_under(html: str, field: str) -> str:
    """The message shown under an input (its `…-error` paragraph)."""
    field_id = "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", field).strip("-")
    m = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', html)
    assert m, f"no error paragraph for {field}"
    return m.group(1)


def start(client: Client, *quotes: Any) -> Application:
    response = client.post(reverse("application:start"), {"quote_id": [str(q.pk) for q in quotes]})
    assert response.status_code == 302, text_of(response)
    app = Application.objects.order_by("-id").first()
    assert app is not None
    assert response["Location"] == url("data", app)
    return app


def data_post(applicant_id: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "action": "save",
        "applicant.name": f.APPLICANT_NAME,
        "applicant.id_number": applicant_id or f.resident_id(f.years_ago(35)),
        "applicant.phone": "13900001111",
        "applicant.email": "wang@example.com",
        "insured[0].relation": "self",
        "beneficiary_mode": "legal",
        **extra,
    }


def filled(client: Client, product: Any, user: Any) -> Application:
    app = start(client, f.quote(product, user))
    assert 'aria-current="step">填写信息<' in text_of(client.get(url("data", app)))
    response = client.post(url("data", app), data_post())
    assert response.status_code == 302, text_of(response)
    return app


def confirmed(client: Client, product: Any, user: Any) -> Application:
    app = filled(client, product, user)
    assert client.post(url("identity", app), {"consent": "1"})["Location"] == url("review", app)
    response = client.post(url("review", app))
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == S.ACCEPTED
    return app


def read_all(client: Client, app: Application) -> None:
    """Walks the documents and key clauses as the pages lead (documents here have no minimum time)."""
    for _ in range(20):
        app.refresh_from_db()
        target = services_next(app)
        if "/documents/" in target:
            client.get(target)
            assert client.post(target, {"scrolled_to_end": "1"}).status_code == 302
        elif "/clauses/" in target:
            client.get(target)
            assert client.post(target).status_code == 302
        else:
            return
    raise AssertionError("reading never ended")


def services_next(app: Application) -> str:
    from huibao.application.web.flow import next_url

    return next_url(app)


def page_views(app: Application) -> list[str]:
    return [
        e.after["page"]
        for e in AuditEntry.objects.filter(
            object_id=str(app.public_id), action="application.page_viewed"
        ).order_by("id")
    ]


# --- start ----------------------------------------------------------------------------------------


def test_the_quote_result_offers_to_apply_and_a_visitor_logs_in_first(client: Client, product, user) -> None:
    # given: a visitor's saved quote on the product page
    code = product.code
    response = client.post(
        reverse("catalog:quote", args=[code]),
        {
            "plan": "basic",
            "age": "30",
            "sex": "M",
            "term": "1y",
            "occupation_class": "1",
            "payment_mode": "single",
        },
        headers={"HX-Request": "true"},
    )
    html = text_of(response)
    assert "立即投保" in html and "加入组合投保" in html
    quote_id = re.search(r'name="quote_id" value="([0-9a-f-]{36})"', html)
    assert quote_id
    # when: they press "立即投保" without being logged in
    response = client.post(reverse("application:start"), {"quote_id": quote_id.group(1)})
    # then: asked to log in or sign up, both coming back to start the application
    assert response["Location"] == reverse("application:start_resume")
    html = text_of(client.get(response["Location"]))
    assert "/account/login/?next=%2Fapply%2Fstart%2Fresume%2F" in html
    assert "/account/signup/?next=%2Fapply%2Fstart%2Fresume%2F" in html
    assert not Application.objects.exists()
    client.force_login(user)
    response = client.get(reverse("application:start_resume"))
    app = Application.objects.get()
    assert response["Location"] == url("data", app)
    assert app.customer == user and str(app.items.get().origin_quote_id) == quote_id.group(1)
    # the pending quotes are used once
    assert client.get(reverse("application:start_resume"))["Location"] == reverse("application:mine")


def test_data_page_is_for_the_owner_only(customer_client: Client, product, user) -> None:
    app = start(customer_client, f.quote(product, user))
    stranger = Client()
    stranger.force_login(f.customer("13900002222"))
    assert stranger.get(url("data", app)).status_code == 404
    anonymous = Client().get(url("data", app))
    assert anonymous.status_code == 302 and reverse("account:login") in anonymous["Location"]


# --- data -----------------------------------------------------------------------------------------


def test_invalid_id_checksum_is_shown_next_to_the_field_and_at_the_top_and_nothing_changes(
    customer_client: Client, product, user
) -> None:
    # given
    app = start(customer_client, f.quote(product, user))
    good = f.resident_id(f.years_ago(35))
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    # when
    response = customer_client.post(url("data", app), data_post(applicant_id=bad))
    # then
    html = text_of(response)
    assert response.status_code == 422
    assert error_under(html, "applicant.id_number") == "身份证号校验位错误"
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert 'href="#f-applicant-id_number"' in summary and "身份证号校验位错误" in summary
    assert f'value="{bad}"' in html  # what they typed is kept
    app.refresh_from_db()
    assert app.applicant_name == "" and app.data_revision == 1 and not app.insured_persons.exists()
    assert page_views(app) == ["application/data.html"]  # the GET-less error render is recorded too


def test_relation_choices_follow_the_product_rules_and_self_hides_insured_fields(
    customer_client: Client, user
) -> None:
    product = f.simple_product(rules={"signature": "confirmation", "insured_relations": ["self", "child"]})
    app = start(customer_client, f.quote(product, user))
    html = text_of(customer_client.get(url("data", app)))
    relations = re.findall(r'name="insured\[0\]\.relation" value="(\w+)"', html)
    assert relations == ["self", "child"]
    assert 'class="insured__person"' in html  # hidden by CSS while "本人" is checked
    assert re.search(r'name="insured\[0\]\.relation" value="self" checked', html)


def test_beneficiary_shares_not_adding_to_100_are_refused(customer_client: Client, user) -> None:
    # given: a product allowing named beneficiaries
    product = f.simple_product(rules={"signature": "confirmation", "beneficiary": "named_allowed"})
    app = start(customer_client, f.quote(product, user))
    # "添加受益人" adds a row without saving anything
    response = customer_client.post(url("data", app), {**data_post(), "action": "add_beneficiary:0"})
    assert response.status_code == 200 and 'name="insured[0].beneficiaries[0].name"' in text_of(response)
    assert app.insured_persons.count() == 0
    wife = f.resident_id(f.years_ago(33), male=False)
    son = f.resident_id(f.years_ago(5))
    rows = {
        "beneficiary_mode": "named",
        "insured[0].beneficiaries[0].name": "李红",
        "insured[0].beneficiaries[0].id_number": wife,
        "insured[0].beneficiaries[0].relation": "spouse",
        "insured[0].beneficiaries[0].order": "1",
        "insured[0].beneficiaries[0].share_percent": "60",
        "insured[0].beneficiaries[1].name": "王小小",
        "insured[0].beneficiaries[1].id_number": son,
        "insured[0].beneficiaries[1].relation": "child",
        "insured[0].beneficiaries[1].order": "1",
        "insured[0].beneficiaries[1].share_percent": "30",
    }
    # when
    response = customer_client.post(url("data", app), data_post(**rows))
    # then
    html = text_of(response)
    assert response.status_code == 422
    assert "第1顺位受益人的受益比例合计须为100%，当前为90%" in html
    assert 'href="#f-insured-0-beneficiaries"' in html
    assert app.insured_persons.count() == 0
    # and 60 + 40 is accepted
    rows["insured[0].beneficiaries[1].share_percent"] = "40"
    assert customer_client.post(url("data", app), data_post(**rows)).status_code == 302
    assert sorted(b.share_percent for b in app.insured_persons.get().beneficiaries.all()) == [40, 60]


def test_health_answers_are_required_next_to_each_question(customer_client: Client, user) -> None:
    product = f.simple_product(
        health_questions=[{"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True}]
    )
    app = start(customer_client, f.quote(product, user))
    response = customer_client.post(url("data", app), data_post())
    assert response.status_code == 422
    assert (
        error_under(text_of(response), "insured[0].health_answers.cancer")
        == "请回答健康告知：是否患有恶性肿瘤？"
    )
    response = customer_client.post(url("data", app), data_post(**{"insured[0].health_answers.cancer": "no"}))
    assert response.status_code == 302
    assert json.loads(app.insured_persons.get().health_answers) == {"cancer": False}


def test_vehicle_fields_of_an_auto_product(customer_client: Client, user) -> None:
    product = f.simple_product(
        rules={
            "signature": "confirmation",
            "subject": [{"code": "plate_number", "label": "车牌号", "pattern": "^[京沪][A-Z][A-Z0-9]{5}$"}],
        }
    )
    app = start(customer_client, f.quote(product, user))
    response = customer_client.post(url("data", app), data_post(**{"subject.plate_number": "X123"}))
    assert response.status_code == 422
    assert error_under(text_of(response), "subject.plate_number") == "车牌号格式不正确"
    response = customer_client.post(url("data", app), data_post(**{"subject.plate_number": "京a12345"}))
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.subject == {"plate_number": "京A12345"}


# --- identity, review, reading, signing, payment ----------------------------------------------------


def test_customer_walks_identity_review_reading_signing_to_the_payment_page(
    customer_client: Client, product, user
) -> None:
    c = customer_client
    app = filled(c, product, user)
    # identity: name and masked ID from the data; consent needed
    html = text_of(c.get(url("identity", app)))
    assert f.APPLICANT_NAME in html and "*" * 11 in html
    assert c.post(url("identity", app)).status_code == 422
    assert c.post(url("identity", app), {"consent": "1"})["Location"] == url("review", app)
    # review: masked data, confirm
    html = text_of(c.get(url("review", app)))
    app.refresh_from_db()
    assert app.applicant_id_number not in html and app.applicant_id_number[-4:] in html
    assert "139****1111" in html
    response = c.post(url("review", app))
    app.refresh_from_db()
    assert app.status == S.ACCEPTED and app.is_confirmed
    doc = required_documents(app)[0]
    assert response["Location"] == url("document", app, doc.pk)
    # reading: the button starts disabled, the box holds the whole text
    html = text_of(c.get(url("document", app, doc.pk)))
    assert re.search(r"data-reader-submit[^>]*disabled", html) and doc.body[:5] in html
    read_all(c, app)
    # signing by confirmation: the box must be ticked
    assert services_next(app) == url("sign", app)
    response = c.post(url("sign", app), {"role": "applicant"})
    assert response.status_code == 422 and "请勾选确认" in text_of(response)
    response = c.post(url("sign", app), {"role": "applicant", "confirmed": "1"})
    app.refresh_from_db()
    assert app.status == S.SIGNED and response["Location"] == url("pay", app)
    # payment: to the provider's hosted page
    assert "去支付" in text_of(c.get(url("pay", app)))
    response = c.post(url("pay", app))
    app.refresh_from_db()
    assert app.status == S.AWAITING_PAYMENT
    assert re.search(r"/payment/sandbox/pay/SBX[0-9A-F]+/$", response["Location"])
    # back on our page: waiting for the result, polling
    html = text_of(c.get(url("pay", app)))
    assert "正在等待支付结果" in html and 'hx-trigger="every 2s"' in html
    # every main page was recorded with its template
    views = page_views(app)
    for page in ("data.html", "identity.html", "review.html", "document.html", "sign.html", "pay.html"):
        assert f"application/{page}" in views


def signed_by_confirmation(client: Client, product: Any, user: Any) -> Application:
    app = confirmed(client, product, user)
    read_all(client, app)
    assert client.post(url("sign", app), {"role": "applicant", "confirmed": "1"}).status_code == 302
    app.refresh_from_db()
    assert app.status == S.SIGNED
    return app


def pay_at_the_sandbox(client: Client, app: Application, card: str, monkeypatch: Any) -> None:
    """Our pay button, the provider's page, and its signed notification delivered to us."""
    from huibao.payment.tests.factories import client_transport
    from huibao.sandbox import notifications
    from huibao.sandbox import payment as sandbox

    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    checkout_url = client.post(url("pay", app))["Location"]
    app.refresh_from_db()
    response = Client().post(
        checkout_url,
        {"payer_name": app.applicant_name, "id_number": app.applicant_id_number, "card_number": card},
    )
    # paid: straight back to our pay page; declined: the cashier's page says why
    assert response.status_code == (200 if card.endswith("0002") else 302), text_of(response)
    txn = checkout_url.rstrip("/").rsplit("/", 1)[1]
    assert sandbox.deliver(txn)


def test_paid_application_shows_its_policies_with_download_links(
    customer_client: Client, product, user, monkeypatch
) -> None:
    from huibao.payment.tests.factories import GOOD_CARD

    app = signed_by_confirmation(customer_client, product, user)
    pay_at_the_sandbox(customer_client, app, GOOD_CARD, monkeypatch)
    app.refresh_from_db()
    assert app.status == S.ISSUED
    # back from the cashier: our pay page sends them to the result
    assert customer_client.get(url("pay", app))["Location"] == url("done", app)
    html = text_of(customer_client.get(url("done", app)))
    policy = app.policies.get()
    assert policy.number in html
    assert reverse("policy:epolicy", args=[policy.public_id]) in html
    assert reverse("policy:nps", args=[app.public_id]) in html and reverse("policy:mine") in html
    assert "application/done.html" in page_views(app)


def test_declined_card_shows_the_reason_and_paying_again_opens_a_new_payment(
    customer_client: Client, product, user, monkeypatch
) -> None:
    from huibao.payment.tests.factories import DECLINED_CARD

    app = signed_by_confirmation(customer_client, product, user)
    pay_at_the_sandbox(customer_client, app, DECLINED_CARD, monkeypatch)
    app.refresh_from_db()
    first = app.payment_id
    # the failed payment put the application back to signed: it is not "支付中" any more
    assert app.status == S.SIGNED and first is not None
    html = text_of(customer_client.get(url("pay", app)))
    assert "支付未成功" in html and "银行卡被发卡行拒绝" in html and "去支付" in html
    assert "card_declined" not in html
    location = customer_client.post(url("pay", app))["Location"]
    app.refresh_from_db()
    assert "/payment/sandbox/pay/" in location and app.payment_id != first


def test_face_check_goes_to_the_provider_and_back_and_waits_for_the_result(
    customer_client: Client, user, monkeypatch
) -> None:
    from huibao.identity.tests.factories import client_transport
    from huibao.sandbox import identity as face_sandbox
    from huibao.sandbox import notifications

    product = f.simple_product(rules={"signature": "confirmation", "face_check": {"always": True}})
    app = confirmed(customer_client, product, user)
    read_all(customer_client, app)
    assert services_next(app) == url("face", app)
    assert "开始人脸识别" in text_of(customer_client.get(url("face", app)))
    # to the provider's hosted page, which brings the browser back to our face page
    session_url = customer_client.post(url("face", app))["Location"]
    assert "/identity/sandbox/face/" in session_url
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    back = Client().post(session_url)
    assert back["Location"] == url("face", app)
    # before the result arrives: waiting and polling
    html = text_of(customer_client.get(url("face", app)))
    assert "正在获取人脸识别结果" in html and "every 2s" in html
    token = session_url.rstrip("/").rsplit("/", 1)[1]
    assert face_sandbox.deliver(token)
    app.refresh_from_db()
    assert app.face_passed_at is not None
    assert customer_client.get(url("face", app))["Location"] == url("sign", app)


def test_reading_too_short_is_refused_with_the_servers_message(customer_client: Client, user) -> None:
    product = f.simple_product(min_read_seconds=30)
    app = confirmed(customer_client, product, user)
    doc = required_documents(app)[0]
    html = text_of(customer_client.get(url("document", app, doc.pk)))
    assert 'data-remaining="30"' in html or 'data-remaining="29"' in html
    response = customer_client.post(url("document", app, doc.pk), {"scrolled_to_end": "1"})
    assert response.status_code == 422
    assert re.search(r"需阅读至少30秒，还需\d+秒", text_of(response))
    not_scrolled = customer_client.post(url("document", app, doc.pk), {"scrolled_to_end": "0"})
    assert "滑动阅读至文末" in text_of(not_scrolled)
    assert disclosure_progress(app)["unread"] == [doc]


def test_key_clauses_are_on_a_page_of_their_own_each_confirmed(
    customer_client: Client, product, user
) -> None:
    app = confirmed(customer_client, product, user)
    doc = required_documents(app)[0]
    customer_client.get(url("document", app, doc.pk))
    response = customer_client.post(url("document", app, doc.pk), {"scrolled_to_end": "1"})
    clause_url = url("clause", app, doc.pk, "exclusion-1")
    assert response["Location"] == clause_url
    html = text_of(customer_client.get(clause_url))
    assert "酒后驾驶不赔。" in html and "请逐条阅读并确认以下1项重要条款（已确认0项）" in html
    customer_client.post(clause_url)
    assert disclosure_progress(app)["complete"]


def test_empty_and_wrong_handwritten_signatures_are_refused(customer_client: Client, user) -> None:
    product = f.simple_product(rules={"signature": "handwritten"})
    app = confirmed(customer_client, product, user)
    read_all(customer_client, app)
    html = text_of(customer_client.get(url("sign", app)))
    assert 'id="signature-canvas"' in html and f.APPLICANT_NAME in html
    # empty
    response = customer_client.post(url("sign", app), {"role": "applicant", "signature": ""})
    assert response.status_code == 422 and "请先在签名框内签名" in text_of(response)
    # two characters for a three-character name
    response = customer_client.post(
        url("sign", app), {"role": "applicant", "signature": json.dumps(write("王明"))}
    )
    assert response.status_code == 422
    assert "签名应为3个字（王小明），识别到2个字" in text_of(response)
    app.refresh_from_db()
    assert app.status == S.ACCEPTED and not app.signatures.exists()
    # the name written character by character
    response = customer_client.post(
        url("sign", app), {"role": "applicant", "signature": json.dumps(write("王小明"))}
    )
    app.refresh_from_db()
    assert app.status == S.SIGNED and response["Location"] == url("pay", app)


def test_the_insured_spouse_signs_consent_after_the_applicant(customer_client: Client, user) -> None:
    product = f.simple_product(
        rules={"signature": "handwritten", "insured_consent": "death_cover_other_adult"}
    )
    app = start(customer_client, f.quote(product, user))
    spouse = {
        "insured[0].relation": "spouse",
        "insured[0].name": "李小川",
        "insured[0].id_number": f.resident_id(f.years_ago(33), male=False),
    }
    assert customer_client.post(url("data", app), data_post(**spouse)).status_code == 302
    customer_client.post(url("identity", app), {"consent": "1"})
    customer_client.post(url("review", app))
    read_all(customer_client, app)
    html = text_of(customer_client.get(url("sign", app)))
    assert "投保人 王小明" in html and "被保险人 李小川" in html and 'value="applicant"' in html
    customer_client.post(url("sign", app), {"role": "applicant", "signature": json.dumps(write("王小明"))})
    app.refresh_from_db()
    assert app.status == S.ACCEPTED
    html = text_of(customer_client.get(url("sign", app)))
    assert 'name="role" value="insured"' in html and "同意投保人为本人投保" in html
    response = customer_client.post(
        url("sign", app),
        {"role": "insured", "insured_position": "1", "signature": json.dumps(write("李小川"))},
    )
    app.refresh_from_db()
    assert app.status == S.SIGNED and response["Location"] == url("pay", app)
    assert sorted(s.signer_name for s in app.signatures.all()) == ["李小川", "王小明"]


def test_referred_application_waits_and_the_poll_redirects_when_decided(
    customer_client: Client, user
) -> None:
    product = f.simple_product(
        health_questions=[{"code": "chronic", "text": "是否患有慢性病？", "knock_out_answer": True}],
        underwriting={"questions": {"chronic": {"on_yes": "refer", "reason": "慢性病需人工核保"}}},
    )
    app = start(customer_client, f.quote(product, user))
    customer_client.post(url("data", app), data_post(**{"insured[0].health_answers.chronic": "yes"}))
    customer_client.post(url("identity", app), {"consent": "1"})
    response = customer_client.post(url("review", app))
    app.refresh_from_db()
    assert app.status == S.REFERRED and response["Location"] == url("outcome", app)
    html = text_of(customer_client.get(url("outcome", app)))
    assert "人工核保中" in html
    key = re.search(r"poll/\?key=([^\"&]+)", html)
    assert key
    poll = reverse("application:poll", args=[app.public_id]) + "?key=" + key.group(1)
    assert customer_client.get(poll).status_code == 204
    Application.objects.filter(pk=app.pk).update(status=S.DECLINED)
    response = customer_client.get(poll)
    assert response.status_code == 200 and response["HX-Redirect"] == url("outcome", app)


def test_loading_is_shown_and_agreed_and_a_decline_shows_its_reason(customer_client: Client, user) -> None:
    questions = [
        {"code": "bp", "text": "是否患有高血压？", "knock_out_answer": True},
        {"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True},
    ]
    product = f.simple_product(
        health_questions=questions,
        underwriting={
            "questions": {
                "bp": {"on_yes": "loading", "loading_percent": "25", "reason": "高血压加费"},
                "cancer": {"on_yes": "decline", "reason": "恶性肿瘤不予承保"},
            }
        },
    )
    answers = {"insured[0].health_answers.bp": "yes", "insured[0].health_answers.cancer": "no"}
    app = start(customer_client, f.quote(product, user))
    customer_client.post(url("data", app), data_post(**answers))
    customer_client.post(url("identity", app), {"consent": "1"})
    assert customer_client.post(url("review", app))["Location"] == url("terms", app)
    html = text_of(customer_client.get(url("terms", app)))
    assert "加收 25%" in html and "¥125.00" in html
    response = customer_client.post(url("terms", app))
    app.refresh_from_db()
    assert app.terms_agreed_at is not None and "/documents/" in response["Location"]
    # a second application answering "yes" to cancer is declined, with the reason shown
    other = start(customer_client, f.quote(product, user))
    answers["insured[0].health_answers.cancer"] = "yes"
    customer_client.post(url("data", other), data_post(**answers))
    customer_client.post(url("identity", other), {"consent": "1"})
    assert customer_client.post(url("review", other))["Location"] == url("outcome", other)
    html = text_of(customer_client.get(url("outcome", other)))
    reasons = html.split('data-testid="reasons"')[1].split("</ul>")[0]
    assert "测试意外险：恶性肿瘤不予承保" in reasons and "{" not in reasons


# --- bundle and list ------------------------------------------------------------------------------------


def test_bundle_basket_starts_one_application_with_several_products(customer_client: Client, user) -> None:
    insurer_product = f.simple_product()
    other = f.simple_product(insurer=insurer_product.insurer)
    q1, q2 = f.quote(insurer_product, user), f.quote(other, user)
    for q in (q1, q2):
        assert (
            customer_client.post(reverse("application:bundle_add"), {"quote_id": str(q.pk)}).status_code
            == 302
        )
    html = text_of(customer_client.get(reverse("application:bundle")))
    assert html.count('data-testid="bundle-item"') == 2 and "2个产品一起投保" in html
    app = start(customer_client, q1, q2)
    assert app.items.count() == 2
    assert text_of(customer_client.get(reverse("application:bundle"))).count('data-testid="bundle-item"') == 0


def test_bundle_page_suggests_the_same_insurers_other_motor_products(customer_client: Client, user) -> None:
    compulsory = f.simple_product(line="auto_compulsory")
    rider = f.simple_product(insurer=compulsory.insurer)
    Product.objects.filter(pk=rider.pk).update(name="驾乘意外险")
    elsewhere = f.simple_product(line="auto_commercial")  # another insurer
    customer_client.post(reverse("application:bundle_add"), {"quote_id": str(f.quote(compulsory, user).pk)})
    html = text_of(customer_client.get(reverse("application:bundle")))
    suggested = html.split('id="suggest-h"')[1]
    assert reverse("catalog:product_detail", args=[rider.code]) in suggested
    assert reverse("catalog:product_detail", args=[elsewhere.code]) not in suggested


def test_a_bundle_holding_a_compulsory_policy_is_not_offered_a_second_one(
    customer_client: Client, user
) -> None:
    # given: an insurer with two 交强险 products, a 商业车险 and a 驾乘意外险; one 交强险 in the basket
    compulsory = f.simple_product(line="auto_compulsory")
    second = f.simple_product(line="auto_compulsory", insurer=compulsory.insurer)
    commercial = f.simple_product(line="auto_commercial", insurer=compulsory.insurer)
    rider = f.simple_product(insurer=compulsory.insurer)
    Product.objects.filter(pk=rider.pk).update(name="驾乘意外险")
    customer_client.post(reverse("application:bundle_add"), {"quote_id": str(f.quote(compulsory, user).pk)})
    # when
    suggested = text_of(customer_client.get(reverse("application:bundle"))).split('id="suggest-h"')[1]
    # then: the commercial cover and the rider are offered, not another compulsory policy
    assert reverse("catalog:product_detail", args=[commercial.code]) in suggested
    assert reverse("catalog:product_detail", args=[rider.code]) in suggested
    assert reverse("catalog:product_detail", args=[second.code]) not in suggested


def test_my_applications_list_has_continue_links(customer_client: Client, product, user) -> None:
    app = start(customer_client, f.quote(product, user))
    html = text_of(customer_client.get(reverse("application:mine")))
    assert app.number in html and "填写中" in html
    assert reverse("application:detail", args=[app.public_id]) in html
    assert customer_client.get(reverse("application:detail", args=[app.public_id]))["Location"] == url(
        "data", app
    )


# --- the agent ------------------------------------------------------------------------------------


@pytest.fixture
def agent_client() -> tuple[Client, Any]:
    agent = create_staff_user("agent_zhang", STAFF_PASSWORD, [])
    device = enrol_totp(agent)
    client = Client()
    token = pyotp.TOTP(totp_secret_base32(device)).now()
    response = client.post(
        reverse("account:staff_login"),
        {"username": "agent_zhang", "password": STAFF_PASSWORD, "otp_token": token},
    )
    assert response.status_code == 302
    return client, agent


def test_agent_pages_need_a_verified_staff_login(customer_client: Client) -> None:
    response = customer_client.get(reverse("application:agent_home"))
    assert response.status_code == 302 and reverse("account:staff_login") in response["Location"]


def test_agent_prepares_and_invites_the_customer_confirms_and_the_agent_cannot(
    agent_client, customer_client: Client, product, user
) -> None:
    agent, agent_user = agent_client
    # given: the agent starts an application from a quote and fills in the customer's data
    q = f.quote(product)
    response = agent.post(reverse("application:agent_home"), {"quote_id": str(q.pk)})
    app = Application.objects.get()
    assert response["Location"] == reverse("application:agent_edit", args=[app.public_id])
    assert app.started_by == agent_user and app.channel == "agent" and app.customer is None
    assert "保存投保信息" in text_of(agent.get(response["Location"]))
    applicant_id = f.resident_id(f.years_ago(40))
    response = agent.post(response["Location"], data_post(applicant_id=applicant_id))
    assert response.status_code == 302
    # the agent cannot confirm for the customer: the customer's pages send them to their own
    response = agent.post(url("review", app))
    assert response["Location"] == reverse("application:agent_edit", args=[app.public_id])
    app.refresh_from_db()
    assert app.status == S.DRAFT and not app.is_confirmed
    # when: the agent makes the invitation (link + QR code)
    agent.post(reverse("application:agent_invite", args=[app.public_id]))
    html = text_of(agent.get(reverse("application:agent_edit", args=[app.public_id])))
    link = re.search(r'data-testid="invite-link">([^<]+)<', html)
    assert link and '<svg class="qr"' in html
    path = link.group(1).replace("http://testserver", "")
    # the agent opening their own link is refused
    assert agent.get(path).status_code == 403
    # a visitor is asked to log in or sign up, and comes back to the link
    visitor = text_of(Client().get(path))
    assert "代理人已为您准备好投保单" in visitor
    assert "/account/signup/?next=" + path.replace("/", "%2F") in visitor
    # then: the customer opens it, accepts, is taken to identity, and confirms themself
    assert customer_client.get(path).status_code == 200
    response = customer_client.post(path)
    app.refresh_from_db()
    assert app.customer == user and response["Location"] == url("identity", app)
    customer_client.post(url("identity", app), {"consent": "1"})
    customer_client.post(url("review", app))
    app.refresh_from_db()
    assert app.status == S.ACCEPTED
    # the agent sees the data locked
    html = text_of(agent.get(reverse("application:agent_edit", args=[app.public_id])))
    assert 'data-testid="locked"' in html and applicant_id not in html
    # an agent change sends it back to draft, and both are told
    response = agent.post(
        reverse("application:agent_edit", args=[app.public_id]) + "?edit=1",
        data_post(applicant_id=applicant_id, **{"applicant.email": "new@example.com"}),
    )
    app.refresh_from_db()
    assert app.status == S.DRAFT and not app.is_confirmed
    assert 'data-testid="amended"' in text_of(agent.get(response["Location"]))
    html = text_of(customer_client.get(url("review", app)))
    assert 'data-testid="agent-amended"' in html


def test_the_agent_sees_id_numbers_masked_once_saved_and_saving_them_unchanged_keeps_them(
    agent_client, product
) -> None:
    agent, _agent_user = agent_client
    # given an application the agent filled in
    response = agent.post(reverse("application:agent_home"), {"quote_id": str(f.quote(product).pk)})
    app = Application.objects.get()
    edit_url = response["Location"]
    applicant_id = f.resident_id(f.years_ago(40))
    assert agent.post(edit_url, data_post(applicant_id=applicant_id)).status_code == 302
    # when the agent opens the form again
    html = text_of(agent.get(edit_url))
    # then the number is masked, never in full
    masked = mask_id_number(applicant_id)
    assert applicant_id not in html and f'value="{masked}"' in html
    # when the agent saves the form as shown (the number left masked) with another change
    response = agent.post(edit_url, data_post(applicant_id=masked, **{"applicant.email": "new@example.com"}))
    # then the stored number is kept and the change is saved
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.applicant_id_number, app.applicant_email) == (applicant_id, "new@example.com")
    # and a number typed anew replaces it, while a masked one that is not the stored one is refused
    other = f.resident_id(f.years_ago(41))
    assert agent.post(edit_url, data_post(applicant_id=other)).status_code == 302
    app.refresh_from_db()
    assert app.applicant_id_number == other
    refused = agent.post(edit_url, data_post(applicant_id=masked))
    assert refused.status_code == 422
    app.refresh_from_db()
    assert app.applicant_id_number == other


def test_invalid_invitation_link(customer_client: Client) -> None:
    response = customer_client.get(reverse("application:invite", args=[uuid.uuid4().hex]))
    assert response.status_code == 404 and "邀请链接无效或已失效" in text_of(response)
    response = customer_client.post(reverse("application:invite", args=[uuid.uuid4().hex]))
    assert response.status_code == 404 and "邀请链接无效或已失效" in text_of(response)


def _invitation_path(agent: Client, product: Any) -> tuple[Application, str]:
    """An application the agent filled in, and the path of the invitation link they made."""
    response = agent.post(reverse("application:agent_home"), {"quote_id": str(f.quote(product).pk)})
    app = Application.objects.get()
    agent.post(response["Location"], data_post())
    agent.post(reverse("application:agent_invite", args=[app.public_id]))
    html = text_of(agent.get(reverse("application:agent_edit", args=[app.public_id])))
    link = re.search(r'data-testid="invite-link">([^<]+)<', html)
    assert link
    return app, link.group(1).replace("http://testserver", "")


def test_opening_the_invitation_shows_it_and_only_the_button_takes_the_application_over(
    agent_client, user, product
) -> None:
    agent, agent_user = agent_client
    agent_user.display_name = "张经理"
    agent_user.save(update_fields=["display_name"])
    app, path = _invitation_path(agent, product)
    customer = Client(enforce_csrf_checks=True)
    customer.force_login(user)
    # a GET shows what the invitation is, and changes nothing
    response = customer.get(path)
    assert response.status_code == 200
    html = text_of(response)
    assert product.name in html and "张经理" in html
    assert 'data-testid="applicant-name">' + f.APPLICANT_NAME[0] + "*" * (len(f.APPLICANT_NAME) - 1) in html
    assert f.APPLICANT_NAME not in html
    assert 'data-testid="total">' in html and "接受邀请，核对投保信息" in html
    app.refresh_from_db()
    assert app.customer is None
    assert not AuditEntry.objects.filter(action="application.invitation_opened").exists()
    # the POST is CSRF-protected
    assert customer.post(path).status_code == 403
    app.refresh_from_db()
    assert app.customer is None
    # the button (with its token) takes it over, through the same service call
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token
    response = customer.post(path, {"csrfmiddlewaretoken": token.group(1)})
    app.refresh_from_db()
    assert app.customer == user and response["Location"] == url("identity", app)
    assert AuditEntry.objects.filter(action="application.invitation_opened").count() == 1
    # opened again, the link just leads on
    assert customer.get(path)["Location"] == url("identity", app)


def test_an_invitation_taken_by_another_customer_is_not_shown(agent_client, customer_client, product) -> None:
    agent, _agent_user = agent_client
    _app, path = _invitation_path(agent, product)
    assert customer_client.post(path).status_code == 302
    other = Client()
    other.force_login(f.customer("13900009999"))
    response = other.get(path)
    assert response.status_code == 403 and "该投保单已由其他客户打开" in text_of(response)
    assert product.name not in text_of(response)
    assert other.post(path).status_code == 403


def test_cancelling_asks_for_confirmation_first(customer_client: Client, product, user) -> None:
    app = filled(customer_client, product, user)
    cancel = url("cancel", app)
    # the data page links to the confirm step (a GET, which changes nothing)
    assert f'href="{cancel}"' in text_of(customer_client.get(url("data", app)))
    response = customer_client.get(cancel)
    html = text_of(response)
    assert response.status_code == 200 and "确定撤销投保单？" in html
    assert 'name="confirm" value="yes"' in html
    app.refresh_from_db()
    assert app.status == S.DRAFT
    # a POST without the explicit confirmation is refused and changes nothing
    response = customer_client.post(cancel)
    assert response.status_code == 400 and "确定撤销投保单？" in text_of(response)
    assert customer_client.post(cancel, {"confirm": "1"}).status_code == 400
    app.refresh_from_db()
    assert app.status == S.DRAFT
    assert not AuditEntry.objects.filter(action="application.cancelled").exists()
    # the confirmation cancels
    response = customer_client.post(cancel, {"confirm": "yes"})
    assert response["Location"] == reverse("application:mine")
    app.refresh_from_db()
    assert app.status == S.CANCELLED
    assert AuditEntry.objects.filter(action="application.cancelled").count() == 1
    # a cancelled application has nothing left to confirm
    assert customer_client.get(cancel)["Location"] == reverse("application:detail", args=[app.public_id])


def test_flow_pages_carry_no_agent_notice_and_the_clause_is_no_dialog(
    customer_client: Client, product, user
) -> None:
    from django.template.loader import render_to_string

    app = confirmed(customer_client, product, user)
    # the agent is sent off the customer's pages, so the old "viewing as the agent" notice is gone
    html = render_to_string("application/flow_base.html", {"app": app, "progress": [], "is_customer": False})
    assert "以代理人身份查看" not in html
    doc = required_documents(app)[0]
    customer_client.get(url("document", app, doc.pk))
    customer_client.post(url("document", app, doc.pk), {"scrolled_to_end": "1"})
    response = customer_client.get(url("clause", app, doc.pk, "exclusion-1"))
    assert response.status_code == 200 and 'class="clause-card"' in text_of(response)
    assert 'role="dialog"' not in text_of(response)


# --- found in review ------------------------------------------------------------------------------


def test_the_agent_is_kept_off_every_page_of_the_customers_flow(
    agent_client, customer_client: Client, product, user
) -> None:
    agent, _agent_user = agent_client
    response = agent.post(reverse("application:agent_home"), {"quote_id": str(f.quote(product).pk)})
    app = Application.objects.get()
    applicant_id = f.resident_id(f.years_ago(40))
    agent.post(response["Location"], data_post(applicant_id=applicant_id))
    agent.post(reverse("application:agent_invite", args=[app.public_id]))
    html = text_of(agent.get(reverse("application:agent_edit", args=[app.public_id])))
    link = re.search(r'data-testid="invite-link">([^<]+)<', html)
    assert link
    customer_client.post(link.group(1).replace("http://testserver", ""))
    customer_client.post(url("identity", app), {"consent": "1"})
    customer_client.post(url("review", app))
    read_all(customer_client, app)
    app.refresh_from_db()
    assert app.status == S.ACCEPTED
    doc = required_documents(app)[0]
    agent_page = reverse("application:agent_edit", args=[app.public_id])
    # neither the customer's data form (full ID numbers), nor the signature pad, nor payment
    for page in (
        url("data", app),
        url("identity", app),
        url("review", app),
        url("document", app, doc.pk),
        url("clause", app, doc.pk, "exclusion-1"),
        url("sign", app),
        url("pay", app),
        url("done", app),
    ):
        response = agent.get(page)
        assert response.status_code == 302 and response["Location"] == agent_page, page
    response = agent.post(url("sign", app), {"role": "applicant", "confirmed": "1"})
    assert response["Location"] == agent_page
    response = agent.post(url("data", app), data_post(applicant_id=applicant_id))
    assert response["Location"] == agent_page
    app.refresh_from_db()
    assert app.status == S.ACCEPTED and not app.signatures.exists()
    assert agent.get(reverse("application:detail", args=[app.public_id]))["Location"] == agent_page


def test_a_key_clause_is_not_shown_before_its_document_was_read(
    customer_client: Client, product, user
) -> None:
    app = confirmed(customer_client, product, user)
    doc = required_documents(app)[0]
    # a direct link to the clause while the document is unread goes back to the document
    response = customer_client.get(url("clause", app, doc.pk, "exclusion-1"))
    assert response.status_code == 302 and response["Location"] == url("document", app, doc.pk)
    response = customer_client.post(url("clause", app, doc.pk, "exclusion-1"))
    assert response["Location"] == url("document", app, doc.pk)
    assert not app.clause_confirmations.exists()


def test_the_insured_persons_phone_is_kept_when_the_form_is_saved_again(
    customer_client: Client, user
) -> None:
    product = f.simple_product(rules={"signature": "confirmation", "insured_relations": ["self", "spouse"]})
    app = start(customer_client, f.quote(product, user))
    spouse = {
        "insured[0].relation": "spouse",
        "insured[0].name": "李小川",
        "insured[0].id_number": f.resident_id(f.years_ago(33), male=False),
        "insured[0].phone": "13900003333",
    }
    assert customer_client.post(url("data", app), data_post(**spouse)).status_code == 302
    html = text_of(customer_client.get(url("data", app)))
    assert re.search(r'name="insured\[0\]\.phone" value="13900003333"', html)


def test_the_identity_consent_error_is_next_to_the_checkbox(customer_client: Client, product, user) -> None:
    app = filled(customer_client, product, user)
    response = customer_client.post(url("identity", app))
    html = text_of(response)
    assert response.status_code == 422
    assert 'aria-describedby="f-consent-error" aria-invalid="true"' in html
    assert re.search(r'id="f-consent-error">请勾选同意进行身份核验<', html)


def test_the_confirmation_checkbox_error_is_tied_to_the_checkbox(
    customer_client: Client, product, user
) -> None:
    app = confirmed(customer_client, product, user)
    read_all(customer_client, app)
    html = text_of(customer_client.post(url("sign", app), {"role": "applicant"}))
    assert 'aria-describedby="f-confirmed-error" aria-invalid="true"' in html
    assert re.search(r'id="f-confirmed-error">请勾选确认', html)


def test_confirming_data_changed_since_the_review_page_was_shown_is_refused(
    customer_client: Client, product, user
) -> None:
    app = filled(customer_client, product, user)
    customer_client.post(url("identity", app), {"consent": "1"})
    html = text_of(customer_client.get(url("review", app)))
    app.refresh_from_db()
    shown = re.search(r'name="revision" value="(\d+)"', html)
    assert shown and shown.group(1) == str(app.data_revision)
    # meanwhile the data is saved again (another tab, or the agent)
    same_id = app.applicant_id_number
    customer_client.post(
        url("data", app), data_post(applicant_id=same_id, **{"applicant.email": "new@example.com"})
    )
    response = customer_client.post(url("review", app), {"revision": shown.group(1)})
    assert response.status_code == 409 and "投保信息刚刚有修改" in text_of(response)
    app.refresh_from_db()
    assert app.status == S.DRAFT and not app.is_confirmed
    # the page shown again carries the new revision, which confirms
    html = text_of(response)
    fresh = re.search(r'name="revision" value="(\d+)"', html)
    assert fresh and fresh.group(1) == str(app.data_revision)
    assert customer_client.post(url("review", app), {"revision": fresh.group(1)}).status_code == 302
    app.refresh_from_db()
    assert app.is_confirmed


def test_a_text_shared_by_products_in_a_bundle_names_all_of_them(customer_client: Client, user) -> None:
    from huibao.catalog.models import Document

    first = f.simple_product()
    second = f.simple_product(insurer=first.insurer)
    Product.objects.filter(pk=first.pk).update(name="甲意外险")
    Product.objects.filter(pk=second.pk).update(name="乙意外险")
    shared = Document.objects.get(version=first.current_version)
    Document.objects.filter(version=second.current_version).update(content_sha256=shared.content_sha256)
    app = start(customer_client, f.quote(first, user), f.quote(second, user))
    customer_client.post(url("data", app), data_post())
    customer_client.post(url("identity", app), {"consent": "1"})
    customer_client.post(url("review", app))
    app.refresh_from_db()
    assert [d.pk for d in required_documents(app)] == [shared.pk]
    html = text_of(customer_client.get(url("document", app, shared.pk)))
    assert "甲意外险、乙意外险" in html
