"""Back office: identity records are read-only and never show a full ID number."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.identity import services
from huibao.identity.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_otp(client: Client) -> Client:
    user = User.objects.create_superuser(username="root", password="x-unused-123", kind=UserKind.STAFF)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_identity_checks_are_listed_masked_and_read_only(admin_client_otp: Client) -> None:
    # given
    check = services.verify_real_name(
        name=f.NAME, id_number=f.ID_NUMBER, reference_kind=f.KIND, reference_id="A1"
    )
    # when
    listing = admin_client_otp.get("/admin/identity/identitycheck/")
    detail = admin_client_otp.get(f"/admin/identity/identitycheck/{check.pk}/change/")
    search = admin_client_otp.get("/admin/identity/identitycheck/", {"q": "A1"})
    # then
    for response in (listing, detail, search):
        html = response.content.decode()
        assert response.status_code == 200
        assert "110***********1239" in html and f.ID_NUMBER not in html
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client_otp.get("/admin/identity/identitycheck/add/").status_code == 403


def test_face_checks_and_notifications_are_listed_masked(admin_client_otp: Client) -> None:
    check = f.face_check()
    services.handle_face_notification("sandbox", *f.notification(check))
    listing = admin_client_otp.get("/admin/identity/facecheck/")
    detail = admin_client_otp.get(f"/admin/identity/facecheck/{check.pk}/change/")
    notes = admin_client_otp.get("/admin/identity/faceprovidernotification/")
    for response in (listing, detail, notes):
        assert response.status_code == 200
        assert f.ID_NUMBER not in response.content.decode()
    assert "110***********1239" in detail.content.decode()
    assert admin_client_otp.post(f"/admin/identity/facecheck/{check.pk}/delete/").status_code == 403
