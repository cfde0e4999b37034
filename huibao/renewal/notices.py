"""The renewal's message templates (Chinese; registered in `RenewalConfig.ready()`)."""

from __future__ import annotations

from huibao.notification import rules
from huibao.notification.catalogue import MessageTemplate, register

OFFERED = "renewal.offered"
REMINDER = "renewal.reminder"
RENEWED = "renewal.renewed"
AUTO_FAILED = "renewal.auto_renewal_failed"
NOT_RENEWED = "renewal.not_renewed"
REFUSED = "renewal.refused"

TEMPLATES = (
    MessageTemplate(
        code=OFFERED,
        category=rules.SERVICE,
        required=("policy_number", "product_name", "premium", "expires_on"),
        title="续保通知：{{ product_name }}",
        body=(
            "您的保单{{ policy_number }}将于{{ expires_on|date:'Y年n月j日' }}到期。"
            "续保保费{{ premium }}元（按续保时年龄重新计算，明细见续保页面）。"
            "{% if auto_renew %}已开通自动续保，到期日将从您授权的账户扣款。{% else %}"
            "请在“我的保单”中确认续保并支付。{% endif %}"
        ),
        email_subject="【汇保】保单{{ policy_number }}续保通知",
        email_body=(
            "尊敬的客户：\n\n您的保单{{ policy_number }}（{{ product_name }}）将于"
            "{{ expires_on|date:'Y年n月j日' }}到期，续保保费{{ premium }}元。\n"
            "请登录汇保，在“我的保单”中查看续保明细并确认续保。\n\n汇保"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}将于{{ expires_on|date:'n月j日' }}到期，"
            "续保保费{{ premium }}元，请登录汇保续保。"
        ),
    ),
    MessageTemplate(
        code=REMINDER,
        category=rules.SERVICE,
        required=("policy_number", "product_name", "premium", "expires_on", "days"),
        title="续保提醒：还有{{ days }}天到期",
        body=(
            "您的保单{{ policy_number }}（{{ product_name }}）将在{{ days }}天后"
            "（{{ expires_on|date:'Y年n月j日' }}）到期，续保保费{{ premium }}元。"
            "{% if auto_renew %}已开通自动续保，届时将自动扣款，请确保账户余额充足。{% else %}"
            "逾期未续保，保障将中断。{% endif %}"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}将在{{ days }}天后到期，续保保费{{ premium }}元，请及时续保。"
        ),
    ),
    MessageTemplate(
        code=RENEWED,
        category=rules.SERVICE,
        required=("policy_number", "new_number", "product_name", "starts_at"),
        title="续保成功：{{ product_name }}",
        body=(
            "您的保单{{ policy_number }}已续保，新保单号{{ new_number }}，"
            "自{{ starts_at|date:'Y年n月j日' }}起继续保障。电子保单可在“我的保单”中查看。"
        ),
        sms="【汇保】您的保单{{ policy_number }}已续保成功，新保单号{{ new_number }}。",
    ),
    MessageTemplate(
        code=AUTO_FAILED,
        category=rules.SERVICE,
        required=("policy_number", "product_name", "premium", "grace_until"),
        title="自动续保扣款失败",
        body=(
            "保单{{ policy_number }}（{{ product_name }}）自动续保扣款{{ premium }}元未成功"
            "{% if reason %}（{{ reason }}）{% endif %}。我们将在宽限期内每天重试，"
            "您也可以在“我的保单”中手动支付。请在{{ grace_until|date:'Y年n月j日' }}前完成续保，"
            "否则保单将不再续保。"
        ),
        sms=(
            "【汇保】保单{{ policy_number }}自动续保扣款失败，请确保账户余额充足或登录汇保手动支付，"
            "{{ grace_until|date:'n月j日' }}前有效。"
        ),
    ),
    MessageTemplate(
        code=NOT_RENEWED,
        category=rules.SERVICE,
        required=("policy_number", "product_name", "expires_on"),
        title="保单未续保：{{ product_name }}",
        body=(
            "您的保单{{ policy_number }}已于{{ expires_on|date:'Y年n月j日' }}到期，"
            "宽限期内未完成续保，保障已终止。如需保障，请重新投保。"
        ),
        sms="【汇保】您的保单{{ policy_number }}未在宽限期内续保，保障已终止。如需保障请重新投保。",
    ),
    MessageTemplate(
        code=REFUSED,
        category=rules.SERVICE,
        required=("policy_number", "product_name", "expires_on", "reason"),
        title="保单到期不再续保",
        body=(
            "您的保单{{ policy_number }}（{{ product_name }}）将于{{ expires_on|date:'Y年n月j日' }}到期，"
            "到期后不能续保：{{ reason }}。如需继续保障，请在到期前选购其他产品。"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}将于{{ expires_on|date:'n月j日' }}到期且不能续保，"
            "原因：{{ reason }}。"
        ),
    ),
)


def register_all() -> None:
    for template in TEMPLATES:
        register(template)
