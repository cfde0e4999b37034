"""The claim figures page (/claims/figures/): the share of claims decided by the system and the
times to decision and payment, per product and per week. Verified staff with
`claim.view_claim_figures` (claims adjusters, finance)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from huibao.account.access import staff_required
from huibao.claim import figures

PERMISSION = "claim.view_claim_figures"


def _weeks(raw: str) -> int:
    try:
        return max(1, min(int(raw), figures.MAX_WEEKS))
    except ValueError:
        return figures.DEFAULT_WEEKS


def hours(seconds: float | None) -> str:
    """A duration for people: seconds, minutes, hours or days."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


@never_cache
@require_GET
@staff_required(permission=PERMISSION)
def page(request: HttpRequest) -> HttpResponse:
    weeks = _weeks(request.GET.get("weeks", ""))
    product = request.GET.get("product", "").strip()[:48]
    since, until = figures.window(weeks)
    found = figures.claim_figures(since=since, until=until, product_code=product)

    def show(row: figures.Row) -> dict[str, object]:
        return {
            "row": row,
            "share": f"{row.auto_share * 100:.1f}%" if row.auto_share is not None else "—",
            "paid_p50": hours(row.report_to_paid.p50),
            "paid_p90": hours(row.report_to_paid.p90),
            "decided_p50": hours(row.complete_to_decided.p50),
            "decided_p90": hours(row.complete_to_decided.p90),
        }

    context = {
        "figures": found,
        "weeks": weeks,
        "product": product,
        "total": show(found.total),
        "products": [show(r) for r in found.products],
        "rows": [show(r) for r in found.rows],
    }
    return render(request, "claim/pages/figures.html", context)
