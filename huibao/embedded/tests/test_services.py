"""Embedded sale: one call issues good sales, refuses bad ones each on its own, answers a
repeated order with its policy, in a number of statements that does not grow with the sales."""

from __future__ import annotations

import dataclasses
import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huibao.catalog.models import Document, LineOfBusiness
from huibao.core.errors import ValidationFailed
from huibao.core.models import AuditEntry
from huibao.embedded import rules, services
from huibao.embedded.models import ChannelPremiumBatch, EmbeddedSaleEvidence
from huibao.embedded.rules import ShownDocument
from huibao.embedded.tests import factories as f
from huibao.policy import services as policy_services
from huibao.policy.models import Policy, PolicyParty, PolicyStatusChange
from huibao.policy.states import Channel, PartyRole, PolicyStatus

pytestmark = pytest.mark.django_db


def codes(outcome):
    return {(e.field, e.code) for e in outcome.errors}


def test_a_good_sale_is_issued_with_its_evidence_and_the_spec_premium():
    # given
    product = f.return_shipping()
    channel = f.channel()
    sale = f.sale(product, order_amount="199", plan_code="plus")
    # when
    [outcome] = services.issue(channel, [sale])
    # then: accepted, priced by the spec (order band 100 → 1.00, plan factor 2)
    assert outcome.accepted and not outcome.errors and not outcome.replayed
    assert outcome.premium == Decimal("2.00")
    policy = Policy.objects.get(number=outcome.policy_number)
    assert policy.verification_code == outcome.verification_code
    assert policy.channel == Channel.PARTNER
    assert policy.seller_id == channel.pk
    assert policy.application_id is None and policy.item_id is None and policy.customer_id is None
    assert policy.holder_id_hash == sale.identity_ref == policy.insured_id_hash
    assert policy.insured_name == "张三"
    assert policy.premium == Decimal("2.00")
    assert policy.sum_insured == Decimal("20.00")
    assert policy.status == PolicyStatus.IN_FORCE  # same-day cover
    assert policy.expires_at - policy.effective_at == datetime.timedelta(days=15)
    assert policy.product_version_id == product.current_version_id
    roles = set(PolicyParty.objects.filter(policy=policy).values_list("role", flat=True))
    assert roles == {PartyRole.HOLDER, PartyRole.INSURED}
    assert PolicyStatusChange.objects.filter(policy=policy, reason="issued").count() == 1
    # the evidence: canonical JSON and its digest, under the call's premium batch
    evidence = EmbeddedSaleEvidence.objects.get(policy=policy)
    assert evidence.order_ref == sale.order_ref and evidence.channel_id == channel.pk
    assert evidence.digest == rules.digest(evidence.canonical)
    document = json.loads(evidence.canonical)
    assert document["documents"] == [{"id": d.id, "sha256": d.sha256} for d in sale.documents]
    assert document["identity_ref"] == sale.identity_ref
    assert document["page_version"] == "checkout-2026.12.1"
    assert document["premium"] == "2.00"
    assert document["subject"] == {"order_number": sale.scenario["order_number"]}
    assert "张三" not in evidence.canonical
    batch = evidence.premium_batch
    assert batch.policy_count == 1 and batch.premium_total == Decimal("2.00")
    # one chain entry for the call (the seal of its Merkle root), none per policy
    seal = batch.evidence_seal
    assert (seal.kind, seal.batch_ref, seal.size, seal.root) == (
        services.EVIDENCE_KIND,
        batch.batch_ref,
        1,
        batch.evidence_root,
    )
    assert AuditEntry.objects.filter(action="evidence.seal", object_id=str(seal.pk)).count() == 1
    assert not AuditEntry.objects.filter(action="policy.issued", object_id=policy.number).exists()
    # the policy is found by the public verification, and recovery renders no e-policy for it
    assert policy_services.policy_by_number_and_code(policy.number, policy.verification_code) == policy
    assert policy.pk not in policy_services.missing_epolicies()


def test_the_issued_hook_carries_the_batch_totals():
    # given
    product = f.return_shipping()
    channel = f.channel()
    heard = []
    services.embedded_issued.register(heard.append)
    try:
        # when
        services.issue(channel, [f.sale(product, order_amount="50"), f.sale(product, order_amount="150")])
    finally:
        services.embedded_issued.unregister(heard.append)
    # then
    [event] = heard
    assert event.policy_count == 2 and event.premium_total == Decimal("1.50")
    assert event.channel == channel and len(event.issued) == 2
    assert ChannelPremiumBatch.objects.get(batch_ref=event.batch_ref).premium_total == Decimal("1.50")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("stale_hash", ("documents[0].sha256", "hash_mismatch")),
        ("old_document", ("documents[0].id", "not_current")),
        ("missing_document", ("documents", "missing_document")),
        ("future_consent", ("consent_at", "in_future")),
        ("old_consent", ("consent_at", "too_old")),
        ("premium_above_max", ("premium", "above_max_premium")),
        ("bad_identity", ("identity_ref", "invalid_format")),
        ("unknown_plan", ("plan_code", "unknown_plan")),
        ("unknown_field", ("scenario.colour", "unknown_field")),
        ("bad_subject", ("scenario.order_number", "invalid_format")),
        ("bad_input", ("scenario.order_amount", "out_of_range")),
        ("unknown_product", ("product_code", "not_on_sale")),
    ],
)
def test_each_refusal_reason(change, expected):
    # given
    product = f.return_shipping()
    channel = f.channel()
    good = f.sale(product)
    now = timezone.now()
    docs = list(good.documents)
    if change == "stale_hash":
        docs[0] = ShownDocument(docs[0].id, "0" * 64)
        bad = dataclasses.replace(good, documents=tuple(docs))
    elif change == "old_document":
        docs[0] = ShownDocument(999_999, docs[0].sha256)
        bad = dataclasses.replace(good, documents=tuple(docs))
    elif change == "missing_document":
        bad = dataclasses.replace(good, documents=tuple(docs[1:]))
    elif change == "future_consent":
        bad = dataclasses.replace(good, consent_at=now + datetime.timedelta(minutes=5))
    elif change == "old_consent":
        bad = dataclasses.replace(good, consent_at=now - datetime.timedelta(minutes=31))
    elif change == "premium_above_max":  # 5000+ band: 12.00 > 10.00
        bad = dataclasses.replace(good, scenario={**good.scenario, "order_amount": "6000"})
    elif change == "bad_identity":
        bad = dataclasses.replace(good, identity_ref="110101199003074514")
    elif change == "unknown_plan":
        bad = dataclasses.replace(good, plan_code="gold")
    elif change == "unknown_field":
        bad = dataclasses.replace(good, scenario={**good.scenario, "colour": "red"})
    elif change == "bad_subject":
        bad = dataclasses.replace(good, scenario={**good.scenario, "order_number": "x"})
    elif change == "bad_input":
        bad = dataclasses.replace(good, scenario={**good.scenario, "order_amount": "0"})
    else:
        bad = dataclasses.replace(good, product_code="no-such-product")
    # when: the bad sale beside a good one
    outcomes = services.issue(channel, [bad, f.sale(product)], now=now)
    # then: the bad one refused with its reason, the good one issued
    assert not outcomes[0].accepted and expected in codes(outcomes[0]), outcomes[0].errors
    assert not outcomes[0].policy_number
    assert outcomes[1].accepted
    assert Policy.objects.count() == 1
    assert not EmbeddedSaleEvidence.objects.filter(order_ref=bad.order_ref).exists()


def test_a_document_of_a_retired_version_is_not_current():
    # given: the version's documents, then a new version published with new documents
    product = f.return_shipping()
    channel = f.channel()
    old = f.shown(product)
    product.current_version.documents.update(body="新条款")
    Document.objects.filter(version=product.current_version).update(content_sha256="a" * 64)
    # when
    [outcome] = services.issue(channel, [f.sale(product, documents=old)])
    # then
    assert not outcome.accepted
    assert ("documents[0].sha256", "hash_mismatch") in codes(outcome)


def test_a_product_not_allowing_embedded_sale_is_refused():
    # given: one without the terms, one switched off
    without = f.return_shipping(embedded={"allowed": False})
    channel = f.channel()
    # when
    [outcome] = services.issue(channel, [f.sale(without)])
    # then
    assert ("product_code", "embedded_not_allowed") in codes(outcome)


def test_a_non_scenario_product_is_refused_even_when_its_rules_say_allowed():
    # given: an accident product (not ride-sharing) whose rules claim embedded sale
    product = f.return_shipping(line=LineOfBusiness.ACCIDENT)
    channel = f.channel()
    # when
    [outcome] = services.issue(channel, [f.sale(product)])
    # then
    assert ("product_code", "embedded_not_allowed") in codes(outcome)


def test_a_channel_whose_licence_does_not_cover_the_line_is_refused():
    product = f.return_shipping()
    channel = f.channel(lines=("flight_delay",))
    [outcome] = services.issue(channel, [f.sale(product)])
    assert not outcome.accepted
    assert ("product_code", "licence_not_covering") in codes(outcome)


def test_only_a_channel_may_call_and_at_most_a_thousand_sales():
    from huibao.distribution.tests.factories import unit

    product = f.return_shipping()
    agency = unit("HQX", "agency")
    with pytest.raises(ValidationFailed) as exc:
        services.issue(agency, [f.sale(product)])
    assert exc.value.errors[0].code == "not_a_channel"
    channel = f.channel()
    with pytest.raises(ValidationFailed) as exc:
        services.issue(channel, [f.sale(product)] * 1001)
    assert exc.value.errors[0].code == "too_many"


def test_a_repeated_order_ref_answers_the_same_policy():
    # given
    product = f.return_shipping()
    channel = f.channel()
    sale = f.sale(product)
    [first] = services.issue(channel, [sale])
    # when: the same order again — later, with its consent now too old — and twice in one call
    later = timezone.now() + datetime.timedelta(hours=2)
    [again] = services.issue(channel, [sale], now=later)
    twice = services.issue(channel, [f.sale(product, order_ref="ORD-T"), f.sale(product, order_ref="ORD-T")])
    # then
    assert again.accepted and again.replayed
    assert again.policy_number == first.policy_number and again.premium == first.premium
    assert twice[0].accepted and twice[1].accepted and twice[1].replayed
    assert twice[0].policy_number == twice[1].policy_number
    assert Policy.objects.count() == 2
    # another channel's same order reference is its own order
    [other] = services.issue(f.channel(), [sale])
    assert other.accepted and not other.replayed and other.policy_number != first.policy_number


def _issue_queries(channel, product, n):
    docs = {}
    sales = [f.sale(product, docs_cache=docs) for _ in range(n)]
    # every fifth row bad (stale document hash), judged alone
    for i in range(0, n, 5):
        bad_docs = (ShownDocument(sales[i].documents[0].id, "f" * 64), *sales[i].documents[1:])
        sales[i] = dataclasses.replace(sales[i], documents=bad_docs)
    with CaptureQueriesContext(connection) as ctx:
        outcomes = services.issue(channel, sales)
    return outcomes, len(ctx.captured_queries)


def test_a_thousand_sales_good_and_bad_in_a_constant_number_of_queries():
    # given: the product's caches warm (one call first)
    product = f.return_shipping()
    channel = f.channel()
    services.issue(channel, [f.sale(product)])
    # when
    _small, small_queries = _issue_queries(channel, product, 10)
    large, large_queries = _issue_queries(channel, product, 1000)
    # then: each judged alone
    assert [o.accepted for o in large] == [i % 5 != 0 for i in range(1000)]
    assert all(("documents[0].sha256", "hash_mismatch") in codes(o) for o in large[::5])
    assert len({o.policy_number for o in large if o.accepted}) == 800
    assert Policy.objects.count() == 1 + 8 + 800
    assert ChannelPremiumBatch.objects.order_by("-id").first().policy_count == 800
    # and the statements do not grow with the number of sales
    assert large_queries == small_queries, (small_queries, large_queries)
    # (18 on SQLite: the call's own 13 — the revision counters read instead of the product,
    # plan and agreement reads, no seal pre-checks — finance's posting 5; PostgreSQL adds the
    # order locks and counts the COPY of the leaves: 20)
    assert large_queries <= 20, large_queries


def test_embedded_terms_are_validated_on_import_by_line():
    from huibao.catalog import rules as catalog_rules

    allowed = {"embedded_sale": {"allowed": True, "max_premium": "5.00"}}
    assert catalog_rules.embedded_sale_problems("return_shipping", [], allowed) == []
    assert catalog_rules.embedded_sale_problems("accident", ["ride_hailing"], allowed) == []
    [problem] = catalog_rules.embedded_sale_problems("medical", [], allowed)
    assert problem.code == "not_scenario_product"
    [problem] = catalog_rules.embedded_sale_problems(
        "flight_delay", [], {"embedded_sale": {"allowed": True, "max_premium": "0"}}
    )
    assert problem.field == "application_rules.embedded_sale.max_premium"
    terms = catalog_rules.embedded_sale_terms(allowed)
    assert terms is not None and terms.max_premium == Decimal("5.00") and terms.consent_max_age_minutes == 30


def test_event_triggered_policies_are_indexed_for_automatic_payouts():
    from huibao.claim.event_models import TriggerIndex
    from huibao.claim.triggers_rules import order_key

    # given: a return-shipping product paying on the order's return
    product = f.return_shipping()
    version = product.current_version
    version.claims = {"trigger": {"kind": "return_shipping"}}
    version.save(update_fields=["claims"])
    channel = f.channel()
    sale = f.sale(product)
    # when
    [outcome] = services.issue(channel, [sale])
    # then
    [row] = TriggerIndex.objects.filter(policy__number=outcome.policy_number)
    assert row.key == order_key(sale.scenario["order_number"])
    assert row.insured.role == PartyRole.INSURED


def test_embedded_terms_are_refused_on_import_for_a_non_scenario_product():
    from huibao.catalog import io

    data = {
        "product": {"code": "x", "name": "意外险", "insurer": "i", "line": "medical"},
        "version": {"application_rules": {"embedded_sale": {"allowed": True, "max_premium": "5"}}},
        "plans": [],
        "documents": [],
    }
    problems = io.content_errors(data)
    assert [(p.field, p.code) for p in problems] == [
        ("$.version.application_rules.embedded_sale.allowed", "not_scenario_product")
    ]


def test_each_policy_s_evidence_is_proven_against_the_chain_and_a_change_fails():
    from huibao.core import evidence as core_evidence

    # given: a call of three policies
    product = f.return_shipping()
    channel = f.channel()
    outcomes = services.issue(channel, [f.sale(product) for _ in range(3)])
    number = outcomes[1].policy_number
    stored = EmbeddedSaleEvidence.objects.get(policy__number=number)
    # when
    proof = core_evidence.prove(services.EVIDENCE_KIND, number)
    # then: the proof holds, for this evidence's digest, under the call's root
    assert core_evidence.check_proof(proof).ok
    assert proof["digest"] == stored.digest == rules.digest(stored.canonical)
    assert proof["root"] == stored.premium_batch.evidence_root and proof["size"] == 3
    # and evidence changed afterwards no longer matches what the chain proves
    changed = json.loads(stored.canonical)
    changed["premium"] = "0.01"
    assert rules.digest(rules.canonical_json(changed)) != proof["digest"]
    tampered = dict(proof, digest=rules.digest(rules.canonical_json(changed)))
    assert not core_evidence.check_proof(tampered).ok


def test_finance_books_the_channel_s_premium_receivable_per_batch():
    from huibao.finance import accounts, ledger

    # given
    product = f.return_shipping()
    channel = f.channel()
    # when: a call of two policies (1.00 + 3.00)
    services.issue(channel, [f.sale(product, order_amount="199"), f.sale(product, order_amount="1500")])
    # then: the channel owes 4.00, the insurer is owed 4.00
    assert ledger.balance(accounts.premium_receivable(channel)) == Decimal("4.00")
    assert ledger.balance(accounts.premium_payable(product.insurer)) == Decimal("4.00")


def test_the_verification_page_shows_an_embedded_policy(client):
    from django.urls import reverse

    product = f.return_shipping()
    [outcome] = services.issue(f.channel(), [f.sale(product)])
    response = client.get(reverse("policy:verify", args=[outcome.verification_code]))
    assert response.status_code == 200
    assert outcome.policy_number in response.content.decode()
