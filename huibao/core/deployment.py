"""Development parts a deployment would use, and their refusal outside development.

The remote systems the platform talks to (payment gateway, payout gateway, real-name registry, face
service, insurers, SMS gateway) each have a stand-in for development: the in-process sandboxes (provider
name "sandbox") and the console/sandbox SMS backends. A production server that used one would
take no real money, check no real identity and book no real policy while looking as if it did,
so outside development (`settings.HUIBAO_STRICT`) the settings refuse to load — and with them
every entry point: `manage.py` commands, runserver, the WSGI/ASGI servers and the task workers —
unless `HUIBAO_ALLOW_SANDBOX` names each part used. The parts allowed that way are announced on
every page (banner) and every response (`Huibao-Sandbox` header).

Plain functions of the configured values: `settings.py` calls `enforce` with what it read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ImproperlyConfigured

ALLOW_SETTING = "HUIBAO_ALLOW_SANDBOX"
RESPONSE_HEADER = "Huibao-Sandbox"
SANDBOX_PROVIDER = "sandbox"
# The order parts are listed in (errors, banner, header).
PARTS = ("payment", "payout", "identity", "face", "insurer", "sms")
SANDBOX_SMS_BACKEND = "huibao.sandbox.sms.SandboxSmsBackend"
# Where the sandbox SMS gateway lived before it moved to the sandbox app: still read as it.
MOVED_SMS_BACKENDS = {
    "huibao.account.sms.SandboxSmsBackend": SANDBOX_SMS_BACKEND,
    "huibao.notification.sms.SandboxSmsBackend": SANDBOX_SMS_BACKEND,
}
DEVELOPMENT_SMS_BACKENDS = frozenset(
    {"huibao.account.sms.ConsoleSmsBackend", "huibao.notification.sms.ConsoleSmsBackend", SANDBOX_SMS_BACKEND}
)


def sms_backend(configured: str) -> str:
    """The dotted path of the SMS backend `SMS_BACKEND` names (a moved one at its new place)."""
    return MOVED_SMS_BACKENDS.get(configured, configured)


def sandbox_parts_in_use(
    *,
    payment_provider: str,
    identity_provider: str,
    face_provider: str,
    insurer_connectors: Mapping[str, str],
    sms_backend: str,
    payout_provider: str = "",
) -> dict[str, str]:
    """{part: "SETTING=value"} for each development part the configuration uses."""
    used: dict[str, str] = {}
    if payment_provider == SANDBOX_PROVIDER:
        used["payment"] = f"PAYMENT_PROVIDER={payment_provider}"
    if payout_provider == SANDBOX_PROVIDER:
        # Payouts pay real money out: a sandbox there is its own part, named on its own.
        used["payout"] = f"PAYOUT_PROVIDER={payout_provider}"
    if identity_provider == SANDBOX_PROVIDER:
        used["identity"] = f"IDENTITY_PROVIDER={identity_provider}"
    if face_provider == SANDBOX_PROVIDER:
        used["face"] = f"FACE_PROVIDER={face_provider}"
    # An insurer without its own entry is served by the "*" entry, and by the sandbox without one.
    default_connector = insurer_connectors.get("*", SANDBOX_PROVIDER)
    sandboxed = sorted(code for code, name in insurer_connectors.items() if name == SANDBOX_PROVIDER)
    if default_connector == SANDBOX_PROVIDER:
        used["insurer"] = "HUIBAO_INSURER_CONNECTORS: every insurer without an entry uses sandbox"
    elif sandboxed:
        used["insurer"] = f"HUIBAO_INSURER_CONNECTORS: {','.join(sandboxed)} use sandbox"
    if sms_backend in DEVELOPMENT_SMS_BACKENDS:
        used["sms"] = f"SMS_BACKEND={sms_backend}"
    return used


def parse_allowed(names: Iterable[str]) -> frozenset[str]:
    """The parts HUIBAO_ALLOW_SANDBOX names; an unknown name is refused (a typo must not pass)."""
    allowed = frozenset(name.strip().lower() for name in names if name.strip())
    unknown = sorted(allowed - set(PARTS))
    if unknown:
        raise ImproperlyConfigured(
            f"{ALLOW_SETTING}: unknown part(s) {', '.join(unknown)}; the parts are {','.join(PARTS)}"
        )
    return allowed


def enforce(*, strict: bool, in_use: Mapping[str, str], allowed: Iterable[str]) -> tuple[str, ...]:
    """The sandbox parts to announce (banner, header): none in development.

    Outside development (`strict`) raises ImproperlyConfigured naming each development part in
    use that `allowed` (HUIBAO_ALLOW_SANDBOX) does not name, and the setting that selects it."""
    allowed_parts = parse_allowed(allowed)
    if not strict:
        return ()
    refused = [part for part in PARTS if part in in_use and part not in allowed_parts]
    if refused:
        details = "; ".join(f"{part} ({in_use[part]})" for part in refused)
        raise ImproperlyConfigured(
            f"{ALLOW_SETTING}: outside development the platform does not start on development parts: "
            f"{details}. Configure the real providers, or name each sandbox part deliberately, e.g. "
            f"{ALLOW_SETTING}={','.join(part for part in PARTS if part in in_use)}"
        )
    return tuple(part for part in PARTS if part in in_use)


# --- real payment gateways (huibao/payment/gateways) -------------------------------------------
# The settings each gateway needs, all non-empty; paths must name existing files (dirs: "/").
GATEWAY_SETTINGS: dict[str, tuple[str, ...]] = {
    "alipay": ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY_PATH", "ALIPAY_PUBLIC_KEY_PATH"),
    "wechatpay": (
        "WECHATPAY_MCHID",
        "WECHATPAY_APPID",
        "WECHATPAY_PRIVATE_KEY_PATH",
        "WECHATPAY_CERT_SERIAL_NO",
        "WECHATPAY_APIV3_KEY",
    ),
}
# WeChat Pay verifies its signatures with the platform certificates (a directory of .pem files)
# or, for merchants moved to it, with the WeChat Pay public key and its id: one of the two.
WECHATPAY_VERIFIERS = (
    ("WECHATPAY_PLATFORM_CERT_DIR",),
    ("WECHATPAY_PUBLIC_KEY_PATH", "WECHATPAY_PUBLIC_KEY_ID"),
)


def gateway_settings_missing(gateway: str, values: Mapping[str, str]) -> list[str]:
    """What keeps `gateway` from working: each missing setting (or the file it names that does
    not exist), as "SETTING" or "SETTING (no file at …)". Empty: fully configured."""
    from pathlib import Path

    def problem(name: str) -> str:
        value = str(values.get(name, "") or "").strip()
        if not value:
            return name
        if name.endswith("_PATH") and not Path(value).is_file():
            return f"{name} (no file at {value})"
        if name.endswith("_DIR") and not Path(value).is_dir():
            return f"{name} (no directory at {value})"
        if name == "WECHATPAY_APIV3_KEY" and len(value) != 32:
            return f"{name} (the APIv3 key has 32 characters)"
        return ""

    problems = [p for p in (problem(name) for name in GATEWAY_SETTINGS.get(gateway, ())) if p]
    if gateway == "wechatpay":
        options = [[p for p in (problem(name) for name in names) if p] for names in WECHATPAY_VERIFIERS]
        if all(options):
            problems.append(
                "WECHATPAY_PLATFORM_CERT_DIR, or WECHATPAY_PUBLIC_KEY_PATH and WECHATPAY_PUBLIC_KEY_ID: "
                + "; ".join(p for found in options for p in found)
            )
    return problems


def require_payment_gateway(
    provider: str, values: Mapping[str, str], *, public_url: str, strict: bool
) -> None:
    """Refuses to start when `PAYMENT_PROVIDER` names a real gateway that is not fully configured
    (each missing setting named), or — outside development — when its notify URL would not be
    HTTPS (both gateways call only HTTPS notify URLs)."""
    if provider not in GATEWAY_SETTINGS:
        return
    missing = gateway_settings_missing(provider, values)
    if missing:
        raise ImproperlyConfigured(
            f"PAYMENT_PROVIDER={provider}: not configured: {', '.join(missing)} (docs/deploy.md, "
            "Going live with Alipay / WeChat Pay)"
        )
    if strict and not public_url.startswith("https://"):
        raise ImproperlyConfigured(
            f"PAYMENT_PROVIDER={provider}: HUIBAO_PUBLIC_URL must be an https:// address (the "
            f"gateway's notifications go to it), not {public_url}"
        )
