"""The claim's message templates (Chinese; registered in `ClaimConfig.ready()`)."""

from __future__ import annotations

from huibao.notification import rules
from huibao.notification.catalogue import MessageTemplate, register

REPORTED = "claim.reported"
PROGRESS = "claim.progress"

TEMPLATES: tuple[MessageTemplate, ...] = (
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


# Event-triggered payouts (triggers.py).
TRIGGER_PAID = "claim.trigger_paid"
TRIGGER_UNCLAIMED = "claim.trigger_unclaimed"
TRIGGER_FAILED = "claim.trigger_failed"

TEMPLATES = (
    *TEMPLATES,
    MessageTemplate(
        code=TRIGGER_PAID,
        category=rules.SERVICE,
        required=("policy_number", "line", "amount"),
        title="自动理赔：{{ line }}",
        body="保单{{ policy_number }}：{{ line }}，无需申请，赔款{{ amount }}将转入您留存的收款账户。",
        sms="【汇保】保单{{ policy_number }}：{{ line }}，赔款将转入您的收款账户。",
    ),
    MessageTemplate(
        code=TRIGGER_UNCLAIMED,
        category=rules.SERVICE,
        required=("policy_number", "line", "amount"),
        title="自动理赔：{{ line }}，请领取",
        body=(
            "保单{{ policy_number }}：{{ line }}。我们还没有您的收款账户，"
            "请在“我的理赔 → 自动赔付”中填写银行卡领取赔款{{ amount }}。"
        ),
        sms="【汇保】保单{{ policy_number }}已自动理赔{{ amount }}，请登录汇保填写收款账户领取。",
    ),
    MessageTemplate(
        code=TRIGGER_FAILED,
        category=rules.SERVICE,
        required=("policy_number", "amount"),
        title="自动赔付未能到账",
        body=(
            "保单{{ policy_number }}的自动赔款{{ amount }}未能转入您的账户，"
            "请在“我的理赔 → 自动赔付”中更换收款账户。"
        ),
        sms="【汇保】保单{{ policy_number }}的赔款未能到账，请登录汇保更换收款账户。",
    ),
)
