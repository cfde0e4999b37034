"""A renewal keeps the seller of the policy it renews (on the renewal suite's isolated platform:
a private CA, the sandbox gateway notifying through the test client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huibao.distribution.tests import factories as f
from huibao.policy.models import Policy
from huibao.renewal.tests import test_payments as renewal
from huibao.sandbox.tests.platform import isolated_platform

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def _session_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("distribution-var")


@pytest.fixture(autouse=True)
def _isolated(settings, monkeypatch, _session_var_dir: Path) -> Iterator[None]:
    yield from isolated_platform(settings, monkeypatch, _session_var_dir)


def test_a_renewal_keeps_the_seller_of_the_policy_it_renews():
    # given a renewable policy sold by a sub-channel
    units = f.tree()
    offer = renewal.offered()
    Policy.objects.filter(pk=offer.policy.pk).update(seller=units["SUB"])
    # when it is renewed
    renewed = renewal.renew_now(offer)
    # then the renewal is the same sub-channel's
    assert renewed.seller_id == units["SUB"].pk
