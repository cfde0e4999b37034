"""Compiles every .po catalog of the project into its .mo with polib: no gettext binaries needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def po_files(roots: list[Path]) -> list[Path]:
    return sorted(p for root in roots if root.is_dir() for p in root.glob("*/LC_MESSAGES/*.po"))


def compile_po(path: Path) -> Path:
    """Writes `path` with a .mo suffix; fuzzy and untranslated entries are left out, as msgfmt does."""
    catalog = polib.pofile(str(path))
    target = path.with_suffix(".mo")
    catalog.save_as_mofile(str(target))
    return target


class Command(BaseCommand):
    help = "Compile the .po translation catalogs of LOCALE_PATHS (or the given directories) into .mo files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "locale_dirs", nargs="*", help="locale directories (default: settings.LOCALE_PATHS)"
        )
        parser.add_argument(
            "--check", action="store_true", help="fail if a .mo is missing or older than its .po"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        roots = [Path(d) for d in options["locale_dirs"]] or [Path(p) for p in settings.LOCALE_PATHS]
        stale = []
        for path in po_files(roots):
            mo = path.with_suffix(".mo")
            if options["check"]:
                if not mo.exists() or mo.stat().st_mtime < path.stat().st_mtime:
                    stale.append(str(mo))
                continue
            compile_po(path)
            self.stdout.write(f"compiled {mo}")
        if stale:
            raise CommandError(
                "stale translations (run `manage.py compile_translations`): " + ", ".join(stale)
            )
