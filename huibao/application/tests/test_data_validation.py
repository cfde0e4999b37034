"""Strict application data through the service, the JSON API and the page form: shares exactly as
entered, orders from 1 and bounded, names without invisible characters or emoji, health answers
real booleans to known questions, limits on free text and lists. Each refusal names the field
and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from huibao.application import rules
from huibao.application.models import Application
from huibao.application.rules import BeneficiaryInput, InsuredInput
from huibao.application.selectors import identity_is_current
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f
from huibao.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

CANCER = {"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True}
B0 = "insured[0].beneficiaries[0]"
B1 = "insured[0].beneficiaries[1]"


@pytest.fixture
def user():
    return f.customer()


@pytest.fixture
def named_product():
    return f.simple_product(rules={"signature": "confirmation", "beneficiary": "named_allowed"})


@pytest.fixture
def health_product():
    return f.simple_product(health_questions=[CANCER])


def started(product, user) -> Application:
    return start_application(quote_ids=[f.quote(product, user).pk], user=user)


def unchanged(app: Application) -> bool:
    app.refresh_from_db()
    return app.applicant_name == "" and app.data_revision == 1 and not app.insured_persons.exists()


WIFE = f.resident_id(f.years_ago(33), male=False)
SON = f.resident_id(f.years_ago(5))


def two_beneficiaries(first: Any, second: Any, *, order: Any = 1) -> list[BeneficiaryInput]:
    return [
        BeneficiaryInput("李红", WIFE, "spouse", first, order),
        BeneficiaryInput("王小小", SON, "child", second, order),
    ]


def codes(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in exc.value.errors}


# --- service ----------------------------------------------------------------------------------------


def test_shares_with_a_third_decimal_are_refused_not_rounded(named_product, user) -> None:
    # given
    app = started(named_product, user)
    insured = [InsuredInput(relation="self", beneficiaries=two_beneficiaries("50.005", "49.995"))]
    # when
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=insured, beneficiary_mode="named"), actor=user)
    # then
    assert codes(exc) == {
        (f"{B0}.share_percent", "too_many_decimals"),
        (f"{B1}.share_percent", "too_many_decimals"),
    }
    assert unchanged(app)


@pytest.mark.parametrize(
    ("order", "code"), [(0, "out_of_range"), (-1, "out_of_range"), (10**30, "out_of_range")]
)
def test_an_order_below_1_or_out_of_bounds_is_refused(named_product, user, order: int, code: str) -> None:
    app = started(named_product, user)
    insured = [
        InsuredInput(relation="self", beneficiaries=[BeneficiaryInput("李红", WIFE, "spouse", "100", order)])
    ]
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=insured, beneficiary_mode="named"), actor=user)
    assert codes(exc) == {(f"{B0}.order", code)}
    assert unchanged(app)


@pytest.mark.parametrize("name", ["王\u202e小明", "王小明\u200b", "\ufeff王小明", "王小明😀"])
def test_a_name_with_invisible_characters_or_emoji_is_refused(health_product, user, name: str) -> None:
    app = started(health_product, user)
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(name=name, answers={"cancer": False}), actor=user)
    assert {field for field, _ in codes(exc)} == {"applicant.name"}
    assert unchanged(app)


def test_a_look_alike_dot_is_stored_as_the_middle_dot_and_identity_accepts_either(
    health_product, user
) -> None:
    # given: the name typed with U+2022 where the ID card has U+00B7
    app = started(health_product, user)
    d = f.data(name="阿卜杜拉•买买提", answers={"cancer": False})
    # when
    save_data(app, d, actor=user)
    # then
    app.refresh_from_db()
    assert app.applicant_name == "阿卜杜拉·买买提"
    verify_identity(app, name="阿卜杜拉・买买提", id_number=d.applicant.id_number, user=user)
    assert identity_is_current(Application.objects.get(pk=app.pk))


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"cancer": "yes"}, {("insured[0].health_answers.cancer", "not_boolean")}),
        ({"cancer": 1}, {("insured[0].health_answers.cancer", "not_boolean")}),
        ({"cancer": False, "smoker": False}, {("insured[0].health_answers.smoker", "unknown_question")}),
    ],
)
def test_health_answers_must_be_booleans_to_known_questions(
    health_product, user, answers: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    app = started(health_product, user)
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(answers=answers), actor=user)  # type: ignore[arg-type]
    assert codes(exc) == expected
    assert unchanged(app)


def test_an_occupation_too_long_is_refused_not_cut(health_product, user) -> None:
    app = started(health_product, user)
    insured = [InsuredInput(relation="self", occupation="职" * 41, health_answers={"cancer": False})]
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=insured), actor=user)
    assert codes(exc) == {("insured[0].occupation", "too_long")}
    assert unchanged(app)


# --- API --------------------------------------------------------------------------------------------


class Api:
    def __init__(self, user: Any) -> None:
        self.client = Client()
        self.client.force_login(user)

    def call(self, method: str, path: str, body: Any) -> Any:
        response = self.client.generic(method, path, json.dumps(body), content_type="application/json")
        response.data = response.json()  # type: ignore[attr-defined]
        return response


def api_start(api: Api, product: Any) -> str:
    quote = api.call(
        "POST", "/api/v1/quotes", {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}}
    )
    response = api.call("POST", "/api/v1/applications", {"quote_ids": [quote.data["id"]], "channel": "app"})
    assert response.status_code == 201, response.data
    return f"/api/v1/applications/{response.data['id']}/data"


def body(insured: dict[str, Any], *, name: str = f.APPLICANT_NAME, mode: str = "legal") -> dict[str, Any]:
    return {
        "applicant": {"name": name, "id_number": f.resident_id(f.years_ago(35)), "phone": "13900001111"},
        "insured": [{"relation": "self", **insured}],
        "beneficiary_mode": mode,
    }


def api_beneficiaries(first: Any, second: Any, order: Any = 1) -> list[dict[str, Any]]:
    return [
        {"name": "李红", "id_number": WIFE, "relation": "spouse", "share_percent": first, "order": order},
        {"name": "王小小", "id_number": SON, "relation": "child", "share_percent": second, "order": order},
    ]


def fields(response: Any) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in response.data["errors"]}


@pytest.mark.parametrize("shares", [("50.005", "49.995"), (50.005, 49.995)], ids=["strings", "numbers"])
def test_api_refuses_shares_with_a_third_decimal(named_product, user, shares: tuple[Any, Any]) -> None:
    api = Api(user)
    url = api_start(api, named_product)
    response = api.call("PUT", url, body({"beneficiaries": api_beneficiaries(*shares)}, mode="named"))
    assert response.status_code == 422
    assert fields(response) == {
        (f"{B0}.share_percent", "too_many_decimals"),
        (f"{B1}.share_percent", "too_many_decimals"),
    }
    assert all(e["message"] == "受益比例最多保留两位小数" for e in response.data["errors"])
    assert Application.objects.get().data_revision == 1
    # and two decimals are kept exactly
    saved = api.call("PUT", url, body({"beneficiaries": api_beneficiaries("66.67", 33.33)}, mode="named"))
    assert saved.status_code == 200, saved.data
    assert [b["share_percent"] for b in saved.data["insured"][0]["beneficiaries"]] == ["66.67", "33.33"]


@pytest.mark.parametrize("order", [0, -3, 10**30])
def test_api_refuses_an_order_below_1_or_out_of_bounds_with_a_422(named_product, user, order: int) -> None:
    api = Api(user)
    url = api_start(api, named_product)
    response = api.call(
        "PUT", url, body({"beneficiaries": api_beneficiaries("50", "50", order)}, mode="named")
    )
    assert response.status_code == 422
    assert fields(response) == {(f"{B0}.order", "out_of_range"), (f"{B1}.order", "out_of_range")}
    assert Application.objects.get().data_revision == 1


@pytest.mark.parametrize("order", [True, "1", 1.0])
def test_api_takes_the_order_as_a_json_integer_only(named_product, user, order: Any) -> None:
    api = Api(user)
    url = api_start(api, named_product)
    response = api.call(
        "PUT", url, body({"beneficiaries": api_beneficiaries("50", "50", order)}, mode="named")
    )
    assert response.status_code == 422
    assert (f"{B0}.order", "int_type") in fields(response)


@pytest.mark.parametrize("answer", ["yes", "true", 1, None])
def test_api_refuses_a_health_answer_that_is_not_a_json_boolean(health_product, user, answer: Any) -> None:
    api = Api(user)
    url = api_start(api, health_product)
    response = api.call("PUT", url, body({"health_answers": {"cancer": answer}}))
    assert response.status_code == 422
    assert {field for field, _ in fields(response)} == {"insured[0].health_answers.cancer"}
    assert Application.objects.get().data_revision == 1


def test_api_refuses_an_unknown_question_code_naming_it(health_product, user) -> None:
    api = Api(user)
    url = api_start(api, health_product)
    response = api.call("PUT", url, body({"health_answers": {"cancer": False, "smoker": False}}))
    assert response.status_code == 422
    assert fields(response) == {("insured[0].health_answers.smoker", "unknown_question")}
    assert "smoker" in response.data["errors"][0]["message"]


def test_api_refuses_a_name_with_a_right_to_left_override(health_product, user) -> None:
    api = Api(user)
    url = api_start(api, health_product)
    response = api.call("PUT", url, body({"health_answers": {"cancer": False}}, name="王\u202e小明"))
    assert response.status_code == 422
    assert fields(response) == {("applicant.name", "name_invisible")}


def test_api_lists_have_a_length_limit(named_product, user) -> None:
    api = Api(user)
    url = api_start(api, named_product)
    many = api_beneficiaries("10", "10") * 3  # six beneficiaries
    response = api.call("PUT", url, body({"beneficiaries": many}, mode="named"))
    assert response.status_code == 422
    assert fields(response) == {("insured[0].beneficiaries", "too_long")}
    crowd = body({})
    crowd["insured"] = [{"relation": "child"}] * (rules.MAX_INSURED + 1)
    response = api.call("PUT", url, crowd)
    assert response.status_code == 422 and fields(response) == {("insured", "too_long")}


# --- page form --------------------------------------------------------------------------------------


def page_start(client: Client, product: Any, user: Any) -> Application:
    response = client.post(reverse("application:start"), {"quote_id": [str(f.quote(product, user).pk)]})
    assert response.status_code == 302
    app = Application.objects.order_by("-id").first()
    assert app is not None
    return app


def page_post(**extra: str) -> dict[str, str]:
    return {
        "action": "save",
        "applicant.name": f.APPLICANT_NAME,
        "applicant.id_number": f.resident_id(f.years_ago(35)),
        "applicant.phone": "13900001111",
        "insured[0].relation": "self",
        "beneficiary_mode": "legal",
        **extra,
    }


def page_beneficiaries(first: str, second: str, order: str = "1") -> dict[str, str]:
    return {
        "beneficiary_mode": "named",
        f"{B0}.name": "李红",
        f"{B0}.id_number": WIFE,
        f"{B0}.relation": "spouse",
        f"{B0}.order": order,
        f"{B0}.share_percent": first,
        f"{B1}.name": "王小小",
        f"{B1}.id_number": SON,
        f"{B1}.relation": "child",
        f"{B1}.order": order,
        f"{B1}.share_percent": second,
    }


def error_under(html: str, field: str) -> str:
    import re

    field_id = "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", field).strip("-")
    m = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', html)
    assert m, f"no error paragraph for {field}"
    return m.group(1)


def test_the_page_refuses_shares_with_a_third_decimal_next_to_each_share(named_product, user) -> None:
    client = Client()
    client.force_login(user)
    app = page_start(client, named_product, user)
    url = reverse("application:data", args=[app.public_id])
    response = client.post(url, page_post(**page_beneficiaries("50.005", "49.995")))
    assert response.status_code == 422
    html = response.content.decode()
    assert error_under(html, f"{B0}.share_percent") == "受益比例最多保留两位小数"
    assert error_under(html, f"{B1}.share_percent") == "受益比例最多保留两位小数"
    assert unchanged(app)
    assert client.post(url, page_post(**page_beneficiaries("50.5", "49.50"))).status_code == 302


@pytest.mark.parametrize("order", ["0", "-1", "x"])
def test_the_page_refuses_an_order_that_is_not_1_or_more(named_product, user, order: str) -> None:
    client = Client()
    client.force_login(user)
    app = page_start(client, named_product, user)
    url = reverse("application:data", args=[app.public_id])
    response = client.post(url, page_post(**page_beneficiaries("50", "50", order)))
    assert response.status_code == 422
    assert error_under(response.content.decode(), f"{B0}.order")
    assert unchanged(app)


def test_the_page_refuses_a_name_with_a_zero_width_space(health_product, user) -> None:
    client = Client()
    client.force_login(user)
    app = page_start(client, health_product, user)
    url = reverse("application:data", args=[app.public_id])
    response = client.post(
        url, page_post(**{"applicant.name": "王\u200b小明", "insured[0].health_answers.cancer": "no"})
    )
    assert response.status_code == 422
    assert "不可见字符" in error_under(response.content.decode(), "applicant.name")
    assert unchanged(app)
