"""Business rules found wanting in review: each test failed before its fix."""

from __future__ import annotations

import datetime

import pytest

from huibao.application.journey import missing_before_signing
from huibao.application.rules import InsuredInput
from huibao.application.services.confirm import agree_terms, confirm, drop_declined_items
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.referral import decide_case
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f

pytestmark = pytest.mark.django_db

BP = {"code": "bp", "text": "是否患有高血压？", "knock_out_answer": True}


def confirmed(product_or_products, user, **data_kwargs):
    products = product_or_products if isinstance(product_or_products, list) else [product_or_products]
    app = start_application(quote_ids=[f.quote(p, user).pk for p in products], user=user)
    d = f.data(**data_kwargs)
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    return confirm(app, user=user)


def test_an_application_with_a_loading_can_be_signed_after_the_terms_are_agreed() -> None:
    user = f.customer()
    product = f.simple_product(
        health_questions=[BP],
        underwriting={"questions": {"bp": {"on_yes": "loading", "loading_percent": "25"}}},
    )
    app = confirmed(product, user, answers={"bp": True})
    assert app.status == ApplicationStatus.ACCEPTED and app.total_premium == f.PREMIUM * 5 / 4
    app = agree_terms(app, user=user)
    f.read_everything(app, user)
    assert missing_before_signing(app) == []
    app = sign(app, user=user, confirmed=True)
    assert app.status == ApplicationStatus.SIGNED


def test_an_underwriters_loading_can_be_agreed_and_signed() -> None:
    from huibao.underwriting.tests.factories import underwriter

    user = f.customer()
    hospital = {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True}
    product = f.simple_product(
        health_questions=[hospital], underwriting={"questions": {"hospitalised": {"on_yes": "refer"}}}
    )
    app = confirmed(product, user, answers={"hospitalised": True})
    assert app.status == ApplicationStatus.REFERRED
    decide_case(
        app.items.get().cases.get(),
        decision="accept_with_terms",
        underwriter=underwriter(),
        reasons="已痊愈",
        loading_percent=50,
    )
    app = agree_terms(app, user=user)
    f.read_everything(app, user)
    assert missing_before_signing(app) == []
    assert sign(app, user=user, confirmed=True).status == ApplicationStatus.SIGNED


# --- bundles: one product declined, the others accepted ------------------------------------------

CANCER = {"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True}


def test_a_bundle_with_one_declined_product_waits_for_the_customer_to_drop_it() -> None:
    # given: the second product declines the insured, the first has no health questions
    user = f.customer()
    ok = f.simple_product()
    strict = f.simple_product(health_questions=[CANCER], insurer=ok.insurer)
    # when
    app = confirmed([ok, strict], user, answers={"cancer": True})
    # then: not declined as a whole; signing waits for the customer's choice
    assert app.status == ApplicationStatus.ACCEPTED
    assert app.total_premium == f.PREMIUM  # the declined product is not charged
    codes = [e.code for e in missing_before_signing(app)]
    assert "item_declined" in codes
    # when: the customer continues without it
    app = drop_declined_items(app, user=user)
    # then
    assert [i.product_version.product_id for i in app.items.all()] == [ok.pk]
    assert app.total_premium == f.PREMIUM and app.is_confirmed
    f.read_everything(app, user)
    assert missing_before_signing(app) == []
    assert sign(app, user=user, confirmed=True).status == ApplicationStatus.SIGNED


def test_a_bundle_declined_everywhere_is_declined_and_a_refer_beside_a_decline_waits() -> None:
    user = f.customer()
    strict = f.simple_product(health_questions=[CANCER])
    other = f.simple_product(health_questions=[CANCER], insurer=strict.insurer)
    assert confirmed([strict, other], user, answers={"cancer": True}).status == ApplicationStatus.DECLINED

    referring = f.simple_product(
        health_questions=[CANCER], underwriting={"questions": {"cancer": {"on_yes": "refer"}}}
    )
    app = confirmed([strict, referring], user, answers={"cancer": True})
    assert app.status == ApplicationStatus.REFERRED
    assert app.items.get(product_version__product=referring).cases.get().status == "open"


def test_nothing_to_drop_is_refused() -> None:
    from huibao.core.errors import Conflict

    user = f.customer()
    app = confirmed(f.simple_product(), user)
    with pytest.raises(Conflict):
        drop_declined_items(app, user=user)


# --- quotes and versions ---------------------------------------------------------------------------


def test_an_expired_quote_is_refused(settings) -> None:
    from huibao.core.errors import ValidationFailed
    from huibao.rating.models import Quote

    user = f.customer()
    q = f.quote(f.simple_product(), user)
    settings.HUIBAO_QUOTE_TTL_HOURS = 1
    Quote.objects.filter(pk=q.pk).update(created_at=q.created_at - datetime.timedelta(hours=2))
    with pytest.raises(ValidationFailed) as exc:
        start_application(quote_ids=[q.pk], user=user)
    assert exc.value.errors[0].code == "quote_expired"


def test_a_version_taken_off_sale_before_confirmation_is_refused() -> None:
    from huibao.catalog.models import Product, ProductStatus
    from huibao.core.errors import ValidationFailed

    user = f.customer()
    product = f.simple_product()
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    d = f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    Product.objects.filter(pk=product.pk).update(status=ProductStatus.OFF_SALE)
    with pytest.raises(ValidationFailed) as exc:
        confirm(app, user=user)
    assert [e.code for e in exc.value.errors] == ["version_not_on_sale"]


def test_a_new_applicant_voids_the_previous_face_check() -> None:
    from django.utils import timezone

    from huibao.application.models import Application

    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    save_data(app, f.data(), actor=user)
    Application.objects.filter(pk=app.pk).update(face_check_id=1, face_passed_at=timezone.now())
    app = save_data(app, f.data(applicant_id=f.resident_id(f.years_ago(40))), actor=user)
    assert app.face_passed_at is None and app.face_check_id is None


def test_two_spouses_are_refused() -> None:
    from huibao.core.errors import ValidationFailed

    user = f.customer()
    product = f.simple_product(rules={"signature": "confirmation", "max_insured": 3})
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    spouses = [
        InsuredInput(relation="spouse", name=name, id_number=f.resident_id(f.years_ago(33), male=False))
        for name in ("李小红", "张小丽")
    ]
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=spouses), actor=user)
    assert "relation_count" in [e.code for e in exc.value.errors]


def test_cover_zero_days_after_payment_starts_at_the_payment_not_before() -> None:
    from zoneinfo import ZoneInfo

    from huibao.application.rules import parse_rules

    paid = datetime.datetime(2026, 11, 29, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    at_once = parse_rules({"effective": {"rule": "days_after_payment", "days": 0}})
    assert at_once.effective_at(paid) == paid
    three_days = parse_rules({"effective": {"rule": "days_after_payment", "days": 3}})
    assert three_days.effective_at(paid) == datetime.datetime(
        2026, 12, 2, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")
    )


def test_the_customer_drops_a_declined_product_over_the_api() -> None:
    from huibao.application.tests.test_api import login

    user = f.customer()
    ok = f.simple_product()
    strict = f.simple_product(health_questions=[CANCER], insurer=ok.insurer)
    app = confirmed([ok, strict], user, answers={"cancer": True})
    api = login(user)
    url = f"/api/v1/applications/{app.public_id}/declined-items/drop"
    # someone else cannot do it for them
    assert login(f.customer("13900002222")).post(url).status_code == 404
    response = api.post(url)
    assert response.status_code == 200 and len(response.data["items"]) == 1
    assert response.data["total_premium"] == str(f.PREMIUM)
    again = api.post(url)
    assert again.status_code == 409 and again.data["code"] == "nothing_declined"
