from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

ELDER_MODE_COOKIE = "elder_mode"
COMPARE_SESSION_KEY = "compare_codes"  # the compare tray (huibao.catalog.web.compare)


def _tray_products(codes: list[str]) -> Any:
    # Imported here: core must not import the catalog at module load (the catalog imports core).
    from huibao.catalog.web.queries import products_for_compare

    return products_for_compare(codes)


# How the banner names each sandbox part (huibao.core.deployment.PARTS).
SANDBOX_PART_LABELS = {
    "payment": _("payment gateway"),
    "identity": _("real-name check"),
    "face": _("face check"),
    "insurer": _("insurer connection"),
    "sms": _("SMS"),
}


def ui_preferences(request: HttpRequest) -> dict[str, object]:
    """Elder mode (larger type, higher contrast, fewer elements) is a cookie the user switches;
    the compare tray is read from the session (its products only loaded if a page shows them)."""
    session = getattr(request, "session", None)
    codes = [str(c) for c in (session.get(COMPARE_SESSION_KEY) or [])] if session is not None else []
    return {
        "elder_mode": request.COOKIES.get(ELDER_MODE_COOKIE) == "1",
        "compare_count": len(codes),
        "compare_tray_products": SimpleLazyObject(lambda: _tray_products(codes)),
        # Sandbox parts allowed outside development: base.html says so on every page.
        "sandbox_parts": [SANDBOX_PART_LABELS[part] for part in settings.HUIBAO_SANDBOX_NOTICE],
        "sandbox_part_names": ",".join(settings.HUIBAO_SANDBOX_NOTICE),
    }
