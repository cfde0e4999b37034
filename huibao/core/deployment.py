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
