"""The back office's sections: each app registers the staff pages it has (in its
`AppConfig.ready()`), and `staff_base.html` lists those the signed-in user may open.

    register_section("finance.settlements", _("结算"), "finance:settlements", perm="finance.view_settlement")

A section with no permission is shown to every staff user (`is_staff`); one with a `test`
callable is shown when it returns true for the user (an agent's own pages, say).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    label: Any  # a lazy translation
    url_name: str
    perm: str = ""
    test: Callable[[Any], bool] | None = None
    order: int = 500


_sections: dict[str, Section] = {}


def register_section(
    key: str,
    label: Any,
    url_name: str,
    *,
    perm: str = "",
    test: Callable[[Any], bool] | None = None,
    order: int = 500,
) -> None:
    _sections[key] = Section(key, label, url_name, perm, test, order)


def sections_for(user: Any) -> list[dict[str, Any]]:
    if not getattr(user, "is_authenticated", False):
        return []
    shown = []
    for section in sorted(_sections.values(), key=lambda s: (s.order, s.key)):
        if section.test is not None:
            if not section.test(user):
                continue
        elif section.perm:
            if not user.has_perm(section.perm):
                continue
        elif not user.is_staff:
            continue
        try:
            url = reverse(section.url_name)
        except NoReverseMatch:
            continue
        shown.append({"key": section.key, "label": section.label, "url": url})
    return shown
