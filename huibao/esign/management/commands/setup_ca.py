"""`manage.py setup_ca`: create the platform CA and document-signing certificate (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from huibao.esign.ca import ensure_platform_ca


class Command(BaseCommand):
    help = "Create (once) the platform root CA and the e-policy signing certificate; print fingerprints."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--directory", type=Path, default=None, help="default: VAR_DIR/ca")

    def handle(self, *args: Any, **options: Any) -> None:
        ca = ensure_platform_ca(options["directory"])
        self.stdout.write(f"directory        {ca.directory}")
        self.stdout.write(f"root CA          {ca.root_cert.subject.rfc4514_string()}")
        self.stdout.write(f"  SHA-256        {ca.root_fingerprint}")
        self.stdout.write(f"  valid until    {ca.root_cert.not_valid_after_utc:%Y-%m-%d}")
        self.stdout.write(f"signing cert     {ca.signing_cert.subject.rfc4514_string()}")
        self.stdout.write(f"  SHA-256        {ca.signing_fingerprint}")
        self.stdout.write(f"  valid until    {ca.signing_cert.not_valid_after_utc:%Y-%m-%d}")
