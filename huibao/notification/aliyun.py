"""阿里云短信 (Alibaba Cloud SMS, API `SendSms` of Dysmsapi 2017-05-25) behind the SMS port.

Uses Alibaba's maintained SDK (`alibabacloud-dysmsapi20170525`), which signs each request with
ACS3-HMAC-SHA256 (the V3 signature: a canonical request of method, path, sorted query, the
signed `host`/`x-acs-*` headers and the SHA-256 of the body, HMAC-ed with the AccessKey secret).

Settings (environment, `docs/deploy.md`):

- `ALIYUN_SMS_ACCESS_KEY_ID`, `ALIYUN_SMS_ACCESS_KEY_SECRET` (a RAM user allowed only SendSms),
- `ALIYUN_SMS_SIGN_NAME` (the approved 签名, e.g. 汇保),
- `ALIYUN_SMS_TEMPLATES`: `our_template:SMS_xxx` pairs — Alibaba sends only approved templates,
  so each of our templates that goes by SMS needs its TemplateCode (its variables are the
  template's context keys),
- `ALIYUN_SMS_ENDPOINT` (default `dysmsapi.aliyuncs.com`).

Outcomes: `OK` → a receipt with Alibaba's BizId; flow control (`isv.BUSINESS_LIMIT_CONTROL`,
`Throttling.*`, or an HTTP throttling answer) → `SmsThrottled`; an error no retry can fix (bad
number, template, signature, parameters, unmapped template) → `SmsDeliveryFailed(permanent=True)`;
anything else (network, 5xx) → `SmsDeliveryFailed`, retried by the outbox. `out_id` is sent as
`OutId`, which Alibaba echoes in its delivery reports (Alibaba does not de-duplicate on it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone

from huibao.core.masking import mask_phone
from huibao.notification.errors import SmsDeliveryFailed, SmsThrottled
from huibao.notification.sms import SmsReceipt

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
# Codes Alibaba answers when a number or an account sends too much (flow control).
THROTTLED = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isv.ACCOUNT_LIMIT_CONTROL"})
# Codes that another attempt cannot fix.
PERMANENT = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.DENY_IP_RANGE",
        "InvalidAccessKeyId.NotFound",
        "SignatureDoesNotMatch",
    }
)
THROTTLED_RETRY_AFTER = 60


class AliyunSmsBackend:
    name = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        sign_name: str | None = None,
        templates: Mapping[str, str] | None = None,
        endpoint: str | None = None,
        timeout_ms: int = 5000,
    ) -> None:
        self.access_key_id = access_key_id or settings.ALIYUN_SMS_ACCESS_KEY_ID
        self.access_key_secret = access_key_secret or settings.ALIYUN_SMS_ACCESS_KEY_SECRET
        self.sign_name = sign_name or settings.ALIYUN_SMS_SIGN_NAME
        self.templates = dict(settings.ALIYUN_SMS_TEMPLATES if templates is None else templates)
        self.endpoint = endpoint or settings.ALIYUN_SMS_ENDPOINT or DEFAULT_ENDPOINT
        self.timeout_ms = timeout_ms
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from alibabacloud_dysmsapi20170525.client import Client
            from alibabacloud_tea_openapi.utils_models import Config

            self._client = Client(
                Config(
                    access_key_id=self.access_key_id,
                    access_key_secret=self.access_key_secret,
                    endpoint=self.endpoint,
                )
            )
        return self._client

    def send(
        self,
        phone: str,
        text: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
        out_id: str = "",
    ) -> SmsReceipt:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
        from darabonba.runtime import RuntimeOptions

        template_code = self.templates.get(template)
        if not template_code:
            raise SmsDeliveryFailed(
                f"短信模板未在阿里云登记：{template or '（无）'}",
                code="sms_template_unmapped",
                permanent=True,
            )
        request = SendSmsRequest(
            phone_numbers=phone,
            sign_name=self.sign_name,
            template_code=template_code,
            template_param=json.dumps(
                {k: str(v) for k, v in (params or {}).items()}, ensure_ascii=False, separators=(",", ":")
            ),
            out_id=out_id or None,
        )
        runtime = RuntimeOptions(
            autoretry=False, connect_timeout=self.timeout_ms, read_timeout=self.timeout_ms
        )
        try:
            response = self.client().send_sms_with_options(request, runtime)
        except ThrottlingException as exc:
            raise SmsThrottled(
                "短信发送过于频繁，请稍后再试。", retry_after=int(exc.retry_after or 60)
            ) from exc
        except AlibabaCloudException as exc:
            code = str(exc.code or "")
            if code.startswith("Throttling"):
                raise SmsThrottled(
                    "短信发送过于频繁，请稍后再试。", retry_after=THROTTLED_RETRY_AFTER
                ) from exc
            raise SmsDeliveryFailed(
                f"阿里云短信：{code}", code="sms_failed", permanent=code in PERMANENT
            ) from exc
        except Exception as exc:  # network errors and the SDK's retry wrapper
            raise SmsDeliveryFailed(f"阿里云短信：{type(exc).__name__}", code="sms_failed") from exc
        return self.receipt_of(response.body, phone)

    def receipt_of(self, body: Any, phone: str) -> SmsReceipt:
        """The port's result for a SendSms answer (HTTP 200, whatever its `Code`)."""
        code = str(getattr(body, "code", "") or "")
        if code == "OK":
            return SmsReceipt(
                receipt_id=str(body.biz_id or ""),
                phone_masked=mask_phone(phone),
                sent_at=timezone.now(),
                backend=self.name,
            )
        # The number is masked; the message text never reaches a log.
        log.warning("Aliyun SMS refused a message to %s: %s", mask_phone(phone), code)
        if code in THROTTLED:
            raise SmsThrottled("短信发送过于频繁，请稍后再试。", retry_after=THROTTLED_RETRY_AFTER)
        raise SmsDeliveryFailed(f"阿里云短信：{code}", code="sms_failed", permanent=code in PERMANENT)
