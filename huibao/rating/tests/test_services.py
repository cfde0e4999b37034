import datetime
from decimal import Decimal

import pytest

from huibao.catalog.models import ProductStatus, VersionStatus
from huibao.core.errors import NotFound, ValidationFailed
from huibao.rating import services
from huibao.rating.errors import QuoteRejected
from huibao.rating.models import Quote
from huibao.rating.rules import ENGINE_VERSION
from huibao.rating.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    services.clear_cache()
    yield
    services.clear_cache()


def test_create_quote_records_version_inputs_steps_and_premium():
    # given a term-life product on sale
    version = factories.term_life_version()
    # when a quote is created
    quote = services.create_quote(
        product_code=version.product.code,
        plan_code="standard",
        inputs={"age": 35, "sex": "M", "sum_insured": 500000, "term": "20y", "payment_mode": "monthly"},
    )
    # then it is stored with everything needed to explain it
    stored = Quote.objects.get(pk=quote.pk)
    assert stored.premium == Decimal("280.50")
    assert stored.product_version_id == version.pk
    assert stored.plan.code == "standard"
    assert stored.engine_version == ENGINE_VERSION
    assert stored.inputs["sum_insured"] == "500000"
    assert [s["name"] for s in stored.steps] == ["base", "mode_loading", "premium"]
    assert stored.steps[0]["lookups"] == [{"table": "base_rate", "key": "31|M|20y", "value": "0.55"}]


def test_replay_gives_the_same_fen_and_steps():
    # given a stored quote
    version = factories.auto_version()
    quote = services.create_quote(
        product_code=version.product.code,
        plan_code="full",
        inputs={
            "age": 44,
            "sum_insured": "370000",
            "vehicle_class": "truck",
            "no_claim_years": 3,
            "driving_score": 91,
        },
    )
    services.clear_cache()
    stored = Quote.objects.get(pk=quote.pk)
    # when it is replayed from the database
    result = services.replay_quote(stored)
    # then
    assert result.premium == stored.premium
    assert result.steps_as_dicts() == stored.steps


def test_quote_is_not_persisted_when_asked():
    version = factories.travel_version()
    quote = services.create_quote(
        product_code=version.product.code,
        plan_code="basic",
        inputs={"age": 5, "destination_zone": "asia"},
        persist=False,
    )
    assert quote.premium == Decimal("25.20")
    assert not Quote.objects.exists()


@pytest.mark.parametrize("status", [ProductStatus.OFF_SALE, ProductStatus.DRAFT])
def test_product_not_on_sale_is_not_found(status):
    version = factories.accident_version()
    version.product.status = status
    version.product.save(update_fields=["status"])
    with pytest.raises(NotFound):
        services.create_quote(product_code=version.product.code, plan_code="basic", inputs={})


def test_unknown_product_is_not_found():
    with pytest.raises(NotFound) as info:
        services.create_quote(product_code="nope", plan_code="basic", inputs={})
    assert info.value.errors[0].field == "product_code"


def test_invalid_inputs_store_nothing():
    version = factories.accident_version()
    with pytest.raises(QuoteRejected):
        services.create_quote(
            product_code=version.product.code, plan_code="basic", inputs={"age": 80, "occupation_class": 6}
        )
    assert not Quote.objects.exists()


def test_published_versions_are_cached_and_drafts_are_not(django_assert_num_queries):
    # given a published and a draft version
    published = factories.accident_version()
    draft = factories.accident_version(status=VersionStatus.DRAFT)
    services.get_rating_product(published.pk)
    services.get_rating_product(draft.pk)
    # when they are asked for again
    with django_assert_num_queries(0):
        services.get_rating_product(published.pk)
    with django_assert_num_queries(2):  # version + plans
        services.get_rating_product(draft.pk)


@pytest.mark.django_db(transaction=True)  # a quote page or the API: not in a transaction
def test_create_quote_costs_one_read_and_one_insert(django_assert_num_queries):
    version = factories.accident_version()
    services.get_rating_product(version.pk)
    with django_assert_num_queries(2):
        services.create_quote(
            product_code=version.product.code,
            plan_code="basic",
            inputs={"age": 30, "occupation_class": 1, "sum_insured": 100000},
        )


def _born_years_ago(years: int) -> datetime.date:
    today = datetime.date.today()
    return today.replace(year=today.year - years) - datetime.timedelta(days=30)


def test_reprice_for_person_prices_the_same_version_on_the_real_birth_date_and_reuses_equal_quotes():
    # given a quote at an assumed age of 35
    version = factories.term_life_version()
    inputs = {"age": 35, "sex": "M", "sum_insured": 500000, "term": "20y", "payment_mode": "monthly"}
    origin = services.create_quote(product_code=version.product.code, plan_code="standard", inputs=inputs)
    # when it is priced for a named person of 45
    older = services.PersonFacts(birth_date=_born_years_ago(45), sex="M", occupation_class=None)
    repriced = services.reprice_for_person(origin, older)
    # then a new quote of the same version and plan is recorded, its age from the birth date
    assert repriced.pk != origin.pk and Quote.objects.filter(pk=repriced.pk).exists()
    assert (repriced.product_version_id, repriced.plan_id) == (origin.product_version_id, origin.plan_id)
    assert repriced.inputs["birth_date"] == older.birth_date.isoformat() and repriced.inputs["age"] == 45
    assert repriced.premium > origin.premium
    # and pricing the same person again returns that quote instead of recording another
    count = Quote.objects.count()
    assert services.reprice_for_person(origin, older, candidates=(repriced,)) == repriced
    assert Quote.objects.count() == count


def test_reprice_for_person_refuses_a_person_the_product_cannot_price():
    version = factories.term_life_version()
    inputs = {"age": 35, "sex": "M", "sum_insured": 500000, "term": "20y", "payment_mode": "monthly"}
    origin = services.create_quote(product_code=version.product.code, plan_code="standard", inputs=inputs)
    too_old = services.PersonFacts(birth_date=_born_years_ago(99), sex="M", occupation_class=None)
    with pytest.raises(ValidationFailed) as refused:
        services.reprice_for_person(origin, too_old)
    assert refused.value.errors and all(e.field.startswith("inputs.") for e in refused.value.errors)
