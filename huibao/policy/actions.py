"""What can I do with this policy: the per-policy actions hub.

Each servicing feature registers its action once, in its AppConfig.ready()::

    from huibao.policy.actions import register_action
    register_action(
        "cancel", label=_("退保"), url_name="policy:cancel", order=300,
        available=lambda policy, user: policy.status in CANCELLABLE,
    )

`actions_for(policy, user)` answers the actions available for that policy to that user, lowest
`order` first: the policy detail page lists them at its top, "my policies" shows the first one
(the most relevant), the API returns them all. Order bands (keep to them so the first action is
the one that matters most):

    1–99     urgent, shown highlighted: pay now in grace, renew when an offer is open
    100–199  documents and payments: e-policy, premiums
    200–399  servicing: changes, payment authorisation, cancellation/surrender
    400–899  history, verification
    900+     help: contact customer service

The URL of an action is `reverse(url_name, kwargs=url_kwargs(policy))`, by default
`{"public_id": policy.public_id}`, with an optional `#fragment`. An action whose URL name does
not reverse (its page is not built yet: `policy:premiums` until the lifecycle pages land) is left
out rather than raising — so a feature may register its action before its page exists, and the
hub shows it as soon as the URL is there. `available` is called only for actions that reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

from huibao.policy.models import Policy

Available = Callable[[Policy, Any], bool]
UrlKwargs = Callable[[Policy], Mapping[str, Any]]

URGENT_BEFORE = 100


@dataclass(frozen=True, slots=True)
class PolicyAction:
    """One available action of a policy, ready to show: its label in the current language."""

    key: str
    label: str
    url: str
    order: int
    icon: str = ""
    group: str = ""
    api_url: str = ""

    @property
    def urgent(self) -> bool:
        return self.order < URGENT_BEFORE


@dataclass(frozen=True, slots=True)
class _Registered:
    key: str
    label: str | Promise
    url_name: str
    order: int
    available: Available
    icon: str
    group: str
    url_kwargs: UrlKwargs | None
    fragment: str
    api_url_name: str


_registry: dict[str, _Registered] = {}


def _default_kwargs(policy: Policy) -> Mapping[str, Any]:
    return {"public_id": policy.public_id}


def register_action(
    key: str,
    *,
    label: str | Promise,
    url_name: str,
    order: int,
    available: Available,
    icon: str = "",
    group: str = "",
    url_kwargs: UrlKwargs | None = None,
    fragment: str = "",
    api_url_name: str = "",
) -> None:
    """Registers (or, under the same key, replaces: ready() may run twice in tests) an action.
    `api_url_name` is the API operation doing the same (reversed with the same kwargs), if any."""
    if not key:
        raise ValueError("register_action(): a key is required")
    _registry[key] = _Registered(
        key=key,
        label=label,
        url_name=url_name,
        order=order,
        available=available,
        icon=icon,
        group=group,
        url_kwargs=url_kwargs,
        fragment=fragment,
        api_url_name=api_url_name,
    )


def unregister_action(key: str) -> None:
    _registry.pop(key, None)


def registered_keys() -> list[str]:
    return sorted(_registry, key=lambda k: (_registry[k].order, k))


def _reverse(url_name: str, kwargs: Mapping[str, Any]) -> str | None:
    try:
        return reverse(url_name, kwargs=dict(kwargs))
    except NoReverseMatch:
        return None


def actions_for(policy: Policy, user: Any) -> list[PolicyAction]:
    """The actions `user` may take on `policy` now, lowest order first (then by key). The caller
    has checked the user may see the policy."""
    found: list[PolicyAction] = []
    for entry in sorted(_registry.values(), key=lambda e: (e.order, e.key)):
        kwargs = (entry.url_kwargs or _default_kwargs)(policy)
        url = _reverse(entry.url_name, kwargs)
        if url is None:  # its page is not there (yet): see the module's docstring
            continue
        if not entry.available(policy, user):
            continue
        api_url = _reverse(entry.api_url_name, kwargs) if entry.api_url_name else None
        found.append(
            PolicyAction(
                key=entry.key,
                label=str(entry.label),
                url=f"{url}#{entry.fragment}" if entry.fragment else url,
                order=entry.order,
                icon=entry.icon,
                group=entry.group,
                api_url=api_url or "",
            )
        )
    return found


def most_relevant(actions: list[PolicyAction]) -> PolicyAction | None:
    """What "my policies" shows beside a policy: its first action."""
    return actions[0] if actions else None
