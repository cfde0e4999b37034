"""Pure rules of the provider network: region codes (GB/T 2260 prefixes), matching a region by
longest prefix, and ranking the providers that can take a task. No Django, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_REGION_SHAPE = re.compile(r"^\d{2}(\d{2}(\d{2})?)?$")


def normalise_region(code: str) -> str | None:
    """A GB/T 2260 code as the prefix it stands for: "440000" → "44" (a province), "440300" →
    "4403" (a city), "440305" stays; "44" and "4403" are accepted as prefixes. None when it is not
    2, 4 or 6 digits (whether the division exists is the caller's check: it needs the table)."""
    code = (code or "").strip()
    if not _REGION_SHAPE.match(code):
        return None
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def padded(prefix: str) -> str:
    """The 6-digit code of a prefix ("44" → "440000"), as the division table names it."""
    return prefix.ljust(6, "0")


def region_match(served: Iterable[str], region: str) -> int:
    """The length of the longest prefix in `served` that `region` falls in (0: none). A provider
    serving "4403" (深圳) matches "440305" with 4, one serving "44" (广东) with 2."""
    best = 0
    for prefix in served:
        if prefix and region.startswith(prefix) and len(prefix) > best:
            best = len(prefix)
    return best


@dataclass(frozen=True, slots=True)
class Candidate:
    """What ranking needs to know of one provider."""

    id: int
    name: str
    capabilities: frozenset[str]
    regions: tuple[str, ...]
    open_tasks: int
    active: bool = True
    excluded_by: frozenset[str] = frozenset()  # insurer codes that do not use this provider


@dataclass(frozen=True, slots=True)
class Ranked:
    candidate: Candidate
    match: int  # length of the matching region prefix


def rank_providers(
    candidates: Iterable[Candidate],
    *,
    kind: str,
    region: str,
    insurer: str = "",
    skip: frozenset[int] = frozenset(),
) -> list[Ranked]:
    """The providers able to take a task of `kind` in `region`, best first: active, capable, not
    excluded by `insurer`, not in `skip` (those that already declined), serving the region; ranked
    by the most specific region match, then the fewest open tasks, then name and id (stable)."""
    found = []
    for c in candidates:
        if not c.active or kind not in c.capabilities or c.id in skip:
            continue
        if insurer and insurer in c.excluded_by:
            continue
        match = region_match(c.regions, region)
        if match:
            found.append(Ranked(c, match))
    found.sort(key=lambda r: (-r.match, r.candidate.open_tasks, r.candidate.name, r.candidate.id))
    return found


def status_line(status: str, *, kind_label: str, provider_name: str, note: str = "") -> str:
    """The Chinese line a customer's timeline shows for a task in `status`."""
    lines = {
        "offered": f"已为您安排{kind_label}服务：{provider_name}，等待服务商接单",
        "accepted": f"{provider_name}已接单，将尽快为您提供{kind_label}服务",
        "in_progress": f"{provider_name}正在为您提供{kind_label}服务",
        "completed": f"{provider_name}已完成{kind_label}服务",
        "declined": f"{provider_name}无法提供{kind_label}服务，正在为您改派",
        "cancelled": f"{kind_label}服务已取消",
        "unassigned": f"暂无可用的{kind_label}服务商，工作人员将为您人工安排",
    }
    line = lines.get(status, f"{kind_label}服务：{status}")
    return f"{line}（{note}）" if note else line


@dataclass(frozen=True, slots=True)
class TaskSubject:
    """What a task is about, as its owner names it (the provider app imports no claim): `kind`
    ("claim"), the owner's `reference` (the claim number), the incident's GB/T 2260 `region`, a
    short `summary` the provider reads, and the `insurer` code (providers it excludes are not
    offered the task)."""

    kind: str
    reference: str
    region: str
    summary: str = ""
    insurer: str = ""
