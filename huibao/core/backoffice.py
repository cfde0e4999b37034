"""The back office's sections: each app registers the staff pages it has (in its
`AppConfig.ready()`), and `staff_base.html` lists those the signed-in user may open.

    register_section("finance.settlements", _("结算"), "finance:settlements", perm="finance.view_settlement")

A section with no permission is shown to every staff user (`is_staff`); one with a `test`
callable is shown when it returns true for the user (an agent's own pages, say). A section
registered with `home=True` is where a user who may open it lands after logging in (an agent on
the agent tool); `home_for` answers it.
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
    home: bool = False


_sections: dict[str, Section] = {}


def register_section(
    key: str,
    label: Any,
    url_name: str,
    *,
    perm: str = "",
    test: Callable[[Any], bool] | None = None,
    order: int = 500,
    home: bool = False,
) -> None:
    _sections[key] = Section(key, label, url_name, perm, test, order, home)


def _may_open(section: Section, user: Any) -> bool:
    if section.test is not None:
        return section.test(user)
    if section.perm:
        return bool(user.has_perm(section.perm))
    return bool(user.is_staff)


def _visible(user: Any) -> list[tuple[Section, str]]:
    if not getattr(user, "is_authenticated", False):
        return []
    shown = []
    for section in sorted(_sections.values(), key=lambda s: (s.order, s.key)):
        if not _may_open(section, user):
            continue
        try:
            url = reverse(section.url_name)
        except NoReverseMatch:
            continue
        shown.append((section, url))
    return shown


def sections_for(user: Any) -> list[dict[str, Any]]:
    return [{"key": s.key, "label": s.label, "url": url} for s, url in _visible(user)]


def home_for(user: Any) -> str | None:
    """The page `user` lands on after logging in: the first home section they may open, or None
    (the caller's default)."""
    return next((url for s, url in _visible(user) if s.home), None)
