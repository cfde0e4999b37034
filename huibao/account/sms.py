"""The SMS port now lives in `huibao.notification.sms` (every SMS of the platform goes through
it); these names stay so that `SMS_BACKEND=huibao.account.sms.ConsoleSmsBackend` and account's
callers keep working."""

from huibao.notification.sms import (
    ConsoleSmsBackend,
    SentSms,
    SmsBackend,
    SmsReceipt,
    get_sms_backend,
    reset_sms_backends,
)

__all__ = [
    "ConsoleSmsBackend",
    "SentSms",
    "SmsBackend",
    "SmsReceipt",
    "get_sms_backend",
    "reset_sms_backends",
]
