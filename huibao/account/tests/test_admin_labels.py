"""The admin's apps, models and column headers in the user's language (issue 9, polish): Chinese
for Chinese staff, English in English mode; no migration follows (labels are display only)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.application.tests.factories import simple_product
from huibao.catalog.models import Product

pytestmark = pytest.mark.django_db
HAN = re.compile(r"[\u4e00-\u9fff]")
OUR_APPS = {
    "account", "application", "billing", "catalog", "claim", "core", "fraud", "identity", "jobs",
    "notification", "payment", "policy", "provider", "rating", "renewal", "underwriting",
}  # fmt: skip


def operator(language: str) -> Client:
    sync_roles()
    staff = create_staff_user("ops_labels", "Sturdy-pass-2026", ["operator"])
    device = enrol_totp(staff)
    client = Client(headers={"accept-language": language})
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


COLUMN = re.compile(r'<th scope="col" class="[^"]*column-[^>]*>(.*?)</th>', re.S)


def headers(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in COLUMN.findall(html)]


def test_the_product_list_s_columns_and_the_index_read_chinese_then_english(settings: Any) -> None:
    # given: a product to list
    simple_product()
    # when: a Chinese operator opens the products' list and the admin's index
    zh = operator("zh-hans")
    page = zh.get("/admin/catalog/product/")
    assert page.status_code == 200, page
    columns = headers(page.content.decode())
    index = zh.get("/admin/").content.decode()
    # then: Chinese column names, app and model names
    assert {"代码", "名称", "保险公司", "险种", "状态", "起价"} <= set(columns), columns
    assert "产品目录" in index and "保险公司" in index and "Coverages" not in index
    # when: the same in English mode
    zh.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    columns = headers(zh.get("/admin/catalog/product/").content.decode())
    assert {"Code", "Name", "Insurer", "Line", "Status", "Premium from"} <= set(columns), columns


def test_no_column_of_our_apps_is_left_in_english() -> None:
    from django.utils import translation

    english = []
    with translation.override("zh-hans"):
        for model, model_admin in admin.site._registry.items():
            if model._meta.app_label not in OUR_APPS:
                continue
            if not HAN.search(str(model._meta.verbose_name_plural)):
                english.append(model._meta.label)
            for name in model_admin.list_display:
                label = str(label_for_field(name, model, model_admin))
                if not HAN.search(label) and label != "ID":
                    english.append(f"{model._meta.label}.{name}: {label}")
    assert english == []


def test_the_labels_change_no_migration_state() -> None:
    field = Product._meta.get_field("insurer")
    assert "verbose_name" not in field.deconstruct()[3]
