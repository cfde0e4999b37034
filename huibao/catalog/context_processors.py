"""The compare tray on every page: its count from the session, its products only loaded if a page
shows them (`base.html`)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from huibao.catalog.web.compare import TRAY_SESSION_KEY
from huibao.catalog.web.queries import products_for_compare


def compare_tray(request: HttpRequest) -> dict[str, object]:
    session = getattr(request, "session", None)
    codes = [str(c) for c in (session.get(TRAY_SESSION_KEY) or [])] if session is not None else []
    return {
        "compare_count": len(codes),
        "compare_codes": codes,  # a product's 加入对比 button shows 已加入 when its code is here
        "compare_tray_products": SimpleLazyObject(lambda: products_for_compare(codes)),
    }
