from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

ELDER_MODE_COOKIE = "elder_mode"

# How the banner names each sandbox part (huibao.core.deployment.PARTS).
SANDBOX_PART_LABELS = {
    "payment": _("payment gateway"),
    "payout": _("payout gateway"),
    "identity": _("real-name check"),
    "face": _("face check"),
    "insurer": _("insurer connection"),
    "sms": _("SMS"),
}


def ui_preferences(request: HttpRequest) -> dict[str, object]:
    """Elder mode (larger type, higher contrast, fewer elements) is a cookie the user switches.
    (The compare tray comes from `huibao.catalog.context_processors`.)"""
    return {
        "elder_mode": request.COOKIES.get(ELDER_MODE_COOKIE) == "1",
        # Sandbox parts allowed outside development: base.html says so on every page.
        "sandbox_parts": [SANDBOX_PART_LABELS[part] for part in settings.HUIBAO_SANDBOX_NOTICE],
        "sandbox_part_names": ",".join(settings.HUIBAO_SANDBOX_NOTICE),
    }


def backoffice(request: HttpRequest) -> dict[str, object]:
    """The back-office sections the user may open (`staff_base.html`'s navigation), computed
    only when a template asks for them."""
    from huibao.core.backoffice import sections_for

    user = getattr(request, "user", None)
    return {"backoffice_sections": lambda: sections_for(user)}
