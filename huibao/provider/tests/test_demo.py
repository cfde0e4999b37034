"""The demo network: 20 providers in eight provinces, the demo provider log-in linked, idempotent."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from huibao.account.demo import create_demo_users
from huibao.provider.demo import DEMO_PROVIDER_CODE, load_providers
from huibao.provider.models import ProviderUser, ServiceProvider, ServiceTask
from huibao.provider.services import find_providers
from huibao.provider.tests import factories as f

pytestmark = pytest.mark.django_db


def test_demo_network_loads_once_and_the_demo_provider_sees_its_tasks(client):
    # given: the demo log-ins (the "provider" role among them)
    logins = {x.role: x for x in create_demo_users()}
    assert "provider" in logins
    # when
    first = load_providers()
    second = load_providers()
    # then
    assert (first.providers_created, second.providers_created) == (20, 0)
    assert ServiceProvider.objects.count() == 20
    assert len({r[:2] for p in ServiceProvider.objects.all() for r in p.regions}) == 8
    link = ProviderUser.objects.get(user__username=logins["provider"].username)
    assert link.provider.code == DEMO_PROVIDER_CODE
    assert ServiceTask.objects.filter(provider=link.provider).count() == 2
    # every demo province has a surveyor
    for region in ("440305", "310101", "110101", "330106", "320505", "510104", "420102", "370202"):
        assert find_providers("survey", region), region
    f.login(client, link.user)
    assert "DEMO-RESCUE-1" in client.get("/provider/").content.decode()


def test_command_without_demo_log_in_loads_providers_only(capsys):
    call_command("load_demo_providers")
    assert ServiceProvider.objects.count() == 20 and not ProviderUser.objects.exists()
    assert "20 providers created" in capsys.readouterr().out
