"""The applicant's e-mail address is personal data like the phone: encrypted at rest, masked on the
pages, in the back office, the API and the signed application form, and never in the audit chain
or a log in clear."""

from __future__ import annotations

import datetime
import json
import logging

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.application.documents import application_form_sections
from huibao.application.models import Application
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f
from huibao.core import audit
from huibao.core.crypto import key_ring
from huibao.core.models import AuditEntry

EMAIL = "wang@example.com"  # as the factories fill it in
MASKED = "w***@example.com"

pytestmark = pytest.mark.django_db


def raw_email(app: Application) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT applicant_email FROM application_application WHERE id = %s", [app.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def user():
    return f.customer()


@pytest.fixture
def app(user) -> Application:
    product = f.simple_product(min_read_seconds=0)
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    save_data(app, f.data(), actor=user)
    return Application.objects.get(pk=app.pk)


def test_the_email_is_stored_encrypted_and_read_back_in_clear(app) -> None:
    # given an application whose data was saved with an e-mail address
    # when the row is read as stored
    stored = raw_email(app)
    # then the column holds a ciphertext bound to its column, and the model reads the address
    assert stored.startswith("hb1:") and EMAIL not in stored
    assert key_ring().open(stored, context="application.applicant_email") == EMAIL
    assert app.applicant_email == EMAIL


def test_the_audit_chain_never_holds_the_email_in_clear(app) -> None:
    # given the entries the application wrote, and a snapshot of it as the back office records it
    audit.seal_pending()
    entries = AuditEntry.objects.all()
    snapshot = audit.snapshot(app)
    # then no entry and no snapshot carries the address; a snapshot masks it
    assert entries.exists()
    for entry in entries:
        assert EMAIL not in json.dumps([entry.before, entry.after], ensure_ascii=False)
    assert snapshot["applicant_email"] == MASKED


def test_the_review_page_shows_the_email_masked(user, app) -> None:
    # given the owner on the review page
    client = Client()
    client.force_login(user)
    verify_identity(app, name=f.APPLICANT_NAME, id_number=app.applicant_id_number, user=user)
    # when
    html = client.get(f"/apply/{app.public_id}/review/").content.decode()
    # then
    assert MASKED in html and EMAIL not in html


def test_the_api_state_shows_the_email_masked(user, app) -> None:
    # given the owner
    client = Client()
    client.force_login(user)
    # when
    state = client.get(f"/api/v1/applications/{app.public_id}").json()
    # then the state masks it, as it masks the phone
    assert state["applicant"]["email"] == MASKED and state["applicant"]["phone"] == "139****1111"
    assert EMAIL not in json.dumps(state, ensure_ascii=False)


def test_the_application_form_shows_the_email_masked(app) -> None:
    # when the sections of the signed application form are laid out
    rows = [row for section in application_form_sections(app) for row in section.table]
    # then the applicant's e-mail is there, masked
    assert ("邮箱", MASKED) in rows
    assert all(EMAIL not in value for _, value in rows)


def test_the_back_office_shows_the_email_masked(client, app) -> None:
    # given an auditor with a verified second factor
    sync_roles()
    staff = create_staff_user("audit_email", "Sturdy-pass-2026", ["auditor"])
    device = enrol_totp(staff)
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    # when the application's page and its replay are opened
    change = client.get(reverse("admin:application_application_change", args=[app.pk]))
    replay = client.get(reverse("admin:application_application_replay", args=[app.pk]))
    # then both show the address masked only
    assert change.status_code == 200 and replay.status_code == 200
    for html in (change.content.decode(), replay.content.decode()):
        assert MASKED in html and EMAIL not in html


def test_an_email_never_reaches_a_log(caplog) -> None:
    # given a developer who logs an address
    logger = logging.getLogger("huibao.application.tests")
    from huibao.core.masking import MaskPersonalDataFilter

    logger.addFilter(MaskPersonalDataFilter())
    try:
        with caplog.at_level(logging.INFO, logger="huibao.application.tests"):
            logger.info("receipt sent to %s", "wang.xiaoming+policy@example.com.cn")
    finally:
        logger.filters.clear()
    # then the record holds the masked form
    assert caplog.records[-1].getMessage() == "receipt sent to w***@example.com.cn"


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_addresses_and_can_go_back() -> None:
    # given a database at the migration before, with an address stored in clear
    before, after = ("application", "0001_initial"), ("application", "0002_applicant_email_encrypted")
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([before])
    try:
        old = MigrationExecutor(connection).loader.project_state([before]).apps
        row = old.get_model("application", "Application").objects.create(
            number="T-EMAIL-1",
            applicant_email=EMAIL,
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )
        empty = old.get_model("application", "Application").objects.create(
            number="T-EMAIL-2", expires_at=timezone.now() + datetime.timedelta(days=1)
        )
        # when it migrates forward
        MigrationExecutor(connection).migrate([after])
        # then the stored value is a ciphertext the model opens, and an empty value stays empty
        assert raw_email(row).startswith("hb1:") and raw_email(empty) == ""
        # (only the column this migration made: the model has later columns the table has not yet)
        assert Application.objects.only("applicant_email").get(number="T-EMAIL-1").applicant_email == EMAIL
        # and back: the address is in clear again
        MigrationExecutor(connection).migrate([before])
        assert raw_email(row) == EMAIL and raw_email(empty) == ""
    finally:
        MigrationExecutor(connection).migrate(leaves)
