"""Issuance: numbered policies with the right dates, sums, schedule, retention, deliveries, audit
and after-commit tasks; idempotent; and the real paid hook of the application flow."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huibao.application.services.issuance import issue_policies
from huibao.application.services.pay import pay
from huibao.application.states import ApplicationStatus
from huibao.core.errors import Conflict
from huibao.core.models import AuditEntry
from huibao.policy import rules, schedule
from huibao.policy.models import (
    InsurerDelivery,
    Policy,
    PolicyBeneficiary,
    PolicyNumberSequence,
    PolicyParty,
)
from huibao.policy.states import DeliveryStatus, PolicyStatus
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


def local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(y, m, d, h, minute))


def test_bundle_issues_one_numbered_policy_per_item_with_dates_and_retention() -> None:
    # given: a bundle — a one-year product (next-day start) and a to-age-70 product of another
    # insurer starting 3 days after payment, paid at 2026-03-10 15:20 Shanghai time
    short = f.product_version(insurer_code="zhongan", name="百万医疗", cooling_off_days=0)
    long = f.product_version(
        insurer_code="pingan-life",
        term_options=[{"code": "to70", "label": "保至70岁", "to_age": 70}, {"code": "life", "to_age": 105}],
        rules={"signature": "confirmation", "effective": {"rule": "days_after_payment", "days": 3}},
        cooling_off_days=20,
    )
    person = f.Person(birth=datetime.date(1990, 8, 1))
    app = f.application(
        [
            (short, person, 1_000_000, "300.00", {"term": "1y"}),
            (long, person, 500_000, "4000.00", {"term": "to70"}),
        ]
    )
    paid = local(2026, 3, 10, 15, 20)
    # when
    with transaction.atomic():
        policies = issue_policies(app, f.payment(paid), now=paid)
    # then
    assert [p.item.position for p in policies] == [1, 2]
    one_year, to70 = policies
    assert one_year.number == "ZHONGA202600000001"
    assert to70.number == "PINGAN202600000001"
    assert timezone.localtime(one_year.effective_at) == local(2026, 3, 11)
    assert timezone.localtime(one_year.expires_at) == local(2027, 3, 11)
    assert one_year.status == PolicyStatus.PENDING_START
    assert one_year.cooling_off_until is None
    assert one_year.retention_until == datetime.date(2032, 3, 11)  # ≤ 1 year: end + 5 years
    assert timezone.localtime(to70.effective_at) == local(2026, 3, 13)
    # 70 on 2060-08-01: the first anniversary on or after it is 2061-03-13
    assert timezone.localtime(to70.expires_at) == local(2061, 3, 13)
    assert to70.retention_until == datetime.date(2071, 3, 13)  # long term: end + 10 years
    assert to70.cooling_off_until == datetime.date(2026, 3, 30)  # 20 days from issue
    app.refresh_from_db()
    assert app.retention_until == to70.retention_until
    assert all(p.customer_id == app.customer_id and p.channel == app.channel for p in policies)
    assert InsurerDelivery.objects.filter(status=DeliveryStatus.PENDING, policy__in=policies).count() == 2


def test_to_age_uses_the_anniversary_after_the_birthday() -> None:
    version = f.product_version(term_options=[{"code": "to70", "label": "保至70岁", "to_age": 70}])
    app = f.application([(version, f.Person(birth=datetime.date(1990, 8, 1)), 500_000, "100.00", {})])
    paid = local(2026, 3, 10, 9, 0)
    with transaction.atomic():
        (policy,) = issue_policies(app, f.payment(paid), now=paid)
    # 70 on 2060-08-01; start 2026-03-11 → first anniversary on or after it: 2061-03-11
    assert timezone.localtime(policy.expires_at) == local(2061, 3, 11)


def test_whole_life_has_no_end_and_is_kept_until_the_insured_would_be_115() -> None:
    version = f.product_version(term_options=[{"code": "life", "label": "保终身", "to_age": 105}])
    app = f.application(
        [(version, f.Person(birth=datetime.date(1990, 8, 1)), 500_000, "100.00", {"term": "life"})]
    )
    (policy,) = f.issue(app)
    assert policy.expires_at is None
    assert policy.retention_until == datetime.date(2105, 8, 1)
    assert json.loads(policy.schedule)["period"].endswith("终身")


def test_same_day_start_is_in_force_at_once() -> None:
    version = f.product_version(rules={"signature": "confirmation", "effective": {"rule": "same_day"}})
    app = f.application([(version, f.Person(), 500_000, "100.00", {})])
    paid = timezone.now() - datetime.timedelta(minutes=1)
    with transaction.atomic():
        (policy,) = issue_policies(app, f.payment(paid))
    assert policy.status == PolicyStatus.IN_FORCE and policy.effective_at == paid


def test_schedule_holds_parties_beneficiaries_coverages_terms_and_clauses() -> None:
    version = f.product_version(insurer_code="taikang-life")
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(60)), ("王二宝", "child", Decimal(40))])
    app = f.application(
        [(version, person, 500_000, "1000.00", {"term": "1y", "payment_mode": "annual"})],
        subject={"plate_number": "沪A12345"},
        loading_percent=30,
        exclusions=["甲状腺结节及其并发症"],
    )
    (policy,) = f.issue(app)
    s = schedule.loads(policy.schedule)
    assert s["holder"]["name"] == f.HOLDER_NAME and s["holder"]["id_number"] == app.applicant_id_number
    assert s["insured"]["name"] == f.INSURED_NAME and s["insured"]["relation_label"] == "配偶"
    assert s["beneficiary_mode"] == "named"
    assert [(b["name"], b["share_percent"]) for b in s["beneficiaries"]] == [
        ("王大宝", "60.00"),
        ("王二宝", "40.00"),
    ]
    # chosen 500,000 of a plan up to 1,000,000: every cover scales by half
    assert [(c["code"], c["sum_insured"]) for c in s["coverages"]] == [
        ("critical", "500000.00"),
        ("moderate", "300000.00"),
        ("death", "500000.00"),
    ]
    assert policy.death_benefit == Decimal("500000.00") and s["death_benefit"] == "500000.00"
    assert s["premium"] == {
        "base": "1000.00",
        "loading_percent": "30",
        "premium": "1300.00",
        "payment_mode": "annual",
        "payment_mode_label": "年交",
        "premium_years": 1,  # a one-year term: 交费期间 1年
    }
    assert s["exclusions"] == ["甲状腺结节及其并发症"]
    assert [c["title"] for c in s["key_clauses"]] == ["责任免除", "等待期"]
    assert s["insurer"]["hotline"] == "95500" and s["hotline"] == "95500"
    assert s["product"]["name"] == "汇保安心重疾险" and s["plan"]["name"] == "标准版"
    # the subject field is not declared by this product: not on its policy
    assert s["subject"] == []
    # the parties' hashes are those underwriting looks up; the stored column is encrypted
    assert policy.insured_id_hash == app.insured_persons.get().id_hash
    assert policy.holder_id_hash == app.applicant_id_hash
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT schedule FROM {Policy._meta.db_table} WHERE id = %s", [policy.pk])
        (raw,) = cursor.fetchone()
    assert app.applicant_id_number not in raw and "王大宝" not in raw


def test_subject_fields_of_the_version_are_copied() -> None:
    version = f.product_version(
        rules={
            "signature": "confirmation",
            "subject": [{"code": "plate_number", "label": "车牌号", "pattern": "^.+$"}],
        }
    )
    app = f.application([(version, f.Person(), 500_000, "100.00", {})], subject={"plate_number": "沪A12345"})
    (policy,) = f.issue(app)
    assert schedule.loads(policy.schedule)["subject"] == [
        {"code": "plate_number", "label": "车牌号", "value": "沪A12345"}
    ]


def test_audit_entry_names_the_policy_and_holds_no_personal_data() -> None:
    policy = f.simple_issued()
    entry = AuditEntry.objects.get(action="policy.issued", object_id=policy.number)
    assert entry.object_type == "policy"
    assert entry.after["number"] == policy.number and entry.after["premium"] == "320.00"
    text = json.dumps(entry.after, ensure_ascii=False)
    app = policy.application
    for secret in (app.applicant_id_number, app.applicant_name, policy.insured_name, "13900001111"):
        assert secret not in text


def test_calling_again_issues_nothing_new() -> None:
    version = f.product_version()
    app = f.application([(version, f.Person(), 500_000, "100.00", {})])
    first = f.issue(app)
    with transaction.atomic():
        again = issue_policies(app, f.payment())
    assert [p.pk for p in again] == [p.pk for p in first]
    assert Policy.objects.filter(application=app).count() == 1
    assert PolicyNumberSequence.objects.get(insurer=version.product.insurer).last == 1
    assert AuditEntry.objects.filter(action="policy.issued").count() == 1


def test_numbers_continue_per_insurer_and_year() -> None:
    version = f.product_version(insurer_code="zhongan")
    numbers = []
    for _ in range(3):
        app = f.application([(version, f.Person(), 500_000, "100.00", {})])
        numbers += [p.number for p in f.issue(app)]
    year = timezone.localdate().year
    assert numbers == [f"ZHONGA{year}{n:08d}" for n in (1, 2, 3)]


def test_two_items_of_one_insurer_take_their_numbers_in_one_statement() -> None:
    # given: a bundle of two products of one insurer, after one policy of that insurer this year
    first = f.product_version(insurer_code="zhongan")
    second = f.product_version(insurer_code="zhongan", name="百万医疗")
    f.issue(f.application([(first, f.Person(), 500_000, "100.00", {})]))
    app = f.application(
        [(first, f.Person(), 500_000, "100.00", {}), (second, f.Person(), 500_000, "200.00", {})]
    )
    # when
    with CaptureQueriesContext(connection) as captured:
        policies = f.issue(app)
    # then: the next two numbers, in item order, from one UPDATE of the sequence row (no read)
    year = timezone.localdate().year
    assert [p.number for p in policies] == [f"ZHONGA{year}{n:08d}" for n in (2, 3)]
    sequence = [q["sql"] for q in captured.captured_queries if "policy_policynumbersequence" in q["sql"]]
    assert len(sequence) == 1 and sequence[0].lstrip().startswith("UPDATE"), sequence
    assert PolicyNumberSequence.objects.get(insurer=first.product.insurer).last == 3


def test_insurers_with_the_same_code_start_get_distinct_prefixes() -> None:
    a = f.product_version(insurer_code="pingan-life")
    b = f.product_version(insurer_code="pingan-health")
    (pa,) = f.issue(f.application([(a, f.Person(), 500_000, "100.00", {})]))
    (pb,) = f.issue(f.application([(b, f.Person(), 500_000, "100.00", {})]))
    assert pa.number.startswith("PINGAN")
    assert not pb.number.startswith("PINGAN") and pb.number.endswith("00000001")
    assert len(pa.number) == len(pb.number) == 18


def test_unpaid_application_is_refused() -> None:
    version = f.product_version()
    app = f.application([(version, f.Person(), 500_000, "100.00", {})], status=ApplicationStatus.SIGNED)
    with pytest.raises(Conflict), transaction.atomic():
        issue_policies(app, f.payment())
    assert not Policy.objects.exists()


def test_rendering_and_delivery_are_enqueued_only_after_commit(django_capture_on_commit_callbacks) -> None:
    from django_tasks_db.models import DBTaskResult

    version = f.product_version()
    app = f.application([(version, f.Person(), 500_000, "100.00", {})])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        f.issue(app)
    assert DBTaskResult.objects.count() == 0  # nothing before the commit
    for callback in callbacks:
        callback()
    names = sorted(DBTaskResult.objects.values_list("task_path", flat=True))
    # with the jobs the listeners of `policies_issued` asked for (finance: the booking)
    assert names == [
        "huibao.finance.tasks.book_issuance",
        "huibao.policy.tasks.deliver_policy",
        "huibao.policy.tasks.render_epolicy_task",
    ]


def test_real_flow_paid_hook_issues_the_policy() -> None:
    # given: an application walked through the real flow up to the signature
    from huibao.application.models import Application
    from huibao.application.tests import factories as af
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification

    product = af.simple_product()
    user = af.customer("13900002222")
    app = af.to_signed(product, user)
    payment = pay(app, user=user)
    stored = Application.objects.get(pk=app.pk)
    headers, body = notification(
        payment, payer_name=stored.applicant_name, payer_id=stored.applicant_id_number
    )
    # when: the gateway's success notification arrives
    outcome = payment_services.handle_notification("sandbox", headers, body)
    # then
    assert outcome.code == "succeeded", outcome
    stored.refresh_from_db()
    policy = stored.policies.get()
    assert stored.status == ApplicationStatus.ISSUED
    assert policy.customer == user and policy.premium == payment.amount
    assert stored.retention_until == policy.retention_until
    assert policy.retention_until == rules.retention_until(
        timezone.localtime(policy.effective_at), timezone.localtime(policy.expires_at), None
    )


# --- the policy's own parties and beneficiaries ----------------------------------------------------


def _raw(table: str, column: str, policy_id: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE policy_id = %s", [policy_id])
        return [row[0] for row in cursor.fetchall()]


def test_parties_and_beneficiaries_are_the_policys_own_rows_encrypted_one_insert_per_table() -> None:
    # given: a bundle of two products for one insured person with two named beneficiaries
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(60)), ("王二宝", "child", Decimal(40))])
    app = f.application(
        [
            (f.product_version(insurer_code="zhongan"), person, 500_000, "300.00", {"term": "1y"}),
            (f.product_version(insurer_code="taikang-life"), person, 500_000, "900.00", {"term": "1y"}),
        ]
    )
    # when
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        policies = issue_policies(app, f.payment())
    # then: holder and insured of each policy, and the beneficiaries, as signed
    insured = app.insured_persons.get()
    for policy in policies:
        parties = {p.role: p for p in PolicyParty.objects.filter(policy=policy)}
        holder = parties["holder"]
        assert (holder.name, holder.id_number) == (f.HOLDER_NAME, app.applicant_id_number)
        assert parties["holder"].id_hash == app.applicant_id_hash == policy.holder_id_hash
        assert (parties["insured"].name, parties["insured"].relation) == (f.INSURED_NAME, "spouse")
        assert parties["insured"].id_number == insured.id_number
        assert parties["insured"].id_hash == insured.id_hash == policy.insured_id_hash
        assert [
            (b.name, b.relation, b.order, b.share_percent, b.id_hash)
            for b in PolicyBeneficiary.objects.filter(policy=policy)
        ] == [(b.name, b.relation, b.order, b.share_percent, b.id_hash) for b in insured.beneficiaries.all()]
        assert policy.beneficiary_mode == "named"
        assert (policy.application_number, policy.application_public_id) == (app.number, app.public_id)
        # encrypted at rest, as the application stores them
        assert app.applicant_id_number not in _raw("policy_policyparty", "id_number", policy.pk)
        assert insured.id_number not in _raw("policy_policyparty", "id_number", policy.pk)
        raw_ids = _raw("policy_policybeneficiary", "id_number", policy.pk)
        assert len(raw_ids) == 2 and all(b.id_number not in raw_ids for b in insured.beneficiaries.all())
    # and the rows of both policies were written with one statement per table
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().startswith("INSERT")]
    assert sum('"policy_policyparty"' in sql for sql in inserts) == 1
    assert sum('"policy_policybeneficiary"' in sql for sql in inserts) == 1


def test_legal_beneficiaries_write_no_beneficiary_rows_and_the_detail_reads_the_policys_rows() -> None:
    # given: an issued policy with legal beneficiaries
    policy = f.simple_issued(f.customer())
    assert policy.beneficiary_mode == "legal" and not PolicyBeneficiary.objects.filter(policy=policy).exists()
    # when the insured's name changes on the policy's own row (as an endorsement will)
    PolicyParty.objects.filter(policy=policy, role="insured").update(name="李四")
    # then the customer's page shows the policy's row, not what the application holds
    from huibao.policy import presenters, selectors

    view = presenters.detail(selectors.policy_for_customer(policy.customer, policy.public_id))
    assert view["insured"]["name"] == "李四" and view["beneficiaries"] == []
    assert view["holder"]["name"] == f.HOLDER_NAME and "*" in view["holder"]["id_number"]


def test_backfill_copies_what_issuance_writes_from_the_application_rows() -> None:
    # given: policies issued (named beneficiaries, legal ones), then their own rows removed, as
    # for a policy issued before the policy kept them
    import importlib

    from django.apps import apps

    migration = importlib.import_module("huibao.policy.migrations.0003_parties_and_references")
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(100))])
    named = f.issue(f.application([(f.product_version(), person, 500_000, "300.00", {"term": "1y"})]))[0]
    legal = f.simple_issued(f.customer())

    def rows(policy: Policy) -> tuple:
        policy.refresh_from_db()
        parties = [
            (p.role, p.name, p.id_number, p.id_hash, p.birth_date, p.sex, p.relation, p.phone, p.email)
            for p in PolicyParty.objects.filter(policy=policy).order_by("role")
        ]
        beneficiaries = [
            (b.name, b.id_number, b.id_hash, b.relation, b.order, b.share_percent)
            for b in PolicyBeneficiary.objects.filter(policy=policy)
        ]
        return (
            policy.application_number,
            policy.application_public_id,
            policy.beneficiary_mode,
            parties,
            beneficiaries,
        )

    issued = {p.pk: rows(p) for p in (named, legal)}
    PolicyBeneficiary.objects.all().delete()
    PolicyParty.objects.all().delete()
    Policy.objects.update(application_number="", application_public_id=None, beneficiary_mode="legal")
    # when
    migration.backfill(apps, None)
    # then
    assert {p.pk: rows(p) for p in (named, legal)} == issued
    assert issued[named.pk][2] == "named" and len(issued[named.pk][4]) == 1
