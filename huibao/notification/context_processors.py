"""The header's 消息 link: a logged-in customer's unread in-site messages, on every page."""

from __future__ import annotations

from django.http import HttpRequest

from huibao.notification import selectors

CUSTOMER_KIND = "customer"  # account.UserKind.CUSTOMER (account sits above notification)
BADGE_MAX = 99


def inbox_badge(request: HttpRequest) -> dict[str, object]:
    """`header_inbox` is None for visitors and staff (no link); else the unread count (one COUNT
    query) and how the badge shows it ("99+" beyond 99)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "kind", None) != CUSTOMER_KIND:
        return {"header_inbox": None}
    count = selectors.unread_count(user)
    return {"header_inbox": {"unread": count, "badge": f"{BADGE_MAX}+" if count > BADGE_MAX else str(count)}}
