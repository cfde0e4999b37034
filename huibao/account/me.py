"""The 我的 (me) page's sections: what each domain shows a customer of their own there.

The account app sits below the domains that own a customer's policies and applications, so it
cannot read them. It announces the page on `me_sections` instead; each domain registers a
listener in its `AppConfig.ready()` answering a `MeSection` (or None, nothing to show), and the
page lays them out by `order`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from huibao.core.hooks import Hook


@dataclass(frozen=True, slots=True)
class MeLink:
    """One line of a section: a policy, an application… `detail` is a short second line."""

    label: str
    url: str
    detail: str = ""
    status: str = ""


@dataclass(frozen=True, slots=True)
class MeSection:
    key: str  # stable, for tests and anchors: "policies", "applications"
    title: str
    order: int
    links: tuple[MeLink, ...] = ()
    more_url: str = ""  # the domain's own full list
    more_label: str = ""
    empty_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# Announced with the logged-in customer when the page is drawn; listeners run in its request.
me_sections: Hook[Any, MeSection | None] = Hook("account.me_sections")


def sections_for(user: Any) -> list[MeSection]:
    """The sections the domains answer for `user`, in their order."""
    return sorted((s for s in me_sections.announce(user) if s is not None), key=lambda s: s.order)
