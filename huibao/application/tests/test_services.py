"""The application flow through its services: data rules, lock and amendment, reading, clauses,
identity, signatures, payment and issuance, each refusal changing nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from huibao.application.models import Application, ClauseConfirmation, DisclosureReading
from huibao.application.rules import BeneficiaryInput, InsuredInput
from huibao.application.selectors import required_documents
from huibao.application.services.close import cancel, expire_applications
from huibao.application.services.confirm import confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import confirm_clause, finish_reading, open_document, show_clause
from huibao.application.services.identity import verify_identity
from huibao.application.services.invitation import claim_invitation, invite_customer
from huibao.application.services.pay import on_payment_failed, pay, recover_paid_applications
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def fields_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {e.field for e in exc.value.errors}


@pytest.fixture
def product():
    return f.simple_product(min_read_seconds=5)


@pytest.fixture
def user():
    return f.customer()


def started(product, user) -> Application:
    return start_application(quote_ids=[f.quote(product, user).pk], user=user)


def test_start_keeps_version_and_quote(product, user) -> None:
    q = f.quote(product, user)
    app = start_application(quote_ids=[q.pk], user=user)
    item = app.items.get()
    assert item.origin_quote_id == q.pk
    assert item.product_version_id == product.current_version_id
    assert app.total_premium == q.premium
    assert AuditEntry.objects.filter(object_id=str(app.public_id), action="application.started").exists()


def test_invalid_id_checksum_is_refused_naming_the_field_and_nothing_changes(product, user) -> None:
    app = started(product, user)
    valid = f.resident_id(f.years_ago(35))
    bad = valid[:17] + ("0" if valid[17] != "0" else "1")  # right length and dates, wrong check digit
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(applicant_id=bad), actor=user)
    assert "applicant.id_number" in fields_of(exc)
    app.refresh_from_db()
    assert app.applicant_name == "" and app.data_revision == 1
    assert not app.insured_persons.exists()


def test_relation_must_be_allowed_and_fit_the_ages(user) -> None:
    product = f.simple_product(rules={"signature": "confirmation", "insured_relations": ["self", "child"]})
    app = started(product, user)
    spouse = InsuredInput(
        relation="spouse", name="李红", id_number=f.resident_id(f.years_ago(33), male=False)
    )
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=[spouse]), actor=user)
    assert "insured[0].relation" in fields_of(exc)
    # a "child" only five years younger than the applicant
    child = InsuredInput(relation="child", name="王小小", id_number=f.resident_id(f.years_ago(30)))
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=[child]), actor=user)
    assert any(e.code == "relation_age" for e in exc.value.errors)


def test_named_beneficiary_shares_must_add_up_to_100(user) -> None:
    product = f.simple_product(rules={"signature": "confirmation", "beneficiary": "named_allowed"})
    app = started(product, user)
    wife = f.resident_id(f.years_ago(33), male=False)
    son = f.resident_id(f.years_ago(5))
    insured = [
        InsuredInput(
            relation="self",
            beneficiaries=[
                BeneficiaryInput("李红", wife, "spouse", "60"),
                BeneficiaryInput("王小小", son, "child", "30"),
            ],
        )
    ]
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(insured=insured, beneficiary_mode="named"), actor=user)
    assert [e.code for e in exc.value.errors] == ["shares_not_100"]
    assert "90" in exc.value.errors[0].message
    insured[0] = InsuredInput(
        relation="self",
        beneficiaries=[
            BeneficiaryInput("李红", wife, "spouse", "60"),
            BeneficiaryInput("王小小", son, "child", "40"),
        ],
    )
    save_data(app, f.data(insured=insured, beneficiary_mode="named"), actor=user)
    assert sum(b.share_percent for b in app.insured_persons.get().beneficiaries.all()) == Decimal(100)


def test_named_beneficiaries_refused_when_the_product_only_has_legal_heirs(product, user) -> None:
    app = started(product, user)
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(beneficiary_mode="named"), actor=user)
    assert "beneficiary_mode" in fields_of(exc)


def test_health_answers_required_for_each_question(user) -> None:
    product = f.simple_product(
        health_questions=[{"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True}]
    )
    app = started(product, user)
    with pytest.raises(ValidationFailed) as exc:
        save_data(app, f.data(), actor=user)
    assert "insured[0].health_answers.cancer" in fields_of(exc)


def test_confirm_needs_identity_then_locks_and_a_change_sends_it_back(product, user) -> None:
    app = started(product, user)
    d = f.data()
    save_data(app, d, actor=user)
    with pytest.raises(ValidationFailed) as exc:
        confirm(app, user=user)
    assert "identity" in fields_of(exc)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    assert app.status == ApplicationStatus.ACCEPTED and app.is_confirmed
    digest = app.confirmed_digest
    # A change after confirmation: the whole application goes back for confirmation.
    save_data(app, f.data(applicant_id=d.applicant.id_number, name=d.applicant.name), actor=user)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT and not app.is_confirmed and app.confirmed_digest == ""
    assert AuditEntry.objects.filter(object_id=str(app.public_id), action="application.amended").exists()
    app = confirm(app, user=user)
    assert app.confirmed_digest == digest  # same data, same digest


def test_identity_must_be_the_applicant_and_a_mismatch_is_explained(product, user) -> None:
    app = started(product, user)
    d = f.data()
    save_data(app, d, actor=user)
    with pytest.raises(ValidationFailed) as exc:
        verify_identity(app, name="赵六", id_number=d.applicant.id_number, user=user)
    assert exc.value.errors[0].code == "not_applicant"
    # the sandbox registry says "不符" names do not match the ID number
    app2 = started(product, user)
    d2 = f.data(name="王不符")
    save_data(app2, d2, actor=user)
    with pytest.raises(ValidationFailed) as exc:
        verify_identity(app2, name="王不符", id_number=d2.applicant.id_number, user=user)
    assert exc.value.errors[0].code == "mismatch"
    app2.refresh_from_db()
    assert app2.identity_verified_at is None


def test_reading_time_is_checked_on_the_server(product, user) -> None:
    app = started(product, user)
    doc = required_documents(app)[0]
    with pytest.raises(ValidationFailed):
        finish_reading(app, doc.pk, scrolled_to_end=True, user=user)  # never opened
    reading = open_document(app, doc.pk, user=user)
    with pytest.raises(ValidationFailed) as exc:
        finish_reading(app, doc.pk, scrolled_to_end=True, user=user, now=reading.opened_at)
    assert exc.value.errors[0].field == "reading_time" and "还需5秒" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed) as exc:
        finish_reading(
            app,
            doc.pk,
            scrolled_to_end=False,
            user=user,
            now=reading.opened_at + datetime.timedelta(seconds=9),
        )
    assert exc.value.errors[0].field == "scrolled_to_end"
    assert DisclosureReading.objects.get(pk=reading.pk).completed_at is None
    done = finish_reading(
        app, doc.pk, scrolled_to_end=True, user=user, now=reading.opened_at + datetime.timedelta(seconds=6)
    )
    assert done.completed_at is not None and done.seconds_open == 6


def test_key_clauses_are_confirmed_one_by_one_in_order(user) -> None:
    product = f.simple_product()
    doc = product.current_version.documents.get()
    doc.key_clauses = [
        {"code": "excl", "kind": "exclusion", "title": "责任免除", "text": "酒驾不赔"},
        {"code": "wait", "kind": "waiting_period", "title": "等待期", "text": "30天"},
    ]
    doc.save(update_fields=["key_clauses"])
    app = started(product, user)
    # not before the document was read through
    with pytest.raises(ValidationFailed) as exc:
        show_clause(app, doc.pk, "excl", user=user)
    assert exc.value.errors[0].code == "document_not_read"
    assert not ClauseConfirmation.objects.filter(application=app).exists()
    open_document(app, doc.pk, user=user)
    later = timezone.now() + datetime.timedelta(hours=1)
    finish_reading(app, doc.pk, scrolled_to_end=True, user=user, now=later)
    with pytest.raises(ValidationFailed) as exc:
        show_clause(app, doc.pk, "wait", user=user)
    assert exc.value.errors[0].code == "previous_not_confirmed"
    with pytest.raises(ValidationFailed):
        confirm_clause(app, doc.pk, "excl", user=user)  # not shown yet
    show_clause(app, doc.pk, "excl", user=user)
    confirm_clause(app, doc.pk, "excl", user=user)
    show_clause(app, doc.pk, "wait", user=user)
    confirm_clause(app, doc.pk, "wait", user=user)
    assert ClauseConfirmation.objects.filter(application=app, confirmed_at__isnull=False).count() == 2


def test_signing_requires_every_step(product, user) -> None:
    app = started(product, user)
    d = f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    with pytest.raises(ValidationFailed) as exc:
        sign(app, user=user, confirmed=True)
    assert {e.field for e in exc.value.errors} == {"documents", "clauses"}
    f.read_everything(app, user)
    with pytest.raises(ValidationFailed) as exc:
        sign(app, user=user, confirmed=False)
    assert exc.value.errors[0].field == "confirmed"
    app = sign(app, user=user, confirmed=True)
    assert app.status == ApplicationStatus.SIGNED and app.signatures.count() == 1


def test_only_the_customer_acts_never_the_agent(product, user) -> None:
    from huibao.account.models import User, UserKind

    agent = User.objects.create_user(username="agent1", password="x", kind=UserKind.STAFF)
    q = f.quote(product)
    app = start_application(quote_ids=[q.pk], started_by=agent)
    assert app.channel == "agent" and app.customer_id is None
    d = f.data()
    save_data(app, d, actor=agent)
    with pytest.raises(PermissionDenied):
        confirm(app, user=agent)
    invitation = invite_customer(app, agent=agent)
    with pytest.raises(PermissionDenied):
        claim_invitation(invitation.token, user=agent)
    claim_invitation(invitation.token, user=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    assert app.status == ApplicationStatus.ACCEPTED
    # The agent changes a field after the customer confirmed: back to draft, customer re-confirms.
    save_data(app, f.data(applicant_id=d.applicant.id_number), actor=agent)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT and not app.is_confirmed


def test_pay_is_idempotent_and_issues_once(product, user) -> None:
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification

    app = f.to_signed(product, user)
    payment = pay(app, user=user)
    assert pay(app, user=user).pk == payment.pk  # a retry returns the same payment
    d_name = app.applicant_name
    headers, body = notification(
        payment, payer_name=d_name, payer_id=Application.objects.get(pk=app.pk).applicant_id_number
    )
    outcome = payment_services.handle_notification("sandbox", headers, body)
    assert outcome.code == "succeeded", outcome
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED
    assert app.policies.count() == 1
    # the same notification again: no second policy
    payment_services.handle_notification("sandbox", headers, body)
    assert app.policies.count() == 1
    assert recover_paid_applications() == []


def test_payment_by_someone_else_is_refused_and_nothing_issued(product, user) -> None:
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import OTHER_ID, notification

    app = f.to_signed(product, user)
    payment = pay(app, user=user)
    headers, body = notification(payment, payer_name="李四", payer_id=OTHER_ID)
    assert payment_services.handle_notification("sandbox", headers, body).code == "refused"
    app.refresh_from_db()
    # back to signed (nothing is being paid: never "支付中"), nothing issued
    assert app.status == ApplicationStatus.SIGNED and not app.policies.exists()
    # the customer may pay again with their own card: a new payment replaces the refused one
    again = pay(app, user=user)
    assert again.pk != payment.pk


def test_expired_application_cannot_be_paid_and_expires(product, user) -> None:
    app = f.to_signed(product, user)
    Application.objects.filter(pk=app.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(Conflict):
        pay(app, user=user)
    assert expire_applications() == 1
    app.refresh_from_db()
    assert app.status == ApplicationStatus.EXPIRED
    # kept five years from its closing, and the date is stored
    assert app.retention_until is not None
    assert app.retention_until.year - timezone.localdate().year == 5


def _fail(payment) -> None:
    """The gateway tells the platform the payment failed (signed, as the sandbox does)."""
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification

    headers, body = notification(payment, status="failed")
    assert payment_services.handle_notification("sandbox", headers, body).code == "failed"


def test_a_failed_payment_puts_the_application_back_to_signed_and_paying_again_opens_a_new_one(
    product, user
) -> None:
    # given: an application being paid
    app = f.to_signed(product, user)
    payment = pay(app, user=user)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.AWAITING_PAYMENT
    # when: the gateway says the card was declined
    _fail(payment)
    # then: signed again (not "支付中"), the failure in its timeline, and a new payment can be opened
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SIGNED and app.payment_id == payment.pk
    entries = AuditEntry.objects.filter(object_id=str(app.public_id), action="application.payment_failed")
    assert entries.exists()
    again = pay(app, user=user)
    app.refresh_from_db()
    assert again.pk != payment.pk and app.status == ApplicationStatus.AWAITING_PAYMENT


def test_a_failure_of_an_earlier_payment_leaves_the_current_one_alone(product, user) -> None:
    # given: a payment that failed and a second one open
    app = f.to_signed(product, user)
    first = pay(app, user=user)
    _fail(first)
    second = pay(app, user=user)
    # when: the first one's failure is announced again (a late duplicate reaching the hook)
    on_payment_failed(first)
    # then: the application still waits for the second
    app.refresh_from_db()
    assert app.status == ApplicationStatus.AWAITING_PAYMENT and app.payment_id == second.pk


def test_application_whose_payment_failed_expires_when_its_time_is_up(product, user) -> None:
    app = f.to_signed(product, user)
    payment = pay(app, user=user)
    _fail(payment)
    Application.objects.filter(pk=app.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert expire_applications() == 1
    app.refresh_from_db()
    assert app.status == ApplicationStatus.EXPIRED


def test_application_with_an_open_payment_does_not_expire_before_its_payment(product, user) -> None:
    app = f.to_signed(product, user)
    pay(app, user=user)
    Application.objects.filter(pk=app.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert expire_applications() == 0
    app.refresh_from_db()
    assert app.status == ApplicationStatus.AWAITING_PAYMENT
    with pytest.raises(Conflict):
        cancel(app, user=user)  # the customer may still be paying


def test_application_whose_payment_failed_can_be_cancelled(product, user) -> None:
    app = f.to_signed(product, user)
    _fail(pay(app, user=user))
    cancel(app, user=user)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.CANCELLED
    assert app.retention_until is not None and app.retention_until.year - timezone.localdate().year == 5


def test_an_application_past_its_time_is_neither_confirmed_nor_signed(product, user) -> None:
    app = started(product, user)
    d = f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    past = timezone.now() - datetime.timedelta(minutes=1)
    Application.objects.filter(pk=app.pk).update(expires_at=past)
    with pytest.raises(Conflict) as exc:
        confirm(app, user=user)
    assert exc.value.code == "application_expired"
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.DRAFT
    # one brought up to its signature, then past its time
    ready = started(product, user)
    save_data(ready, d, actor=user)
    verify_identity(ready, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    ready = confirm(ready, user=user)
    f.read_everything(ready, user)
    Application.objects.filter(pk=ready.pk).update(expires_at=past)
    with pytest.raises(Conflict) as exc:
        sign(ready, user=user, confirmed=True)
    assert exc.value.code == "application_expired"
    assert not Application.objects.get(pk=ready.pk).signatures.exists()
