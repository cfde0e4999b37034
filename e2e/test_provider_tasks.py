"""A rescue driver on a phone: logs in (password + TOTP), sees only their provider's tasks,
accepts one, notes progress, completes it with a report and a photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from huibao.account.demo import totp_secret_base32
from huibao.account.services import create_staff_user, enrol_totp
from huibao.provider.models import ProviderUser, ServiceTask
from huibao.provider.states import TaskStatus
from huibao.provider.tests import factories as f

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "driver-pass-2026"


def test_rescue_driver_works_a_task_from_the_phone(
    settings: Any, live_server: Any, phone: Page, tmp_path: Path, screenshot_dir: Path
) -> None:
    # given: a Shenzhen rescue provider with one task, another provider with one, a driver log-in
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("setup_roles", verbosity=0)
    rescue = f.provider("深圳鹏城道路救援", kind="rescue", capabilities=("rescue",), regions=("4403",))
    mine = f.task(rescue, kind="rescue", reference="CLM-E2E-1")
    f.task(
        f.provider("别家救援", kind="rescue", capabilities=("rescue",)), kind="rescue", reference="CLM-E2E-2"
    )
    driver = create_staff_user("driver_wang", PASSWORD, ["provider"])
    ProviderUser.objects.create(user=driver, provider=rescue)
    device = enrol_totp(driver)
    photo = tmp_path / "scene.jpg"
    photo.write_bytes(f.JPEG)
    # when: the driver logs in and opens the task list
    phone.goto(f"{live_server.url}/account/staff/login/?next=/provider/")
    phone.locator("#id_username").fill("driver_wang")
    phone.locator("#id_password").fill(PASSWORD)
    phone.locator("#id_otp_token").fill(pyotp.TOTP(totp_secret_base32(device)).now())
    phone.locator("main form button[type=submit]").click()
    # then: only their own task
    expect(phone.locator("h1")).to_have_text("服务任务")
    expect(phone.get_by_test_id("task")).to_have_count(1)
    expect(phone.get_by_test_id("tasks")).to_contain_text("CLM-E2E-1")
    # when: accept, note progress, complete with a report and a photo
    phone.get_by_test_id("task").first.locator("a").click()
    phone.get_by_test_id("accept").click()
    expect(phone.get_by_test_id("task-status")).to_have_text("已接单")
    phone.get_by_label("进度说明").fill("已到达现场，正在搭电")
    phone.get_by_test_id("update").click()
    expect(phone.get_by_test_id("task-status")).to_have_text("处理中")
    # the buttons fit the phone's width
    box = phone.get_by_test_id("complete").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.get_by_label("服务报告").fill("搭电后车辆正常启动，无需拖车。")
    phone.locator("#files").set_input_files(str(photo))
    phone.screenshot(path=str(screenshot_dir / "provider-task-phone.png"), full_page=True)
    phone.get_by_test_id("complete").click()
    # then
    expect(phone.get_by_test_id("task-status")).to_have_text("已完成")
    expect(phone.get_by_test_id("report")).to_contain_text("搭电后车辆正常启动")
    expect(phone.get_by_test_id("events")).to_contain_text("已到达现场，正在搭电")
    mine.refresh_from_db()
    assert mine.status == TaskStatus.COMPLETED and mine.files.count() == 1
    assert ServiceTask.objects.get(subject_reference="CLM-E2E-2").status == TaskStatus.OFFERED
