"""The claim's message templates (Chinese; registered in `ClaimConfig.ready()`)."""

from __future__ import annotations

from huibao.notification import rules
from huibao.notification.catalogue import MessageTemplate, register

REPORTED = "claim.reported"
PROGRESS = "claim.progress"

TEMPLATES = (
    MessageTemplate(
        code=REPORTED,
        category=rules.SERVICE,
        required=("claim_number", "policy_number", "missing"),
        title="报案成功：赔案号{{ claim_number }}",
        body=(
            "您已为保单{{ policy_number }}报案，赔案号{{ claim_number }}。"
            "{% if missing %}请在“我的理赔”中上传：{{ missing }}。{% endif %}"
            "材料齐全并提交后我们将尽快审核。"
        ),
        sms="【汇保】报案成功，赔案号{{ claim_number }}，请登录汇保上传理赔材料。",
    ),
    MessageTemplate(
        code=PROGRESS,
        category=rules.SERVICE,
        required=("claim_number", "status_line"),
        title="理赔进度：{{ status_line }}",
        body=(
            "赔案{{ claim_number }}：{{ status_line }}。{% if note %}{{ note }}{% endif %}"
            "进度可随时在“我的理赔”中查看。"
        ),
        sms="【汇保】赔案{{ claim_number }}：{{ status_line }}。详情请登录汇保查看。",
    ),
)


def register_all() -> None:
    for template in TEMPLATES:
        register(template)
