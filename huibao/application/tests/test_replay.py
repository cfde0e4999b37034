"""Replay (可回溯): the timeline of a real application built through the services, the chain proof
(and what tampering does to it), the evidence exports and who may open them, and retention."""

from __future__ import annotations

import datetime
import hashlib
import json
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.application import retention
from huibao.application.evidence import trace
from huibao.application.evidence.describe import format_duration, format_money
from huibao.application.evidence.export import evidence, export_json, export_pdf, render_json
from huibao.application.evidence.masked import masked_data
from huibao.application.evidence.proof import chain_proof
from huibao.application.evidence.timeline import timeline
from huibao.application.evidence.trace import record_page_view
from huibao.application.evidence.verification import verify_evidence, verify_export
from huibao.application.models import Application
from huibao.application.selectors import REFERENCE_KIND, key_clauses, required_documents
from huibao.application.services.close import cancel, expire_applications
from huibao.application.services.confirm import agree_terms, confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import confirm_clause, finish_reading, open_document, show_clause
from huibao.application.services.identity import verify_identity
from huibao.application.services.invitation import claim_invitation, invite_customer
from huibao.application.services.pay import pay
from huibao.application.services.referral import decide_case
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.catalog.models import Document
from huibao.catalog.services import document_sha256
from huibao.core import audit
from huibao.core.models import AuditEntry
from huibao.esign import pdf as esign_pdf
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.tests.ink import write

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "Sturdy-pass-2026"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Huibao-test"


class Clock:
    """Moves `timezone.now()` by hand, so steps are as far apart as the test says."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = timezone.now().replace(microsecond=0)
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """A private CA per test (no key touches var/) and no page versions cached from other tests."""
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    esign_pdf._signer.cache_clear()
    esign_pdf._validation_context_roots.cache_clear()
    trace._page_versions.clear()
    yield
    esign_pdf._signer.cache_clear()
    esign_pdf._validation_context_roots.cache_clear()
    trace._page_versions.clear()


def customer_request(user, ip="203.0.113.9"):
    request = RequestFactory().post("/apply/", REMOTE_ADDR=ip, HTTP_USER_AGENT=UA)
    request.user = user
    return request


def traceable_product():
    """Three documents with their real content hashes, a key clause, 30 s reading, handwriting."""
    product = f.simple_product(rules={"signature": "handwritten"}, min_read_seconds=30, one_document=False)
    f.distinct_clauses(product)
    for doc in Document.objects.filter(version=product.current_version):
        doc.content_sha256 = document_sha256(doc.title, doc.body, doc.key_clauses)
        doc.save(update_fields=["content_sha256"])
    return product


def walk_to_issued(clock: Clock, product, user) -> Application:
    """The whole flow as the customer does it, with the time each step takes."""
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification

    app, payment = walk_to_payment(clock, product, user)
    clock.advance(30)
    applicant = Application.objects.get(pk=app.pk)
    headers, body = notification(
        payment, payer_name=applicant.applicant_name, payer_id=applicant.applicant_id_number
    )
    assert payment_services.handle_notification("sandbox", headers, body).code == "succeeded"
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED
    return app


def walk_to_payment(clock: Clock, product, user):
    """The flow up to the payment opened (identity checked, documents read, signed)."""
    req = customer_request(user)
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user, request=req)
    clock.advance(40)
    d = f.data()
    save_data(app, d, actor=user, request=req)
    clock.advance(20)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user, request=req)
    clock.advance(15)
    app = confirm(app, user=user, request=req)
    for seconds, doc in zip((62, 45, 31), required_documents(app), strict=True):
        clock.advance(2)
        open_document(app, doc.pk, user=user, request=req)
        clock.advance(seconds)
        finish_reading(app, doc.pk, scrolled_to_end=True, user=user, request=req)
    for doc, clause in key_clauses(app):
        clock.advance(3)
        show_clause(app, doc.pk, clause["code"], user=user, request=req)
        clock.advance(8)
        confirm_clause(app, doc.pk, clause["code"], user=user, request=req)
    clock.advance(25)
    sign(app, user=user, ink=write("王小明"), request=req)
    clock.advance(10)
    payment = pay(app, user=user, request=req)
    return app, payment


@pytest.fixture
def product():
    return traceable_product()


@pytest.fixture
def user():
    return f.customer()


@pytest.fixture
def issued(clock, product, user) -> Application:
    return walk_to_issued(clock, product, user)


def staff_client(client, username: str, roles: list[str]):
    """A back-office session: password and a verified TOTP device, as after the real log-in."""
    sync_roles()
    staff = create_staff_user(username, STAFF_PASSWORD, roles)
    device = enrol_totp(staff)
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return staff


@contextmanager
def tampering():
    """Raw SQL on the audit table, past the model guards and (on PostgreSQL) the trigger."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER ALL")
        try:
            yield cursor
        finally:
            if postgres:
                cursor.execute("ALTER TABLE core_auditentry ENABLE TRIGGER ALL")


# --- timeline -------------------------------------------------------------------------------------


def test_timeline_has_every_step_in_chain_order_with_readable_texts(issued) -> None:
    # when
    steps = timeline(issued)
    texts = [s.description for s in steps]
    # then: chain order, every object of the application
    assert [s.seq for s in steps] == sorted(s.seq for s in steps)
    assert {s.object_type for s in steps} >= {"application", "payment", "identity_check", "policy"}
    policy = issued.policies.get()
    premium = format_money(issued.total_premium)
    expected_in_order = [
        "发起投保（官网）：测试意外险",
        "填写投保信息",
        "实名核验服务返回：一致",
        "实名认证：一致",
        "确认投保信息，自动核保结论：标准体承保",
        "打开《保险条款》",
        "阅读《保险条款》用时62秒（要求≥30秒）",
        "打开《投保须知》",
        "阅读《投保须知》用时45秒（要求≥30秒）",
        "打开《责任免除》",
        "阅读《责任免除》用时31秒（要求≥30秒）",
        "单独展示重要条款：责任免除",
        "逐条确认：责任免除",
        "手写签名（投保人）",
        "签署完成，生成电子投保单",
        f"创建支付单 {premium}",
        f"发起支付 {premium}",
        f"支付成功 {premium}",
        f"出单：保单号{policy.number}",
    ]
    positions = [texts.index(t) for t in expected_in_order]
    assert positions == sorted(positions), texts


def test_timeline_actors_ip_pages_and_durations(issued, user) -> None:
    steps = timeline(issued)
    by_text = {}
    for s in steps:
        by_text.setdefault(s.description, s)  # the first of each (three clauses read alike)
    read = by_text["阅读《保险条款》用时62秒（要求≥30秒）"]
    # the reading step: the customer, from their phone, 62 s after opening the document
    assert (read.actor_kind, read.actor) == ("customer", "客户")
    assert read.ip == "203.0.113.9" and read.user_agent == UA
    assert read.seconds_since_previous == 62 and read.since_previous == "1分02秒"
    assert read.page == "application/document.html" and read.page_label == "阅读文件"
    # ...and the exact document version shown, whose text still matches the recorded hash
    doc = read.document
    assert doc is not None and doc.title == "保险条款" and doc.version_number == 1
    assert doc.product_name == "测试意外险" and doc.text_matches
    assert doc.recorded_sha256 == Document.objects.get(pk=doc.document_id).content_sha256
    clause = by_text["逐条确认：责任免除"]
    assert clause.clause is not None and clause.clause.text == "酒后驾驶不赔。" and clause.clause.text_matches
    assert clause.seconds_since_previous == 8 and "条款展示8秒后确认" in clause.details
    # payment and issuance are the system's
    paid = next(s for s in steps if s.action == "payment.succeeded")
    assert paid.actor_kind == "system" and paid.seconds_since_previous is not None
    # the handwritten signature image is there, matching the hash recorded when signing
    signed = by_text["手写签名（投保人）"]
    assert signed.signature is not None and signed.signature.kept
    assert (
        hashlib.sha256(signed.signature.image_png_b64.encode()).hexdigest() == signed.signature.image_sha256
    )
    # data steps name the digest; the last confirmation is the current data
    confirmed = next(s for s in steps if s.action == "application.confirmed")
    assert confirmed.data_digest == issued.confirmed_digest and confirmed.data_is_current is True
    # elapsed time adds up
    assert steps[-1].seconds_since_start == (steps[-1].occurred_at - steps[0].occurred_at).total_seconds()
    assert steps[-1].seconds_since_start >= 40 + 20 + 15 + 62 + 45 + 31 + 25 + 10 + 30


def test_a_changed_document_text_shows_on_the_replay(issued) -> None:
    # given a document edited after the customer read it (behind the catalog's back)
    terms = Document.objects.get(version=issued.items.get().product_version, kind="terms")
    Document.objects.filter(pk=terms.pk).update(body="第一条 保险责任（改）")
    # then the replay says the text kept is not the text shown
    read = next(s for s in timeline(issued) if s.description.startswith("阅读《保险条款》"))
    assert read.document is not None and not read.document.text_matches


def test_agent_started_application_names_the_agent_and_masks_the_data(clock, product, user) -> None:
    from huibao.account.models import User, UserKind

    agent = User.objects.create_user(username="agent7", password="x", kind=UserKind.STAFF)
    app = start_application(quote_ids=[f.quote(product).pk], started_by=agent)
    d = f.data()
    save_data(app, d, actor=agent)
    invitation = invite_customer(app, agent=agent)
    clock.advance(120)
    claim_invitation(invitation.token, user=user)
    steps = timeline(app)
    assert [(s.actor, s.description) for s in steps[:4]] == [
        ("代理人", "发起投保（代理人）：测试意外险"),
        ("代理人", "填写投保信息（代理人录入，须客户本人确认）"),
        ("代理人", "代理人生成投保邀请链接，由客户本人完成投保"),
        ("客户", "客户本人打开代理人的投保邀请链接"),
    ]
    assert steps[3].since_previous == "2分00秒"
    rows = dict(row for section in masked_data(app) for row in section.rows)
    assert (
        rows["姓名"] == "王**"
        and rows["证件号码"] == d.applicant.id_number[:3] + "*" * 11 + d.applicant.id_number[-4:]
    )
    assert d.applicant.id_number not in json.dumps(evidence(app), ensure_ascii=False)


def test_referred_application_shows_the_underwriter_and_the_terms_agreed(clock, user) -> None:
    # given a product that refers an applicant who was in hospital
    question = {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True}
    product = f.simple_product(
        health_questions=[question], underwriting={"questions": {"hospitalised": {"on_yes": "refer"}}}
    )
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    d = f.data(answers={"hospitalised": True})
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    assert app.status == ApplicationStatus.REFERRED
    # when an underwriter accepts with a loading an hour later, and the customer agrees
    sync_roles()
    underwriter = create_staff_user("uw_wang", STAFF_PASSWORD, ["underwriter"])
    clock.advance(3600)
    case = app.items.get().cases.get()
    decide_case(
        case, decision="accept_with_terms", underwriter=underwriter, reasons="住院已痊愈", loading_percent=50
    )
    clock.advance(300)
    agree_terms(app, user=user)
    # then
    steps = timeline(app)
    lines = [(s.actor, s.description) for s in steps]
    referred = lines.index(("客户", "自动核保（第1项）：转人工核保"))
    decided = lines.index(("核保员", "人工核保决定（第1项）：加费/除外承保"))
    agreed = lines.index(("客户", "同意核保条件（加费/除外责任）"))
    assert referred < decided < agreed
    assert steps[decided].since_previous == "1小时00分"
    assert "加费50.00%" in steps[decided].details and "决定理由：住院已痊愈" in steps[decided].details
    assert "第1项：加费50.00%" in steps[agreed].details
    data = evidence(app)
    assert data["underwriting_cases"][0]["decision"] == "accept_with_terms"
    assert data["underwriting_cases"][0]["decided_by"] == underwriter.pk


def test_format_duration_and_money() -> None:
    assert [format_duration(s) for s in (None, 0.2, 5, 62, 3600 + 61, 90000)] == [
        "",
        "不足1秒",
        "5秒",
        "1分02秒",
        "1小时01分",
        "1天1小时",
    ]
    assert format_money(Decimal("128.5")) == "¥128.50"


# --- chain proof ----------------------------------------------------------------------------------


def test_chain_proof_of_an_untouched_application_verifies(issued) -> None:
    proof = chain_proof(issued)
    assert proof.ok and proof.entries_ok and proof.chain.ok and proof.problems == ()
    assert len(proof.entries) == len(timeline(issued))
    assert all(p.recomputed_hash == p.entry_hash for p in proof.entries)


def test_an_altered_entry_is_reported_by_the_chain_proof(issued) -> None:
    # given the reading time of a step rewritten in the database once sealed (as after the commits)
    audit.seal_pending()
    entry = AuditEntry.objects.get(
        object_id=str(issued.public_id), action="application.document_read", after__title="保险条款"
    )
    forged = {**entry.after, "seconds_open": 300}
    cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    with tampering() as cursor:
        cursor.execute(
            f'UPDATE core_auditentry SET "after" = {cast} WHERE seq = %s', [json.dumps(forged), entry.seq]
        )
    # when
    proof = chain_proof(issued)
    # then the entry and the whole chain fail, naming the entry
    assert not proof.ok
    bad = [p for p in proof.entries if not p.hash_ok]
    assert [p.seq for p in bad] == [entry.seq]
    assert proof.chain.first_bad_seq == entry.seq and proof.chain.problem.startswith("altered")
    assert any(f"第{entry.seq}条" in p for p in proof.problems)
    # and an export made now carries the failed proof
    data = evidence(issued)
    assert data["chain_proof"]["ok"] is False
    assert verify_evidence(data) == [f"entry {entry.seq}: hash mismatch"]


# --- exports --------------------------------------------------------------------------------------


def test_json_export_is_complete_and_verifies_on_its_own(issued, user) -> None:
    # when
    data = export_json(issued, actor="auditor-test")
    data = json.loads(render_json(data))
    # then every entry is there with its hash, and recomputing them finds nothing wrong
    steps = timeline(issued)
    exported = [e for e in steps if e.action == "application.evidence_exported"]
    assert [e["seq"] for e in data["entries"]] == [s.seq for s in steps if s not in exported]
    assert verify_evidence(data) == []
    assert data["chain_proof"]["ok"] is True
    # documents with their texts and hashes, payments and policies as facts
    titles = {d["title"]: d for d in data["documents"]}
    assert set(titles) == {"保险条款", "投保须知", "责任免除"}
    assert titles["保险条款"]["body"] == "第一条 保险责任……" and titles["保险条款"]["text_matches"] is True
    assert data["payments"][0]["status"] == "succeeded" and data["payments"][0]["amount"] == str(
        issued.total_premium
    )
    assert data["policies"][0]["number"] == issued.policies.get().number
    assert data["signatures"][0]["image_png_b64"]
    # a forged field in the file is found
    data["entries"][0]["ip"] = "198.51.100.1"
    assert verify_evidence(data) == [f"entry {data['entries'][0]['seq']}: hash mismatch"]


def test_a_json_export_is_verified_against_the_audit_chain(issued) -> None:
    # given an export as the auditor received it
    raw = render_json(export_json(issued, actor="auditor-test"))
    assert verify_export(issued, raw) == []
    data = json.loads(raw)
    # a changed byte outside the entries (a fact, the timeline) is found by the recorded file hash
    changed = raw.replace(b'"status": "succeeded"', b'"status": "refunded"', 1)
    assert changed != raw
    assert any("not that of any recorded export" in p for p in verify_export(issued, changed))
    # an entry removed from the file (its neighbours not consecutive in the chain) is found
    dropped = json.loads(raw)
    gone = dropped["entries"].pop(len(dropped["entries"]) // 2)
    problems = verify_export(issued, render_json(dropped))
    assert f"entry {gone['seq']}: in the audit chain but missing from the file" in problems
    # an entry rewritten with its hash recomputed (consistent on its own) is found against the chain
    first = data["entries"][0]
    first["ip"] = "198.51.100.1"
    first["entry_hash"] = audit.compute_entry_hash(
        AuditEntry(
            **{
                k: (datetime.datetime.fromisoformat(v) if k in ("occurred_at", "sealed_at") and v else v)
                for k, v in first.items()
                if k != "entry_hash"
            }
        )
    )
    problems = verify_export(issued, render_json(data))
    assert f"entry {first['seq']}: differs from the audit chain" in problems


def test_pdf_export_is_signed_and_kept(issued) -> None:
    pdf = export_pdf(issued, actor="auditor-test")
    check = esign_pdf.verify_pdf(pdf)
    assert check.valid and check.intact and check.trusted, check.problems
    kept = SignedDocument.objects.get(kind=SignedDocumentKind.EVIDENCE, reference=issued.number)
    assert kept.sha256 == hashlib.sha256(pdf).hexdigest()
    entry = AuditEntry.objects.filter(action="application.evidence_exported").latest("id")
    assert entry.after["format"] == "pdf" and entry.after["sha256"] == kept.sha256


# --- back office ----------------------------------------------------------------------------------


def test_auditor_opens_the_replay_with_masked_data_documents_and_signature(client, issued) -> None:
    staff_client(client, "audit_zhao", ["auditor"])
    url = reverse("admin:application_application_replay", args=[issued.pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "阅读《保险条款》用时62秒（要求≥30秒）" in html and "逐条确认：责任免除" in html
    assert "校验通过" in html
    assert "第一条 保险责任……" in html  # the exact text in a collapsible block
    assert 'src="data:image/png;base64,' in html  # the handwritten signature
    assert "王**" in html and issued.applicant_id_number not in html and "王小明" not in html
    assert "13900001111" not in html
    # the changelist finds it by number and masks the applicant
    listing = client.get(reverse("admin:application_application_changelist"), {"q": issued.number})
    assert listing.status_code == 200 and issued.number in listing.content.decode()
    assert "王小明" not in listing.content.decode()
    # a full ID number finds it through the keyed hash
    by_id = client.get(reverse("admin:application_application_changelist"), {"q": issued.applicant_id_number})
    assert issued.number in by_id.content.decode()


def test_auditor_exports_are_recorded_with_the_auditor_and_file_hash(client, issued) -> None:
    auditor = staff_client(client, "audit_qian", ["auditor"])
    url = reverse("admin:application_application_replay_json", args=[issued.pk])
    assert client.get(url).status_code == 405  # exports are POSTs, never a prefetchable link
    response = client.post(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert verify_evidence(json.loads(response.content)) == []
    entry = AuditEntry.objects.filter(action="application.evidence_exported").latest("id")
    assert entry.object_id == str(issued.public_id) and entry.actor_id == auditor.pk
    assert entry.after["sha256"] == hashlib.sha256(response.content).hexdigest()
    # the export shows on the replay, by the auditor
    last = timeline(issued)[-1]
    assert (last.actor, last.description) == ("审计人员", "导出回溯证据（JSON）")
    pdf = client.post(reverse("admin:application_application_replay_pdf", args=[issued.pk]))
    assert pdf.status_code == 200 and esign_pdf.verify_pdf(pdf.content).valid


def test_document_and_page_versions_can_be_opened(client, issued, user) -> None:
    staff_client(client, "audit_sun", ["auditor"])
    page = "admin/application/application/replay_page.html"
    record_page_view(issued, page, request=customer_request(user))
    step = timeline(issued)[-1]
    assert step.page_version_stored and step.description == "查看页面：" + page
    source = client.get(
        reverse("admin:application_application_replay_page", args=[issued.pk, step.page_version])
    )
    assert source.status_code == 200 and "page-source" in source.content.decode()
    terms = next(s.document for s in timeline(issued) if s.document and s.document.title == "保险条款")
    doc = client.get(
        reverse("admin:application_application_replay_document", args=[issued.pk, terms.document_id])
    )
    assert doc.status_code == 200 and "第一条 保险责任……" in doc.content.decode()
    # a page version never shown for this application is not served
    missing = client.get(reverse("admin:application_application_replay_page", args=[issued.pk, "0" * 64]))
    assert missing.status_code == 404


@pytest.mark.parametrize("roles", [["customer_service"], ["claims_adjuster"], []])
def test_staff_without_the_permission_cannot_replay_or_export(client, issued, roles) -> None:
    staff_client(client, "cs_without_perm", roles)
    before = AuditEntry.objects.filter(action="application.evidence_exported").count()
    assert client.get(reverse("admin:application_application_replay", args=[issued.pk])).status_code == 403
    assert (
        client.post(reverse("admin:application_application_replay_json", args=[issued.pk])).status_code == 403
    )
    assert (
        client.post(reverse("admin:application_application_replay_pdf", args=[issued.pk])).status_code == 403
    )
    assert (
        client.post(reverse("admin:application_application_replay_verify", args=[issued.pk])).status_code
        == 403
    )
    assert AuditEntry.objects.filter(action="application.evidence_exported").count() == before


def test_customers_and_unverified_staff_never_reach_the_replay(client, issued, user) -> None:
    url = reverse("admin:application_application_replay", args=[issued.pk])
    client.force_login(user)
    assert client.get(url).status_code == 302
    sync_roles()
    auditor = create_staff_user("audit_li", STAFF_PASSWORD, ["auditor"])
    client.force_login(auditor)  # password only, no TOTP
    response = client.get(url)
    assert response.status_code == 302 and reverse("admin:login") in response.url


# --- retention ------------------------------------------------------------------------------------


def _closed_application(product, user, *, retention_until, status="cancelled") -> Application:
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    if status == "cancelled":
        cancel(app, user=user)
    Application.objects.filter(pk=app.pk).update(retention_until=retention_until)
    app.refresh_from_db()
    return app


def test_purge_deletes_only_what_is_past_retention_and_keeps_the_audit(product, user) -> None:
    today = timezone.localdate()
    gone = _closed_application(product, user, retention_until=today - datetime.timedelta(days=1))
    kept = _closed_application(product, user, retention_until=today + datetime.timedelta(days=1))
    today_kept = _closed_application(product, user, retention_until=today)
    still_open = _closed_application(
        product, user, retention_until=today - datetime.timedelta(days=10), status="draft"
    )
    # a dry run lists and deletes nothing
    out = call_command_output("purge_expired_records", "--dry-run")
    assert f"可删除 {gone.number}" in out and f"保留 {still_open.number}" in out
    assert kept.number not in out and today_kept.number not in out
    assert Application.objects.filter(pk=gone.pk).exists()
    entries_before = AuditEntry.objects.filter(object_id=str(gone.public_id)).count()
    # the real run deletes the one past retention only
    out = call_command_output("purge_expired_records")
    assert f"已删除 {gone.number}" in out
    assert not Application.objects.filter(pk=gone.pk).exists()
    assert Application.objects.filter(pk__in=[kept.pk, today_kept.pk, still_open.pk]).count() == 3
    # its audit entries stay, with the purge recorded
    entries = AuditEntry.objects.filter(object_id=str(gone.public_id))
    assert entries.count() == entries_before + 1 and entries.latest("id").action == "application.purged"


def test_an_application_within_retention_refuses_deletion(clock, product, user) -> None:
    app = _closed_application(product, user, retention_until=timezone.localdate())
    today = timezone.localdate()
    kept_until = retention.retention_until_for(app)  # five years after it was cancelled
    assert kept_until is not None and (kept_until.year, kept_until.month) == (today.year + 5, today.month)
    with pytest.raises(ValueError):
        app.delete()
    assert retention.purge() == []
    # ... and goes the day after its retention date
    clock.advance(24 * 3600)
    assert [(c.number, c.deletable) for c in retention.purge()] == [(app.number, True)]
    assert not Application.objects.filter(pk=app.pk).exists()


def test_an_unissued_application_is_kept_five_years_from_when_it_closed(clock, product, user) -> None:
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    # untouched for 40 days, then it closes: the date is computed as the status moves, before
    # the move is saved (`updated_at` still says 40 days ago)
    clock.advance(40 * 24 * 3600)
    app.refresh_from_db()
    app.status = ApplicationStatus.CANCELLED
    closed = timezone.localdate()
    assert retention.retention_until_for(app) == closed.replace(year=closed.year + 5)


def test_an_issued_application_is_kept_while_it_has_policies(issued) -> None:
    Application.objects.filter(pk=issued.pk).update(
        retention_until=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert retention.retention_until_for(issued) == issued.policies.get().retention_until
    results = retention.purge()
    assert [(c.number, c.deletable) for c in results] == [(issued.number, False)]
    assert "仍有保单记录" in results[0].reason
    assert Application.objects.filter(pk=issued.pk).exists()


def _expired_with_records(clock: Clock, product, user, *, retention_until: datetime.date) -> Application:
    """An application that got as far as paying: identity checked, a face check that failed, the
    form signed and on file, an evidence file exported, the payment failed; then it expired."""
    from huibao.identity import services as identity_services
    from huibao.identity.tests import factories as identity_factories
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification

    app, payment = walk_to_payment(clock, product, user)
    app.refresh_from_db()
    headers, body = notification(
        payment, status="failed", payer_name=app.applicant_name, payer_id=app.applicant_id_number
    )
    assert payment_services.handle_notification("sandbox", headers, body).code == "failed"
    face = identity_services.start_face_check(
        name=app.applicant_name,
        id_number=app.applicant_id_number,
        reference_kind=REFERENCE_KIND,
        reference_id=str(app.public_id),
        return_url="/apply/face/done/",
    )
    headers, body = identity_factories.notification(face, result="failed", reason="not_live")
    identity_services.handle_face_notification("sandbox", headers, body)
    if app.application_form_id is None:
        from huibao.application.documents import render_application_form

        render_application_form(app)
    export_pdf(app, actor="auditor-test")
    clock.advance(30 * 24 * 3600)
    expire_applications()
    app.refresh_from_db()
    assert app.status == ApplicationStatus.EXPIRED
    Application.objects.filter(pk=app.pk).update(retention_until=retention_until)
    app.refresh_from_db()
    return app


def _related_rows(app: Application) -> dict[str, int]:
    """Every record kept elsewhere because of `app`, counted the way `retention.PURGED_KINDS` names them."""
    from huibao.identity.models import FaceCheck, FaceProviderNotification, IdentityCheck
    from huibao.payment.models import Payment, PaymentEvent, ProviderNotification, Refund
    from huibao.underwriting.models import UnderwritingCase

    linked = {"reference_kind": REFERENCE_KIND, "reference_id": str(app.public_id)}
    payments = Payment.objects.filter(**linked)
    faces = FaceCheck.objects.filter(**linked)
    return {
        "payments": payments.count(),
        "payment_events": PaymentEvent.objects.filter(payment__in=payments).count(),
        "refunds": Refund.objects.filter(payment__in=payments).count(),
        "payment_notifications": ProviderNotification.objects.filter(payment__in=payments).count(),
        "identity_checks": IdentityCheck.objects.filter(**linked).count(),
        "face_checks": faces.count(),
        "face_notifications": FaceProviderNotification.objects.filter(face_check__in=faces).count(),
        "underwriting_cases": UnderwritingCase.objects.filter(item__application=app).count(),
        "signed_documents": SignedDocument.objects.filter(reference=app.number).count(),
    }


def test_purge_deletes_the_records_kept_elsewhere_because_of_the_application(clock, product, user) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    gone = _expired_with_records(clock, product, user, retention_until=yesterday)
    # another application, closed the same way but kept until today: nothing of it goes
    other_user = f.customer("13900002222")
    kept = _expired_with_records(clock, product, other_user, retention_until=yesterday)
    Application.objects.filter(pk=kept.pk).update(retention_until=timezone.localdate())  # the last day
    before = _related_rows(gone)
    for kind in ("payments", "payment_events", "payment_notifications", "identity_checks", "face_checks"):
        assert before[kind] >= 1, kind
    assert before["face_notifications"] == 1 and before["signed_documents"] == 2  # the form, the evidence
    assert list(before) == list(retention.PURGED_KINDS)
    kept_before = _related_rows(kept)
    assert kept_before["payments"] and kept_before["identity_checks"] and kept_before["signed_documents"]

    # a dry run reports the counts per kind and deletes nothing
    [candidate] = retention.purge_candidates()
    assert candidate.number == gone.number and candidate.deletable and dict(candidate.counts) == before
    out = call_command_output("purge_expired_records", "--dry-run")
    assert f"可删除 {gone.number}" in out and kept.number not in out
    assert f"支付记录 {before['payments']}" in out and f"实名认证记录 {before['identity_checks']}" in out
    assert _related_rows(gone) == before

    out = call_command_output("purge_expired_records")
    assert f"已删除 {gone.number}" in out
    assert f"人脸识别记录 {before['face_checks']}" in out and "电子投保单及回溯证据文件 2" in out
    assert not Application.objects.filter(pk=gone.pk).exists()
    assert set(_related_rows(gone).values()) == {0}
    # the other application and everything kept for it are untouched
    assert Application.objects.filter(pk=kept.pk).exists() and _related_rows(kept) == kept_before
    # one audit entry for the purge, with the counts and no personal data
    entry = AuditEntry.objects.filter(object_id=str(gone.public_id)).latest("id")
    assert entry.action == "application.purged" and entry.actor_label == retention.PURGE_ACTOR
    assert entry.after["deleted"] == before and entry.after["number"] == gone.number
    text = json.dumps(entry.after, ensure_ascii=False)
    assert gone.applicant_name not in text and gone.applicant_id_number not in text
    assert audit.verify_chain().ok


def test_purge_keeps_an_application_whose_payment_still_holds_money(clock, product, user) -> None:
    from huibao.payment.models import Payment

    app = _expired_with_records(
        clock, product, user, retention_until=timezone.localdate() - datetime.timedelta(days=1)
    )
    # e.g. paid after the application expired, and not (yet) refunded
    Payment.objects.filter(reference_id=str(app.public_id)).update(status="succeeded", paid_at=timezone.now())
    before = _related_rows(app)
    results = retention.purge()
    assert [(c.number, c.deletable) for c in results] == [(app.number, False)]
    assert "仍有未结清的支付记录" in results[0].reason
    assert Application.objects.filter(pk=app.pk).exists() and _related_rows(app) == before


def call_command_output(*args) -> str:
    import io

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_auditor_verifies_a_returned_evidence_file_against_the_chain(client, issued) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    staff_client(client, "audit_zhou", ["auditor"])
    exported = client.post(reverse("admin:application_application_replay_json", args=[issued.pk])).content
    url = reverse("admin:application_application_replay_verify", args=[issued.pk])
    replay_page = client.get(
        reverse("admin:application_application_replay", args=[issued.pk])
    ).content.decode()
    assert url in replay_page  # the form is on the replay
    # the file as exported: verified
    same = client.post(url, {"evidence": SimpleUploadedFile("e.json", exported, "application/json")})
    assert same.status_code == 200 and 'data-verified="true"' in same.content.decode()
    # one character changed in it: refused, with the reason
    changed = exported.replace(b'"status"', b'"statuz"', 1)
    assert changed != exported
    bad = client.post(url, {"evidence": SimpleUploadedFile("e.json", changed, "application/json")})
    assert bad.status_code == 422 and 'data-verified="false"' in bad.content.decode()
    # no file, or a GET: nothing checked
    assert client.post(url).status_code == 422
    assert client.get(url).status_code == 405
