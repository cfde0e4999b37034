"""The sandbox gateway delivers its notifications through Django's test client; no injected
failures unless a test asks."""

from __future__ import annotations

import pytest
from django.test import Client

from huibao.billing import services as billing_services
from huibao.payment.tests.factories import client_transport
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox_payment


@pytest.fixture(autouse=True)
def _sandbox(settings, monkeypatch):
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    sandbox_payment.MANDATE_FAULTS.force(0)
    yield
    sandbox_payment.MANDATE_FAULTS.force(0)


class Listener:
    def __init__(self) -> None:
        self.events: list[object] = []

    def __call__(self, event: object) -> None:
        self.events.append(event)


@pytest.fixture
def heard():
    hooks = {
        "paid": billing_services.instalment_paid,
        "overdue": billing_services.instalment_overdue,
        "failed": billing_services.collection_failed,
        "lapsed": billing_services.schedule_lapsed,
        "reinstated": billing_services.schedule_reinstated,
    }
    listeners = {name: Listener() for name in hooks}
    for name, hook in hooks.items():
        hook.register("policy", listeners[name])
    yield listeners
    for name, hook in hooks.items():
        hook.unregister("policy", listeners[name])
