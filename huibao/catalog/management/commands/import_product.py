"""`manage.py import_product FILE [--publish]`: a product document (.json, .yaml or .yml) as a draft."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError

from huibao.catalog.services import import_product, publish_version
from huibao.core.errors import DomainError


def read_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        return yaml.safe_load(text)
    if path.suffix.lower() == ".json":
        return json.loads(text)
    raise CommandError(f"{path}: use a .json, .yaml or .yml file")


class Command(BaseCommand):
    help = "Import a product document as a draft version; --publish puts it on sale."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--publish", action="store_true", help="publish the imported version")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            data = read_document(path)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise CommandError(f"{path}: not valid {path.suffix[1:]}: {exc}") from exc
        try:
            version = import_product(data, actor="import_product")
            if options["publish"]:
                version = publish_version(version, actor="import_product")
        except DomainError as exc:
            lines = [f"{path}: {exc.message}"] + [f"  {e.field}: {e.message}" for e in exc.errors]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"{version.product.code} v{version.number} imported ({version.status}).")
        )
