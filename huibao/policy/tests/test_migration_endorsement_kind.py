"""Migration policy/0010_endorsement_document_kind: the 批单 PDFs stored under the e-policy kind
before esign had one of its own are filed as endorsements (and back, reversed); the e-policies
stay e-policies."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from huibao.account.sms import reset_sms_backends
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.policy import documents, endorsement_documents, endorsements
from huibao.policy.models import InsurerDelivery
from huibao.policy.states import DeliveryKind
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications

BEFORE = [("policy", "0009_status_sweep_indexes")]


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _leaves() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_endorsement_pdfs_filed_as_epolicies_become_endorsements(settings, monkeypatch) -> None:
    # given: a policy's e-policy and the 批单 of an applied change
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    policy = ef.covered_policy()
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    e = ef.confirm(e, policy.customer)
    document = endorsement_documents.render_endorsement(e.pk)
    epolicy = documents.render_epolicy(policy)
    assert document is not None
    # (before 0011 a policy had one delivery: the endorsement's is not part of this story)
    InsurerDelivery.objects.filter(kind=DeliveryKind.ENDORSEMENT).delete()
    try:
        # when: back before 0010 (its reverse files the 批单 as an e-policy, as it was) …
        _migrate(BEFORE)
        kinds = dict(SignedDocument.objects.values_list("pk", "kind"))
        assert kinds[document.pk] == "epolicy" and kinds[epolicy.pk] == "epolicy"
        # … and forward again
        _migrate(_leaves())
    finally:
        _migrate(_leaves())
        reset_sms_backends()

    # then: the 批单 is an endorsement document, the e-policy untouched
    assert SignedDocument.objects.get(pk=document.pk).kind == SignedDocumentKind.ENDORSEMENT
    assert SignedDocument.objects.get(pk=epolicy.pk).kind == SignedDocumentKind.EPOLICY
