"""The message to the claims staff when claims pass their insurer's promised time (Chinese;
registered in `ClaimConfig.ready()`)."""

from __future__ import annotations

from huibao.notification import rules
from huibao.notification.catalogue import MessageTemplate, register

OVERDUE_STAFF = "claim.overdue_staff"

TEMPLATES = (
    MessageTemplate(
        code=OVERDUE_STAFF,
        category=rules.SERVICE,
        required=("count", "claims"),
        title="理赔超时提醒：{{ count }}件赔案已超过保险公司承诺时效",
        body=(
            "以下赔案材料齐全后已超过保险公司承诺的审核时效（保险法第二十三条）：{{ claims }}。"
            "请在“理赔催办”工作台查看并催办。"
        ),
        sms="【汇保】{{ count }}件赔案已超过保险公司承诺审核时效，请登录后台催办。",
    ),
)


def register_all() -> None:
    for template in TEMPLATES:
        register(template)
