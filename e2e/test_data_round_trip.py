"""What the customer types into the data form is what every later page shows: one round trip over
every field of the form (applicant, subject, beneficiary mode, the insured person with their
occupation and health answers, two named beneficiaries at 50 % each), through the review page,
the policy page, the e-policy PDF and the API.

ID numbers and phones are shown masked (the last four characters of an ID, 139****5555); names,
relations, orders, shares, occupations and the subject in clear.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from e2e import test_application_flow as journey
from e2e.test_application_flow import LONG_TEXT, PASSWORD, READ_SECONDS, log_in, pay, read_documents
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.catalog.models import Document, Product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
flow = journey.flow  # the live server with notifications delivered at once

QUESTIONS = [
    {"code": "hospital", "text": "过去两年内是否住院治疗？"},
    {"code": "chronic", "text": "是否患有高血压、糖尿病等慢性病？"},
]


def life_product() -> Product:
    """A product with every part of the data form: a subject field, named beneficiaries, a spouse
    as insured, two health questions (answered 否: accepted as is)."""
    p = f.simple_product(
        rules={
            "signature": "confirmation",
            "beneficiary": "named_allowed",
            "insured_relations": ["self", "spouse", "child", "parent"],
            "subject": [{"code": "employer", "label": "工作单位", "required": True}],
        },
        health_questions=QUESTIONS,
        min_read_seconds=READ_SECONDS,
    )
    Product.objects.filter(pk=p.pk).update(name="家庭守护意外险")
    Document.objects.filter(version=p.current_version).update(body=LONG_TEXT + "\n\n酒后驾驶不赔。")
    return p


def test_every_field_of_the_data_form_reaches_review_policy_pdf_and_api(
    flow: str, phone: Page, tmp_path: Path
) -> None:
    # given: a customer with an account, on the quote of a product with every kind of field
    product = life_product()
    customer = f.customer("13900005555")
    customer.set_password(PASSWORD)
    customer.save()
    applicant_id = f.resident_id(f.years_ago(36))
    spouse_id = f.resident_id(f.years_ago(33), male=False, region="310115")
    child_id = f.resident_id(f.years_ago(6), region="440305")
    parent_id = f.resident_id(f.years_ago(62), male=False)
    page = phone
    log_in(page, flow, "13900005555", "/")
    page.goto(f"{flow}/products/{product.code}/")
    page.get_by_role("button", name="获取报价").click()
    page.locator(".premium-box--saved").get_by_role("button", name="立即投保").click()
    expect(page.locator("h1")).to_have_text("填写投保信息")

    # when: they fill in every field and name two beneficiaries at 50 % each
    page.get_by_label("姓名", exact=True).fill("王建国")
    page.get_by_label("身份证号", exact=True).fill(applicant_id)
    page.get_by_label("手机号", exact=True).fill("13900005555")
    page.get_by_label("电子邮箱（用于接收电子保单，可不填）").fill("jianguo@example.com")
    page.get_by_label("联系地址（可不填）").fill("上海市浦东新区世纪大道100号")
    page.get_by_label("职业（可不填）", exact=True).fill("会计")
    page.get_by_label("工作单位").fill("浦东会计师事务所")
    page.get_by_role("radio", name="指定受益人").check()
    page.get_by_role("radio", name="配偶").check()
    page.get_by_label("被保险人姓名").fill("李秀英")
    page.get_by_label("被保险人身份证号").fill(spouse_id)
    page.get_by_label("被保险人手机号（可不填）").fill("13900006666")
    page.get_by_label("被保险人职业（可不填）").fill("教师")
    page.get_by_label("职业类别").select_option("2")
    for question in QUESTIONS:
        page.get_by_role("group", name=question["text"]).get_by_role("radio", name="否").check()
    page.get_by_role("button", name="添加受益人").click()
    page.get_by_role("button", name="添加受益人").click()
    expect(page.locator("[data-beneficiary]")).to_have_count(2)
    for n, (name, id_number, relation, order) in enumerate(
        [("王小宝", child_id, "child", "1"), ("张桂兰", parent_id, "parent", "1")]
    ):
        block = page.locator("[data-beneficiary]").nth(n)
        block.get_by_label("受益人姓名").fill(name)
        block.get_by_label("受益人身份证号").fill(id_number)
        block.get_by_label("与被保险人关系").select_option(relation)
        block.get_by_label("受益顺位").select_option(order)
        block.get_by_label("受益比例（%）").fill("50")
    page.get_by_role("button", name="保存，下一步").click()
    expect(page.locator("h1")).to_have_text("实名认证")
    page.get_by_text("本人同意将以上姓名和身份证号用于身份核验").click()
    page.get_by_role("button", name="开始实名认证").click()

    # then: the review page shows every field as entered (IDs and phones masked)
    expect(page.locator("h1")).to_have_text("确认投保信息")
    review = page.locator("main").inner_text()
    for shown in (
        "王建国",
        "*" + applicant_id[-4:],
        "139****5555",
        "浦东会计师事务所",
        "上海市浦东新区世纪大道100号",
        "会计",
        "李秀英",
        "*" + spouse_id[-4:],
        "139****6666",
        "教师",
        "第2类",
        "王小宝（子女，",
        "*" + child_id[-4:],
        "张桂兰（父母，",
        "*" + parent_id[-4:],
        "第1顺位 50%",
        QUESTIONS[0]["text"],
        QUESTIONS[1]["text"],
    ):
        assert shown in review, (shown, review)
    assert "法定" not in review
    assert re.search(r"j\*+@example\.com", review), review
    page.get_by_role("button", name="确认无误，提交核保").click()
    read_documents(page, 1)
    expect(page.locator("h1")).to_have_text("签名确认")
    page.get_by_label("我已阅读并同意以上声明，确认投保").check()
    page.get_by_role("button", name="确认签名").click()
    pay(page, "王建国")

    app = Application.objects.get()
    assert app.status == ApplicationStatus.ISSUED and app.beneficiary_mode == "named"
    policy = app.policies.get()

    # and: the policy page
    page.goto(f"{flow}/policy/mine/{policy.public_id}/")
    parties = page.locator("section", has=page.get_by_role("heading", name="投保人与被保险人")).inner_text()
    for shown in (
        "王建国",
        "李秀英（配偶）",
        "王小宝（子女，第1顺位 50%）",
        "张桂兰（父母，第1顺位 50%）",
        "工作单位",
        "浦东会计师事务所",
    ):
        assert parts(shown) in parts(parties), (shown, parties)
    assert "法定" not in parties

    # and: the e-policy PDF
    response = page.request.get(f"{flow}/policy/mine/{policy.public_id}/epolicy.pdf")
    assert response.status == 200, response.status
    text = parts(pdf_text(response.body(), tmp_path))
    for shown in (
        "王建国",
        "李秀英",
        "配偶",
        "教师",
        "第1顺位 子女",
        "王小宝",
        child_id[-4:],
        "第1顺位 父母",
        "张桂兰",
        parent_id[-4:],
        "受益比例 50%",
        "浦东会计师事务所",
    ):
        assert parts(shown) in text, (shown, text)
    assert "法定继承人" not in text

    # and: the API, for the policy and for the application's data
    detail = page.request.get(f"{flow}/api/v1/policies/{policy.public_id}").json()
    assert detail["beneficiary_mode"] == "named", detail
    assert [(b["name"], b["relation"], b["order"], b["share_percent"]) for b in detail["beneficiaries"]] == [
        ("王小宝", "子女", 1, "50.00"),
        ("张桂兰", "父母", 1, "50.00"),
    ], detail["beneficiaries"]
    assert detail["holder"]["name"] == "王建国" and detail["insured"]["name"] == "李秀英"
    assert detail["subject"] == [{"code": "employer", "label": "工作单位", "value": "浦东会计师事务所"}]
    data = page.request.get(f"{flow}/api/v1/applications/{app.public_id}/data").json()
    assert_api_data(data, applicant_id, spouse_id, child_id, parent_id)


def parts(text: str) -> str:
    """The text without its white space (pages and PDFs lay it out in lines and columns)."""
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "epolicy.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def assert_api_data(
    data: dict[str, Any], applicant_id: str, spouse_id: str, child_id: str, parent_id: str
) -> None:
    applicant = data["applicant"]
    assert applicant["name"] == "王建国" and applicant["id_number"].endswith(applicant_id[-4:]), applicant
    assert applicant["address"] == "上海市浦东新区世纪大道100号", applicant
    assert applicant["phone"] == "13900005555" and applicant["email"] == "jianguo@example.com", applicant
    assert applicant["occupation"] == "会计", applicant
    assert data["beneficiary_mode"] == "named" and data["subject"] == {"employer": "浦东会计师事务所"}, data
    (insured,) = data["insured"]
    assert insured["relation"] == "spouse" and insured["name"] == "李秀英", insured
    assert insured["id_number"].endswith(spouse_id[-4:]), insured
    assert insured["occupation"] == "教师" and str(insured["occupation_class"]) == "2", insured
    assert insured["health_answers"] == {"hospital": False, "chronic": False}, insured
    assert insured["phone"] == "13900006666", insured
    shown = [
        (b["name"], b["relation"], str(b["order"]), b["share_percent"]) for b in insured["beneficiaries"]
    ]
    assert shown == [
        ("王小宝", "child", "1", "50.00"),
        ("张桂兰", "parent", "1", "50.00"),
    ], insured["beneficiaries"]
    assert insured["beneficiaries"][0]["id_number"].endswith(child_id[-4:])
    assert insured["beneficiaries"][1]["id_number"].endswith(parent_id[-4:])
