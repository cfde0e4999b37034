"""The provider's pages (own tasks only, 404 for another's) and the operators' provider page."""

from __future__ import annotations

import pytest
from django.db import connection

from huibao.provider.models import ServiceProvider, ServiceTask, TaskFile
from huibao.provider.states import TaskStatus
from huibao.provider.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine():
    return f.provider("深圳公估", regions=("4403",))


@pytest.fixture
def driver(client, mine):
    return f.login(client, f.provider_user(mine))


def test_list_shows_only_own_tasks_by_status(driver, mine):
    # given
    own = f.task(mine, reference="CLM-OWN")
    f.task(f.provider("别家公估"), reference="CLM-OTHER")
    # when
    page = driver.get("/provider/")
    # then
    body = page.content.decode()
    assert page.status_code == 200
    assert "CLM-OWN" in body and "CLM-OTHER" not in body
    assert f"/provider/tasks/{own.public_id}/" in body
    assert "CLM-OWN" not in driver.get("/provider/?status=completed").content.decode()


def test_another_providers_task_is_not_found(driver):
    other = f.task(f.provider("别家公估"))
    assert driver.get(f"/provider/tasks/{other.public_id}/").status_code == 404
    assert driver.post(f"/provider/tasks/{other.public_id}/", {"action": "accept"}).status_code == 404
    other.refresh_from_db()
    assert other.status == TaskStatus.OFFERED


def test_staff_without_a_provider_link_and_anonymous_are_kept_out(client):
    task = f.task(f.provider())
    assert client.get("/provider/").status_code == 302  # to the staff log-in
    f.login(client, f.staff("claims_adjuster"))
    assert client.get(f"/provider/tasks/{task.public_id}/").status_code == 404


def test_accept_update_complete_with_files_from_the_page(driver, mine):
    # given
    task = f.task(mine, kind="assessment")
    url = f"/provider/tasks/{task.public_id}/"
    # when
    assert driver.post(url, {"action": "accept"}).status_code == 302
    assert driver.post(url, {"action": "update", "note": "已到达现场"}).status_code == 302
    done = driver.post(
        url,
        {"action": "complete", "report": "左前门凹陷", "assessed_amount": "1200", "files": [f.upload()]},
    )
    # then
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED and str(task.assessed_amount) == "1200.00"
    page = driver.get(url).content.decode()
    assert "左前门凹陷" in page and "已到达现场" in page
    row = TaskFile.objects.get(task=task)
    got = driver.get(f"/provider/tasks/{task.public_id}/files/{row.pk}/")
    assert got.status_code == 200 and b"".join(got.streaming_content).startswith(b"%PDF-")


def test_page_errors_are_chinese_and_change_nothing(driver, mine):
    task = f.task(mine)
    url = f"/provider/tasks/{task.public_id}/"
    declined = driver.post(url, {"action": "decline", "reason": ""})
    assert declined.status_code == 400 and "请填写拒单原因" in declined.content.decode()
    driver.post(url, {"action": "accept"})
    bad = driver.post(url, {"action": "complete", "report": "好", "assessed_amount": "-5"})
    assert bad.status_code == 400 and "金额不能为负数" in bad.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED and task.report == ""


def test_decline_from_the_page_reoffers(driver, mine):
    task = f.task(mine)
    nxt = f.provider("广东公估")
    assert (
        driver.post(
            f"/provider/tasks/{task.public_id}/", {"action": "decline", "reason": "车辆不足"}
        ).status_code
        == 302
    )
    assert ServiceTask.objects.get(reoffer_of=task).provider == nxt


@pytest.fixture
def operator(client):
    return f.login(client, f.staff("operator"))


def test_operator_lists_by_region_and_capability(operator):
    f.provider("深圳救援", kind="rescue", capabilities=("rescue",), regions=("4403",))
    f.provider("上海公估", regions=("31",))
    f.provider("广东公估", regions=("44",))
    body = operator.get("/provider/staff/providers/?region=440300&kind=survey").content.decode()
    assert "广东公估" in body and "上海公估" not in body and "深圳救援" not in body
    bad = operator.get("/provider/staff/providers/?region=999999").content.decode()
    assert "地区代码“999999”不存在" in bad


def test_operator_adds_and_suspends_a_provider(operator):
    # when: a bad form, then a good one
    bad = operator.post(
        "/provider/staff/providers/",
        {
            "code": "x1",
            "name": "杭州法律援助",
            "kind": "legal",
            "capabilities": ["legal"],
            "regions": "3301,9999",
        },
    )
    assert bad.status_code == 400 and "地区代码“9999”不存在" in bad.content.decode()
    assert not ServiceProvider.objects.exists()
    good = operator.post(
        "/provider/staff/providers/",
        {
            "code": "hz-legal",
            "name": "杭州法律援助",
            "kind": "legal",
            "capabilities": ["legal"],
            "regions": "3301, 330200",
            "contact_phone": "13912345678",
        },
    )
    assert good.status_code == 302
    created = ServiceProvider.objects.get(code="hz-legal")
    assert created.regions == ["3301", "3302"]
    # the phone is not stored in clear
    with connection.cursor() as cur:
        cur.execute("SELECT contact_phone FROM provider_serviceprovider WHERE id = %s", [created.pk])
        assert "13912345678" not in cur.fetchone()[0]
    operator.post(
        f"/provider/staff/providers/{created.public_id}/status/",
        {"status": "suspended", "reason": "资质到期"},
    )
    created.refresh_from_db()
    assert created.status == "suspended"


def test_provider_staff_cannot_manage_providers(driver):
    assert driver.get("/provider/staff/providers/").status_code == 403


def test_provider_staff_do_not_reach_tasks_through_the_admin(driver):
    # the provider link is the only way in: the role grants no model permission
    f.task(f.provider("别家公估"))
    assert driver.get("/admin/provider/servicetask/").status_code in (302, 403)


def test_decline_with_nobody_left_says_the_platform_arranges_it(driver, mine):
    task = f.task(mine)
    page = driver.post(
        f"/provider/tasks/{task.public_id}/", {"action": "decline", "reason": "车辆不足"}, follow=True
    )
    assert "已拒单，平台将人工安排该任务。" in page.content.decode()
    assert not ServiceTask.objects.filter(reoffer_of=task).exists()
