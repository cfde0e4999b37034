"""The customer messages of endorsements (批改), registered in `PolicyConfig.ready()`."""

from __future__ import annotations

from huibao.notification.catalogue import MessageTemplate, register

ENDORSEMENT_TEMPLATES = (
    MessageTemplate(
        code="policy.endorsement_requested",
        category="service",
        required=("policy_number", "endorsement_number", "kind_label"),
        title="批改申请已提交：{{ kind_label }}",
        body=(
            "您为保单{{ policy_number }}提交的{{ kind_label }}申请（批单号{{ endorsement_number }}）已受理，"
            "请在“我的保单”中完成短信确认。"
        ),
    ),
    MessageTemplate(
        code="policy.endorsement_approved",
        category="service",
        required=("policy_number", "endorsement_number", "kind_label"),
        title="批改审核通过：{{ kind_label }}",
        body=(
            "您的保单{{ policy_number }}的{{ kind_label }}申请（批单号{{ endorsement_number }}）已审核通过。"
        ),
        sms="【汇保】您的保单{{ policy_number }}的{{ kind_label }}申请已审核通过。",
    ),
    MessageTemplate(
        code="policy.endorsement_rejected",
        category="service",
        required=("policy_number", "endorsement_number", "kind_label", "reason"),
        title="批改未通过：{{ kind_label }}",
        body=(
            "很抱歉，您的保单{{ policy_number }}的{{ kind_label }}申请（批单号{{ endorsement_number }}）"
            "未通过审核，原因：{{ reason }}。保单内容未作变更。"
        ),
        sms="【汇保】您的保单{{ policy_number }}的{{ kind_label }}申请未通过审核，详情请登录汇保查看。",
    ),
    MessageTemplate(
        code="policy.endorsement_applied",
        category="service",
        required=("policy_number", "endorsement_number", "kind_label", "delta", "link"),
        title="批改已生效：{{ kind_label }}",
        body=(
            "您的保单{{ policy_number }}的{{ kind_label }}已生效，批单号{{ endorsement_number }}。"
            "电子批单：{{ link }}"
        ),
        email_subject="【汇保】保单{{ policy_number }}批改已生效",
        email_body=(
            "尊敬的客户：\n\n"
            "您的保单{{ policy_number }}的{{ kind_label }}已生效，批单号{{ endorsement_number }}。\n"
            "电子批单可在此查看和下载：{{ link }}\n\n汇保"
        ),
        sms="【汇保】您的保单{{ policy_number }}的{{ kind_label }}已生效，批单号{{ endorsement_number }}。",
    ),
)


def register_templates() -> None:
    for template in ENDORSEMENT_TEMPLATES:
        register(template)
