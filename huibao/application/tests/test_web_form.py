"""The signed application form (电子投保单) for the customer on the web: `/apply/<id>/form.pdf`, the
owner's only, made on demand once signed, and linked from the done page and the policy page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from huibao.application.models import Application
from huibao.application.services.pay import pay
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _signing_key(settings: Any, tmp_path: Any) -> Iterator[None]:
    from huibao.esign import pdf as esign_pdf

    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    esign_pdf._signer.cache_clear()
    yield
    esign_pdf._signer.cache_clear()


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


def form_url(app: Application) -> str:
    return reverse("application:form_pdf", args=[app.public_id])


def issued(app: Application, user: Any) -> Application:
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification

    payment = pay(app, user=user)
    app.refresh_from_db()
    headers, body = notification(payment, payer_name=app.applicant_name, payer_id=app.applicant_id_number)
    assert payment_services.handle_notification("sandbox", headers, body).code == "succeeded"
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED
    return app


def test_the_owner_downloads_the_signed_form_made_on_demand(customer_client: Client, product, user) -> None:
    # given: a signed application whose form the background task has not made yet
    app = f.to_signed(product, user)
    assert app.application_form_id is None
    # when
    response = customer_client.get(form_url(app))
    # then: made now, stored, and the same document the next time
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    app.refresh_from_db()
    assert app.application_form is not None
    assert response["Content-Disposition"] == f'attachment; filename="{app.application_form.filename}"'
    assert response["Cache-Control"] == "private, no-store"
    again = customer_client.get(form_url(app))
    assert again.content == response.content
    app.refresh_from_db()
    assert app.application_form_id is not None


def test_nobody_else_gets_the_form_and_not_before_signing(customer_client: Client, product, user) -> None:
    from huibao.account.models import User, UserKind

    agent = User.objects.create_user(username="agent9", password="x", kind=UserKind.STAFF)
    app = f.to_signed(product, user)
    # another customer, and anonymous visitors
    other = Client()
    other.force_login(f.customer("13900002222"))
    assert other.get(form_url(app)).status_code == 404
    anonymous = Client().get(form_url(app))
    assert anonymous.status_code == 302 and reverse("account:login") in anonymous["Location"]
    # not signed yet: nothing to download
    draft = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    assert customer_client.get(form_url(draft)).status_code == 404
    # the agent who started an application is not its owner
    started = start_application(quote_ids=[f.quote(product).pk], started_by=agent)
    agent_client = Client()
    agent_client.force_login(agent)
    assert agent_client.get(form_url(started)).status_code == 404
    app.refresh_from_db()
    assert app.application_form_id is None


def test_the_done_page_and_the_policy_page_link_to_the_form(customer_client: Client, product, user) -> None:
    app = issued(f.to_signed(product, user), user)
    done = customer_client.get(reverse("application:done", args=[app.public_id])).content.decode()
    assert f'href="{form_url(app)}"' in done and "下载电子投保单" in done
    policy = app.policies.get()
    page = customer_client.get(reverse("policy:detail", args=[policy.public_id])).content.decode()
    assert f'href="{form_url(app)}"' in page
    assert customer_client.get(form_url(app)).status_code == 200
