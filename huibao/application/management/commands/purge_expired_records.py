"""`manage.py purge_expired_records [--dry-run]`: deletes applications whose retention has passed.

Lists every application whose `retention_until` is before today with what happens to it and,
for each that goes, how many related records of each kind go with it (payments, identity and face
checks, underwriting cases, signed documents); nothing whose retention has not passed is ever
touched (the model refuses as well). Audit entries are never deleted. See docs/traceability.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huibao.application.retention import PURGED_KINDS, purge, purge_candidates


class Command(BaseCommand):
    help = "Delete application records whose retention period has passed (--dry-run: list only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        results = purge_candidates() if dry_run else purge()
        deleted = 0
        totals = dict.fromkeys(PURGED_KINDS, 0)
        for c in results:
            if c.deletable:
                deleted += 1
                verb = "可删除" if dry_run else "已删除"
                line = f"{verb} {c.number}（{c.status}，保存至{c.retention_until}）"
                self.stdout.write(line + (f"：{_counts(c.counts)}" if any(c.counts.values()) else ""))
                for kind, n in c.counts.items():
                    totals[kind] = totals.get(kind, 0) + n
            else:
                self.stdout.write(f"保留 {c.number}（保存至{c.retention_until}）：{c.reason}")
        summary = f"{'可删除' if dry_run else '已删除'} {deleted} 件，保留 {len(results) - deleted} 件"
        if deleted:
            summary += f"；相关记录：{_counts(totals) if any(totals.values()) else '无'}"
        self.stdout.write(self.style.SUCCESS(summary + ("（试运行，未删除任何数据）" if dry_run else "")))


def _counts(counts: Mapping[str, int]) -> str:
    """`支付记录 1、支付事件 3…`: the kinds with at least one record."""
    return "、".join(f"{label} {counts[kind]}" for kind, label in PURGED_KINDS.items() if counts.get(kind))
