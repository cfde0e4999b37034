"""The policy app's customer messages (notification catalogue), registered in `ready()`."""

from __future__ import annotations

from huibao.notification.catalogue import MessageTemplate, register

CANCELLATION_TEMPLATES = (
    MessageTemplate(
        code="policy.cancellation_confirmed",
        category="service",
        required=("policy_number", "product_name", "amount", "kind_label"),
        title="退保已确认：{{ product_name }}",
        body=(
            "您的保单{{ policy_number }}（{{ product_name }}）已办理{{ kind_label }}，保障已终止。"
            "退款{{ amount }}元将原路退回您的支付账户，可在“我的保单”中查看退款进度。"
        ),
        email_subject="【汇保】保单{{ policy_number }}退保已确认",
        email_body=(
            "尊敬的客户：\n\n"
            "您的保单{{ policy_number }}（{{ product_name }}）已办理{{ kind_label }}，保障已终止。\n"
            "退款金额：{{ amount }}元，将原路退回您的支付账户。\n"
            "如非本人操作，请立即联系汇保客服。\n\n汇保"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}已办理{{ kind_label }}，退款{{ amount }}元将原路退回。"
            "如非本人操作请联系客服。"
        ),
    ),
    MessageTemplate(
        code="policy.refund_completed",
        category="service",
        required=("policy_number", "amount"),
        title="退保退款已完成",
        body="保单{{ policy_number }}的退保退款{{ amount }}元已原路退回您的支付账户，到账时间以银行为准。",
        email_subject="【汇保】保单{{ policy_number }}退保退款已完成",
        email_body=(
            "尊敬的客户：\n\n保单{{ policy_number }}的退保退款{{ amount }}元已原路退回您的支付账户，"
            "到账时间以银行为准。\n\n汇保"
        ),
        sms="【汇保】保单{{ policy_number }}的退保退款{{ amount }}元已原路退回，到账时间以银行为准。",
    ),
    MessageTemplate(
        code="policy.refund_failed",
        category="service",
        required=("policy_number", "amount"),
        title="退保退款未成功",
        body=(
            "保单{{ policy_number }}的退保退款{{ amount }}元暂未成功，我们会尽快重新办理，"
            "无需您再次申请。如有疑问请联系汇保客服。"
        ),
        sms="【汇保】保单{{ policy_number }}的退保退款暂未成功，我们会尽快重新办理，无需再次申请。",
    ),
)


def register_messages() -> None:
    for template in CANCELLATION_TEMPLATES:
        register(template)
