"""`manage.py export_product CODE [--format json|yaml] [--number N] [--output FILE]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError

from huibao.catalog.io import export_product
from huibao.catalog.models import Product


class Command(BaseCommand):
    help = "Export a product version (default: the current one) as a JSON or YAML document."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("code")
        parser.add_argument("--format", choices=["json", "yaml"], default="json")
        parser.add_argument(
            "--number", type=int, dest="version_number", help="version number (default: current)"
        )
        parser.add_argument("--output", "-o", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        product = Product.objects.filter(code=options["code"]).first()
        if product is None:
            raise CommandError(f"no product with code '{options['code']}'")
        version = None
        if options["version_number"] is not None:
            version = product.versions.filter(number=options["version_number"]).first()
            if version is None:
                raise CommandError(f"{product.code} has no version {options['version_number']}")
        data = export_product(product, version)
        if options["format"] == "yaml":
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
        else:
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
