"""The catalog pages through Django's test client: rendering, filters, compare, quotes, preferences."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client

from huibao.catalog.models import LineOfBusiness
from huibao.catalog.search import invalidate_index
from huibao.catalog.tests.factories import on_sale_product
from huibao.catalog.tests.web_catalog import build_catalog
from huibao.core.masking import _ID_RE, _PHONE_RE
from huibao.rating.models import Quote

pytestmark = pytest.mark.django_db

MEDICAL = ["pingan-e-sheng-bao", "zhongan-zun-xiang-e-sheng", "cpic-lan-yi-bao"]


@pytest.fixture
def catalog():
    invalidate_index()
    products = build_catalog()
    yield products
    invalidate_index()


@pytest.fixture
def client() -> Client:
    return Client()


def html(response) -> str:
    return response.content.decode()


def quote_inputs(**overrides: str) -> dict[str, str]:
    data = {
        "plan": "basic",
        "age": "30",
        "sex": "M",
        "sum_insured": "1000000",
        "term": "1y",
        "occupation_class": "1",
        "payment_mode": "single",
    }
    data.update(overrides)
    return data


# --- Pages render with data ---------------------------------------------------------------------


def test_home_shows_search_categories_and_rankings(client, catalog):
    # when
    response = client.get("/")
    # then
    page = html(response)
    assert response.status_code == 200
    assert 'name="q"' in page
    assert "?crowd=adults" in page and "成年人" in page
    assert "?scenario=travel" in page and "出行旅游" in page
    assert "?line=medical" in page and "医疗险" in page
    # the best-selling ranking starts with the product with the most sales
    best_selling = page.split("热销榜", 1)[1]
    assert best_selling.index("众安综合意外险") < best_selling.index("众安尊享e生医疗险")


def test_product_list_searches_in_chinese(client, catalog):
    # when
    response = client.get("/products/", {"q": "重疾"})
    # then: 重疾 stands for 重大疾病, a coverage of the three medical products only
    page = html(response)
    assert response.status_code == 200
    assert "共找到 3 款产品" in page
    assert "平安e生保百万医疗" in page and "太平洋蓝医保长期医疗" in page
    assert "众安综合意外险" not in page and "平安境外旅行险" not in page


def test_product_list_filters_by_line_and_shows_facet_counts(client, catalog):
    # when
    response = client.get("/products/", {"line": "medical"})
    # then
    page = html(response)
    assert "共找到 3 款产品" in page
    for name in ("平安e生保百万医疗", "众安尊享e生医疗险", "太平洋蓝医保长期医疗"):
        assert name in page
    assert "众安综合意外险" not in page
    # facets count the other lines too, so a person can switch line
    assert re.search(r'<option value="accident"\s*>意外险 \(1\)</option>', page)
    assert re.search(r'<option value="medical" selected>医疗险 \(3\)</option>', page)


def test_product_list_filters_by_age_and_max_premium(client, catalog):
    # when: a 68-year-old, premium up to ¥300
    response = client.get("/products/", {"age": "68", "max_premium": "300"})
    # then: only products that accept 68 and start at ≤ ¥300
    page = html(response)
    assert "太平洋蓝医保长期医疗" in page  # max age 70, from ¥298
    assert "平安境外旅行险" in page  # max age 80, from ¥42
    assert "平安e生保百万医疗" not in page  # max age 65


def test_product_list_htmx_returns_results_partial_with_facets_out_of_band(client, catalog):
    # when
    response = client.get("/products/", {"crowd": "elderly"}, HTTP_HX_REQUEST="true")
    # then
    page = html(response)
    assert "<html" not in page
    assert "共找到 2 款产品" in page
    assert 'id="facet-fields" class="facet-fields" hx-swap-oob="true"' in page
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_product_list_paginates(client, catalog):
    # given: 13 products on sale (10 per page)
    for i in range(8):
        on_sale_product(name=f"分页意外险{i}", code=f"page-accident-{i}", line=LineOfBusiness.ACCIDENT)
    # when
    first = html(client.get("/products/", {"sort": "price_asc"}))
    second = html(client.get("/products/", {"sort": "price_asc", "page": "2"}))
    # then
    assert "共找到 13 款产品" in first
    assert first.count('class="card product-card"') == 10
    assert second.count('class="card product-card"') == 3
    assert "page=2" in first and 'aria-current="page" class="pagination__current">2<' in second


def test_rankings_cheapest_for_profile_uses_the_rating_engine(client, catalog):
    # when: a 30-year-old man, medical line
    response = client.get("/rankings/", {"tab": "cheapest", "age": "30", "sex": "M", "line": "medical"})
    # then: zhongan (rate 1.3/万) < pingan (1.5/万) < cpic (1.8/万, fixed ¥200万)
    page = html(response).split("该被保险人保费最低的产品", 1)[1]
    assert (
        page.index("众安尊享e生医疗险") < page.index("平安e生保百万医疗") < page.index("太平洋蓝医保长期医疗")
    )
    # ¥100万 × 1.3/万 × 1.05 (male) = ¥136.50
    assert "¥136.50" in page


def test_rankings_cheapest_leaves_out_products_the_profile_cannot_buy(client, catalog):
    # when: 68 is above pingan's (65) and zhongan's (60) maximum age
    page = html(client.get("/rankings/", {"tab": "cheapest", "age": "68", "sex": "F", "line": "medical"}))
    # then
    ranked = page.split("该被保险人保费最低的产品", 1)[1]
    assert "太平洋蓝医保长期医疗" in ranked
    assert "平安e生保百万医疗" not in ranked and "众安尊享e生医疗险" not in ranked


def test_product_page_shows_plans_coverages_terms_and_documents(client, catalog):
    # when
    response = client.get("/products/pingan-e-sheng-bao/")
    # then
    page = html(response)
    assert response.status_code == 200
    assert "平安健康保险股份有限公司" in page
    assert "一般医疗200万，重疾医疗400万，0免赔" in page
    assert 'role="tab"' in page and "基础版" in page and "升级版" in page
    assert "质子重离子医疗保险金" in page  # only in the upgraded plan's table
    assert "¥200万" in page and "¥1万" in page  # sum insured, deductible
    assert "100%" in page and "30天" in page  # ratio, waiting period
    assert "保证续保6年" in page and "15天" in page  # renewal, cooling-off
    assert "住院绿通" in page
    assert "/products/pingan-e-sheng-bao/documents/terms/" in page
    assert 'name="age"' in page and 'name="sum_insured"' in page and "获取报价" in page
    assert "加入对比" in page


def test_unknown_product_is_404(client, catalog):
    assert client.get("/products/no-such-thing/").status_code == 404


def test_document_page_highlights_key_clauses(client, catalog):
    # when
    page = html(client.get("/products/pingan-e-sheng-bao/documents/terms/"))
    # then
    assert "重要条款，请仔细阅读" in page
    assert '<mark class="key-clause" id="clause-0">因被保险人酒后驾驶' in page
    assert 'href="#clause-1"' in page


# --- Compare ------------------------------------------------------------------------------------


def test_compare_highlights_rows_that_differ(client, catalog):
    # when
    response = client.get("/compare/", {"codes": ",".join(MEDICAL)})
    # then
    page = html(response)
    assert response.status_code == 200
    by_label = {
        label: kind
        for kind, label in re.findall(r'<tr class="(differs|same)"[^>]*>\s*<th scope="row">([^<]+)<', page)
    }
    assert by_label["免赔额"] == "differs"  # ¥1万, ¥1万, 0
    assert by_label["赔付比例"] == "differs"  # 100%, 100%, 80%
    assert by_label["保险公司"] == "differs"
    assert by_label["保障期限"] == "same"  # 1年 for all three
    assert by_label["一般医疗保险金"] == "differs"  # ¥200万 / ¥300万 / ¥200万


def test_compare_aligns_coverages_by_name(client, catalog):
    # when: only the upgraded plan of pingan has 质子重离子, but the recommended (basic) plan is shown
    page = html(client.get("/compare/", {"codes": "pingan-e-sheng-bao,zhongan-zun-xiang-e-sheng"}))
    # then: one row per coverage name, one cell per product
    row = re.search(r'<th scope="row">重大疾病医疗保险金.*?</tr>', page, re.S)
    assert row and row.group(0).count("<td>") == 2
    assert "¥400万" in row.group(0) and "¥600万" in row.group(0)


def test_compare_tray_refuses_a_fifth_product(client, catalog):
    # given: four products in the tray
    codes = [*MEDICAL, "zhongan-accident"]
    for code in codes:
        client.post("/compare/tray/add/", {"code": code}, HTTP_HX_REQUEST="true")
    # when
    response = client.post("/compare/tray/add/", {"code": "pingan-kids-travel"}, HTTP_HX_REQUEST="true")
    # then
    assert "对比栏最多放4款产品，请先移除一款再添加。" in html(response)
    assert client.session["compare_codes"] == codes
    compare = html(client.get("/compare/"))
    assert compare.count('class="compare-table__product"') == 4


def test_compare_tray_without_htmx_redirects_with_a_message(client, catalog):
    # given
    for code in [*MEDICAL, "zhongan-accident"]:
        client.post("/compare/tray/add/", {"code": code})
    # when
    response = client.post(
        "/compare/tray/add/", {"code": "pingan-kids-travel", "next": "/products/"}, follow=True
    )
    # then
    assert response.redirect_chain[-1][0] == "/products/"
    assert "对比栏最多放4款产品" in html(response)


def test_compare_refuses_five_codes_in_the_url(client, catalog):
    response = client.get(
        "/compare/", {"codes": ",".join([*MEDICAL, "zhongan-accident", "pingan-kids-travel"])}
    )
    assert response.status_code == 400
    assert "一次最多对比4款产品。" in html(response)


def test_compare_with_one_product_asks_for_more(client, catalog):
    page = html(client.get("/compare/", {"codes": "cpic-lan-yi-bao"}))
    assert "请至少添加两款产品进行对比" in page


# --- Quotes -------------------------------------------------------------------------------------


def test_quote_preview_returns_the_premium_without_saving(client, catalog):
    # when: ¥100万, age 30 (band 18: 1.5 per ¥1万), male (× 1.05) → 100 × 1.5 × 1.05
    response = client.post(
        "/products/pingan-e-sheng-bao/quote/preview/", quote_inputs(), HTTP_HX_REQUEST="true"
    )
    # then
    page = html(response)
    assert response.status_code == 200
    assert 'data-premium="157.50"' in page
    assert Quote.objects.count() == 0


def test_quote_preview_premium_rises_with_sum_insured(client, catalog):
    low = html(
        client.post("/products/pingan-e-sheng-bao/quote/preview/", quote_inputs(sum_insured="1000000"))
    )
    high = html(
        client.post("/products/pingan-e-sheng-bao/quote/preview/", quote_inputs(sum_insured="3000000"))
    )
    premium = lambda page: Decimal(re.search(r'data-premium="([\d.]+)"', page).group(1))  # noqa: E731
    assert premium(high) > premium(low)


def test_quote_preview_shows_the_age_error_next_to_the_age_field(client, catalog):
    # when: 80 is above the maximum age of 65
    response = client.post(
        "/products/pingan-e-sheng-bao/quote/preview/", quote_inputs(age="80"), HTTP_HX_REQUEST="true"
    )
    # then
    page = html(response)
    error = re.search(r'<p class="field__error" id="err-age"[^>]*>([^<]*)</p>', page)
    assert error and "65" in error.group(1) and "年龄" in error.group(1)
    assert "data-premium" not in page
    assert re.search(r'id="err-sum_insured"[^>]*></p>', page)  # other fields stay clean


def test_quote_preview_shows_a_sum_insured_error_inline(client, catalog):
    response = client.post("/products/pingan-e-sheng-bao/quote/preview/", quote_inputs(sum_insured="9000000"))
    error = re.search(r'id="err-sum_insured"[^>]*>([^<]+)</p>', html(response))
    assert error and "保额" in error.group(1)


def test_get_quote_saves_it_and_explains_the_steps(client, catalog):
    # when
    response = client.post("/products/pingan-e-sheng-bao/quote/", quote_inputs(), HTTP_HX_REQUEST="true")
    # then
    page = html(response)
    quote = Quote.objects.get()
    assert quote.premium == Decimal("157.50")
    assert str(quote.id) in page
    assert "保费计算步骤" in page and "基础保费" in page and "性别系数" in page


def test_get_quote_without_htmx_renders_the_quote_page(client, catalog):
    response = client.post("/products/pingan-e-sheng-bao/quote/", quote_inputs(age="80"))
    page = html(response)
    assert response.status_code == 422
    assert re.search(r'id="err-age"[^>]*>[^<]*65', page)
    assert Quote.objects.count() == 0


def test_quote_form_has_spec_inputs(client, catalog):
    # the travel product's pricing spec declares trip_days
    page = html(client.get("/products/pingan-kids-travel/quote/"))
    assert 'name="trip_days"' in page and "出行天数" in page


def test_the_quote_form_asks_age_and_sex_only_when_the_price_or_the_eligibility_uses_them(client, catalog):
    # given: a 交强险 priced by the vehicle (no age limit), an accident product with age limits
    # priced by the sum insured only, and a medical product priced by age and sex
    compulsory = on_sale_product(line=LineOfBusiness.AUTO_COMPULSORY, eligibility={"occupation_classes": []})
    accident = on_sale_product()
    # when / then
    page = html(client.get(f"/products/{compulsory.code}/quote/"))
    assert 'name="age"' not in page and 'name="birth_date"' not in page and 'name="sex"' not in page
    page = html(client.get(f"/products/{accident.code}/quote/"))
    assert 'name="age"' in page and 'name="sex"' not in page
    page = html(client.get("/products/pingan-e-sheng-bao/quote/"))
    assert 'name="age"' in page and 'name="sex"' in page
    # and the 交强险 is priced without them
    preview = html(
        client.post(
            f"/products/{compulsory.code}/quote/preview/",
            {"plan": "basic", "term": "1y", "payment_mode": "single"},
        )
    )
    assert "data-premium=" in preview


def test_compare_buttons_show_added_for_products_in_the_tray_and_take_them_out_again(client, catalog):
    # given: one product in the tray
    client.post("/compare/tray/add/", {"code": MEDICAL[0]})
    # when: the results page is loaded again
    page = html(client.get("/products/?line=medical"))
    # then: its button says 已加入对比 (and would take it out), the others 加入对比
    added = re.search(rf'<button[^>]*data-compare="{MEDICAL[0]}"[^>]*>([^<]*)<', page)
    other = re.search(rf'<button[^>]*data-compare="{MEDICAL[1]}"[^>]*>([^<]*)<', page)
    assert added and added.group(1) == "已加入对比" and 'value="remove"' in added.group(0)
    assert other and other.group(1) == "加入对比" and 'value="add"' in other.group(0)
    # when: that button is used (without htmx)
    response = client.post("/compare/tray/add/", {"code": MEDICAL[0], "op": "remove", "next": "/products/"})
    # then: the product left the tray
    assert response.status_code == 302 and client.session["compare_codes"] == []


def test_the_compare_page_has_a_buy_button_per_product(client, catalog):
    page = html(client.get("/compare/", {"codes": ",".join(MEDICAL[:2])}))
    for code in MEDICAL[:2]:
        assert page.count(f'href="/products/{code}/quote/"') == 2  # under its name and under the table


# --- Preferences and languages ------------------------------------------------------------------


def test_elder_mode_toggles_the_body_class(client, catalog):
    # given
    assert '<body class=""' in html(client.get("/"))
    # when
    response = client.post("/preferences/elder-mode/", {"enabled": "1", "next": "/products/"})
    # then
    assert response.status_code == 302 and response["Location"] == "/products/"
    assert response.cookies["elder_mode"].value == "1"
    assert '<body class="elder"' in html(client.get("/"))
    # and off again
    client.post("/preferences/elder-mode/", {"enabled": "0"})
    assert '<body class=""' in html(client.get("/"))


def test_elder_mode_refuses_foreign_redirects(client, catalog):
    response = client.post("/preferences/elder-mode/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_default_language_is_chinese_and_english_switch_works(client, catalog):
    # given
    assert "先比一比，再投保" in html(client.get("/"))
    # when
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    # then
    assert response.status_code == 302
    page = html(client.get("/"))
    assert '<html lang="en">' in page
    assert "Compare first, then insure" in page and "先比一比" not in page


def test_pages_show_no_raw_id_or_mobile_numbers(client, catalog):
    # given: a customer-service mobile in an insurer's description must never be a page's content
    urls = [
        "/",
        "/products/",
        "/products/pingan-e-sheng-bao/",
        "/products/pingan-e-sheng-bao/documents/terms/",
        f"/compare/?codes={','.join(MEDICAL)}",
        "/rankings/?tab=cheapest&age=30&sex=M&line=medical",
    ]
    for url in urls:
        # when
        page = html(client.get(url))
        # then
        assert not _ID_RE.search(page), url
        assert not _PHONE_RE.search(page), url


def test_quote_accepts_a_date_of_birth_instead_of_an_age(client, catalog):
    # given: 30 years and a half old today (band 18-40: 1.5 per ¥1万)
    born = datetime.date.today() - datetime.timedelta(days=int(30.5 * 365))
    data = quote_inputs(age="", birth_date=born.isoformat(), sex="F")
    # when
    page = html(client.post("/products/pingan-e-sheng-bao/quote/preview/", data))
    # then: ¥100万 × 1.5 per ¥1万 × 1.00 (female)
    assert 'data-premium="150.00"' in page


def test_quote_without_age_or_birth_date_asks_for_the_age(client, catalog):
    page = html(client.post("/products/pingan-e-sheng-bao/quote/preview/", quote_inputs(age="")))
    assert re.search(r'id="err-age"[^>]*>请填写被保险人年龄<', page)


def test_htmx_history_restore_gets_the_whole_page(client, catalog):
    response = client.get(
        "/products/", {"line": "travel"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in html(response) and "平安境外旅行险" in html(response)


@pytest.mark.parametrize(
    "url",
    ["/", "/products/?line=medical", "/products/pingan-e-sheng-bao/", f"/compare/?codes={','.join(MEDICAL)}"],
)
def test_pages_use_a_bounded_number_of_queries(client, catalog, django_assert_max_num_queries, url):
    # given: the search index is built and the session exists
    client.get(url)
    # when / then: the query count does not grow with the number of products, plans or coverages
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
