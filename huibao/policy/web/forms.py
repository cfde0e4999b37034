"""Forms of the policy pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from huibao.policy.rules import NPS_COMMENT_MAX, NPS_MAX, NPS_MIN
from huibao.policy.states import CANCELLATION_REASON_TEXT_MAX, CancellationReason


class LookupForm(forms.Form):
    number = forms.CharField(
        label=_("保单号"),
        max_length=40,
        error_messages={"required": _("请填写保单号")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    code = forms.CharField(
        label=_("验真码"),
        max_length=32,
        error_messages={"required": _("请填写验真码")},
        help_text=_("验真码印在电子保单末页“保单验真”处"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("电子保单PDF文件"),
        error_messages={"required": _("请选择要核验的PDF文件")},
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )


class NpsForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("您有多大可能向亲友推荐汇保？（0 = 完全不可能，10 = 非常可能）"),
        choices=[(n, str(n)) for n in range(NPS_MIN, NPS_MAX + 1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择0到10之间的评分"), "invalid_choice": _("请选择0到10之间的评分")},
    )
    comment = forms.CharField(
        label=_("您的建议（选填）"),
        required=False,
        max_length=NPS_COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": NPS_COMMENT_MAX}),
        error_messages={"max_length": _("评价内容最多500字")},
    )


class CancellationForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("退保原因"),
        choices=CancellationReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择退保原因"), "invalid_choice": _("请选择退保原因")},
    )
    reason_text = forms.CharField(
        label=_("原因说明（选填，选择“其他原因”时必填）"),
        required=False,
        max_length=CANCELLATION_REASON_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": CANCELLATION_REASON_TEXT_MAX}),
        error_messages={"max_length": _("原因说明最多200字")},
    )


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("短信验证码"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"required": _("请填写短信验证码"), "invalid": _("请填写短信中的6位数字验证码")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "maxlength": 6,
                "pattern": r"\d{6}",
            }
        ),
    )


class MandateForm(forms.Form):
    """A new payment authorisation (代扣授权): the payer and the card instalments are collected from."""

    payer_name = forms.CharField(
        label=_("付款人姓名"),
        max_length=30,
        error_messages={"required": _("请填写付款人姓名")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    payer_id_number = forms.CharField(
        label=_("付款人身份证号"),
        max_length=24,
        error_messages={"required": _("请填写付款人身份证号")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    account_number = forms.CharField(
        label=_("银行卡号"),
        max_length=30,
        error_messages={"required": _("请填写银行卡号")},
        help_text=_("仅保存卡号后四位；每期保费到期日自动扣款"),
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )


class RevokeMandateForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("我已知晓：解约后需按时手动缴纳每期保费，逾期未缴将进入宽限期"),
        error_messages={"required": _("请确认您已知晓解约后需手动缴费")},
    )
