from __future__ import annotations

import pytest
from django.urls import reverse

from huibao.core.models import AuditEntry
from huibao.notification import selectors, services
from huibao.notification.tests.conftest import ISSUED, make_customer

pytestmark = pytest.mark.django_db


def _issue(user, n=1):
    return services.notify(
        user=user, template="policy.issued", context=ISSUED, dedup_key=f"issued:{user.pk}:{n}", reference="P1"
    )


def test_the_inbox_page_shows_own_messages_in_chinese_with_the_unread_count(client, customer):
    # given
    _issue(customer)
    other = make_customer(email="other@example.com")
    services.notify(
        user=other, template="service.notice", context={"title": "别人的", "text": "秘密"}, dedup_key="o"
    )
    client.force_login(customer)
    # when
    response = client.get("/account/messages/")
    # then
    text = response.content.decode()
    assert response.status_code == 200
    assert "我的消息" in text and "保单已生效：百万医疗险" in text and "1 条未读" in text
    assert "别人的" not in text


def test_marking_read_through_htmx_returns_the_message_without_its_button(client, customer):
    # given
    inbox = _issue(customer)[0]
    client.force_login(customer)
    # when
    response = client.post(reverse("notification:read", args=[inbox.public_id]), HTTP_HX_REQUEST="true")
    # then
    assert response.status_code == 200
    assert "标为已读" not in response.content.decode()
    assert selectors.unread_count(customer) == 0


def test_another_customers_message_cannot_be_marked_read(client, customer):
    inbox = _issue(customer)[0]
    client.force_login(make_customer(email="x@example.com"))
    response = client.post(reverse("notification:read", args=[inbox.public_id]))
    assert response.status_code == 404
    inbox.refresh_from_db()
    assert inbox.read_at is None


def test_read_all(client, customer):
    _issue(customer, 1)
    _issue(customer, 2)
    client.force_login(customer)
    response = client.post(reverse("notification:read_all"))
    assert response.status_code == 302 and selectors.unread_count(customer) == 0


def test_the_preferences_page_turns_marketing_on_and_sms_off(client, customer):
    # given
    client.force_login(customer)
    page = client.get("/account/messages/settings/")
    assert "营销消息" in page.content.decode()
    # when
    response = client.post("/account/messages/settings/", {"email": "on", "marketing": "on"})
    # then
    assert "已保存" in response.content.decode()
    prefs = selectors.preferences_of(customer)
    assert (prefs.email, prefs.sms, prefs.marketing) == (True, False, True)
    assert AuditEntry.objects.filter(action="notification.preferences_changed").exists()


def test_pages_need_a_login(client):
    response = client.get("/account/messages/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_my_account_links_to_the_messages(client, customer):
    client.force_login(customer)
    html = client.get(reverse("account:me")).content.decode()
    assert 'href="/account/messages/"' in html and 'href="/account/messages/settings/"' in html
