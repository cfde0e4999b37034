import pytest
from django.contrib.admin import AdminSite
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User
from huibao.core.admin import AuditedModelAdmin
from huibao.core.audit import record, verify_chain
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def otp_login(client, user):
    """Logs in as the back office requires: password session plus a verified TOTP device."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def operator():
    return User.objects.create(username="op", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_request(operator):
    request = RequestFactory().post("/admin/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="AdminBrowser/1.0")
    request.user = operator
    return request


@pytest.fixture
def model_admin():
    return AuditedModelAdmin(User, AdminSite())


def test_create_update_delete_in_admin_are_recorded(model_admin, admin_request, operator):
    # given a user created in the admin
    customer = User(username="c1", display_name="老王")
    customer.set_phone("13812345678")
    model_admin.save_model(admin_request, customer, form=None, change=False)
    # when it is changed, then deleted
    customer.display_name = "王先生"
    model_admin.save_model(admin_request, customer, form=None, change=True)
    pk = customer.pk
    model_admin.delete_model(admin_request, customer)
    # then three entries tell the story, with snapshots, actor, IP and user agent
    created, updated, deleted = AuditEntry.objects.order_by("id")
    assert [e.action for e in (created, updated, deleted)] == ["create", "update", "delete"]
    assert {e.object_type for e in (created, updated, deleted)} == {"account.user"}
    assert {e.object_id for e in (created, updated, deleted)} == {str(pk)}
    assert created.before is None and created.after["display_name"] == "老王"
    assert updated.before["display_name"] == "老王" and updated.after["display_name"] == "王先生"
    assert deleted.before["display_name"] == "王先生" and deleted.after is None
    assert created.after["phone"] == "138****5678"
    assert (created.actor_id, created.actor_label) == (operator.pk, "op")
    assert (created.ip, created.user_agent) == ("198.51.100.4", "AdminBrowser/1.0")
    assert not User.objects.filter(pk=pk).exists()
    assert verify_chain().ok


def test_bulk_delete_records_each_object(model_admin, admin_request):
    # given
    users = [User.objects.create(username=f"bulk{i}") for i in range(3)]
    # when
    model_admin.delete_queryset(admin_request, User.objects.filter(username__startswith="bulk"))
    # then
    entries = AuditEntry.objects.filter(action="delete")
    assert sorted(e.object_id for e in entries) == sorted(str(u.pk) for u in users)
    assert {e.before["username"] for e in entries} == {"bulk0", "bulk1", "bulk2"}


def test_audit_log_is_read_only_in_admin(client, operator):
    # given an entry and a superuser
    entry = record("publish", "catalog.product", "1", actor="system")
    otp_login(client, operator)
    # when / then: the list and the entry can be viewed
    assert client.get("/admin/core/auditentry/").status_code == 200
    page = client.get(f"/admin/core/auditentry/{entry.pk}/change/")
    assert page.status_code == 200 and b"publish" in page.content
    # but nothing can be added, changed or deleted
    assert client.get("/admin/core/auditentry/add/").status_code == 403
    assert client.post(f"/admin/core/auditentry/{entry.pk}/change/", {"action": "x"}).status_code == 403
    assert client.post(f"/admin/core/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == "publish"


def test_staff_need_view_permission(client):
    # given a staff member without the permission
    staff = User.objects.create(username="clerk", is_staff=True)
    otp_login(client, staff)
    # when / then
    assert client.get("/admin/core/auditentry/").status_code == 403
    # given the permission
    staff.user_permissions.add(
        Permission.objects.get(codename="view_auditentry", content_type__app_label="core")
    )
    staff = User.objects.get(pk=staff.pk)  # fresh permission cache
    # then
    assert client.get("/admin/core/auditentry/").status_code == 200
    assert client.get("/admin/core/auditentry/add/").status_code == 403
