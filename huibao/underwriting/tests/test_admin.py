"""The underwriter queue in the back office: open cases first, the case page with the health
declaration, and the decision form going through the service."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.application.models import Application
from huibao.application.services import referral
from huibao.application.services import underwriting as application_underwriting
from huibao.application.states import ApplicationStatus
from huibao.core.models import AuditEntry
from huibao.underwriting.models import CaseStatus, UnderwritingCase
from huibao.underwriting.tests import factories as f

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/underwriting/underwritingcase/"


def staff_client(client, username: str, codenames: list[str]):
    """A staff user in a role group with `codenames` of the underwriting app, logged in with a
    verified TOTP device as the admin requires."""
    group, _ = Group.objects.get_or_create(name=f"role-{username}")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="underwriting", codename__in=codenames)
    )
    user = User.objects.create_user(username=username, password=None, kind=UserKind.STAFF, is_staff=True)
    user.groups.add(group)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client, user


@pytest.fixture
def underwriter(client):
    return staff_client(client, "uw_wang", ["view_underwritingcase", "change_underwritingcase"])


@pytest.fixture
def viewer(client):
    return staff_client(client, "auditor_li", ["view_underwritingcase"])


def referred_case(name: str = "张三丰") -> UnderwritingCase:
    version = f.product_version(name="守卫者重疾险")
    insured = f.Insured(answers={**f.NO, "hospitalised": True, "chronic": True}, name=name)
    app = f.application([(version, insured, 300_000, "1000.00")])
    application_underwriting.underwrite_application(app)
    Application.objects.filter(pk=app.pk).update(status=ApplicationStatus.REFERRED)
    return UnderwritingCase.objects.get(item__application=app, status=CaseStatus.OPEN)


def test_the_queue_lists_open_cases_first_with_masked_insured(underwriter) -> None:
    # given: an older case already decided, a newer one open
    client, user = underwriter
    old = referred_case("李四光")
    referral.decide_case(old, decision="accept", underwriter=user, reasons="ok")
    new = referred_case("张三丰")

    # when
    response = client.get(LIST_URL)

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index(new.item.application.number) < page.index(old.item.application.number)
    assert "张**" in page and "张三丰" not in page
    assert "守卫者重疾险" in page
    assert "需人工核保" in page  # the referral reason
    assert new.item.insured.id_number not in page


def test_the_case_page_shows_the_declaration_and_prefills_the_suggested_terms(underwriter) -> None:
    client, _ = underwriter
    case = referred_case()

    response = client.get(f"{LIST_URL}{case.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "过去2年内是否曾住院？" in page and "是否患有恶性肿瘤？" in page
    assert "张**" in page and "张三丰" not in page
    assert case.item.insured.id_number not in page
    assert 'id="decide-form"' in page
    assert 'value="30.00"' in page  # the rules' loading as a starting point


def test_deciding_through_the_form_calls_the_service_and_is_audited(underwriter) -> None:
    # given
    client, user = underwriter
    case = referred_case()

    # when
    response = client.post(
        f"{LIST_URL}{case.pk}/change/",
        {
            "decision": "accept_with_terms",
            "loading_percent": "30",
            "exclusions": "高血压及其并发症\n",
            "reasons": "血压控制良好",
        },
    )

    # then
    assert response.status_code == 302 and response["Location"] == LIST_URL
    case.refresh_from_db()
    assert case.status == CaseStatus.DECIDED and case.decided_by_id == user.pk
    assert case.exclusions == ["高血压及其并发症"]
    app = case.item.application
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ACCEPTED
    entry = AuditEntry.objects.get(action="underwriting.case_decided", object_id=str(app.public_id))
    assert entry.actor_id == user.pk and entry.ip is not None


def test_form_errors_are_shown_in_chinese_and_nothing_changes(underwriter) -> None:
    client, _ = underwriter
    case = referred_case()

    response = client.post(
        f"{LIST_URL}{case.pk}/change/",
        {"decision": "accept_with_terms", "loading_percent": "", "reasons": "x"},
    )

    assert response.status_code == 200
    assert "加费/除外承保须设置加费比例或至少一条除外责任" in response.content.decode()
    missing = client.post(f"{LIST_URL}{case.pk}/change/", {"decision": "accept"})
    assert "请填写核保决定的理由" in missing.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_a_viewer_sees_the_case_but_cannot_decide(viewer) -> None:
    client, _ = viewer
    case = referred_case()

    page = client.get(f"{LIST_URL}{case.pk}/change/")
    assert page.status_code == 200 and 'id="decide-form"' not in page.content.decode()
    response = client.post(f"{LIST_URL}{case.pk}/change/", {"decision": "accept", "reasons": "x"})

    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert client.get(f"{LIST_URL}add/").status_code == 403


def test_a_decided_case_shows_the_decision_without_a_form(underwriter) -> None:
    client, user = underwriter
    case = referred_case()
    referral.decide_case(case, decision="decline", underwriter=user, reasons="肝功能异常，拒保")

    page = client.get(f"{LIST_URL}{case.pk}/change/").content.decode()

    assert "肝功能异常，拒保" in page and 'id="decide-form"' not in page
