"""The interface language: Chinese unless the user chose otherwise."""


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
