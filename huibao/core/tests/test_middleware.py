"""The interface language: Chinese unless the user chose otherwise."""

import pytest


def test_pages_speak_chinese_whatever_the_browser_asks_until_the_user_chooses(client, db):
    # given: a browser that prefers English
    # when
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    # then: Chinese by default
    assert page.headers["Content-Language"] == "zh-hans"
    # when: the user picks English explicitly
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    # then
    assert page.headers["Content-Language"] == "en"


@pytest.mark.django_db
def test_the_chosen_language_ends_with_its_request(client):
    # given a user who chose English
    client.cookies["django_language"] = "en"
    # when a page is served
    page = client.get("/")
    # then it is English, and what runs on the thread afterwards is back to the default
    assert page.headers["Content-Language"] == "en"
    from django.utils import translation

    assert translation.get_language() == "zh-hans"
