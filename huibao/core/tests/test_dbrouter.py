"""The replica router: catalog reads outside a transaction go to the replica, everything else
to the primary; nothing at all without a replica configured."""

import pytest

from huibao.catalog.models import Insurer
from huibao.core import dbrouter
from huibao.policy.models import Policy

router = dbrouter.ReplicaRouter()


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(dbrouter, "replica_configured", lambda: True)


def test_without_a_replica_it_routes_nothing(monkeypatch):
    monkeypatch.setattr(dbrouter, "in_transaction", lambda: False)
    assert not dbrouter.replica_configured()  # the test settings have none
    assert router.db_for_read(Insurer) is None


def test_catalog_reads_outside_a_transaction_go_to_the_replica(with_replica, monkeypatch):
    monkeypatch.setattr(dbrouter, "in_transaction", lambda: False)
    assert router.db_for_read(Insurer) == "replica"
    # a policy is never read from a replica by the router (read then written)
    assert router.db_for_read(Policy) is None


def test_reads_inside_a_transaction_and_all_writes_stay_on_the_primary(with_replica, monkeypatch):
    monkeypatch.setattr(dbrouter, "in_transaction", lambda: True)
    assert router.db_for_read(Insurer) is None
    assert router.db_for_write(Insurer) == "default"
    assert router.allow_migrate("replica", "catalog") is False
    assert router.allow_migrate("default", "catalog") is True


@pytest.mark.django_db
def test_in_a_test_transaction_the_real_check_says_so():
    # django_db wraps each test in a transaction: the router must see it
    assert dbrouter.in_transaction() is True
