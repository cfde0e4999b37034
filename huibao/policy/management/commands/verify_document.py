"""`manage.py verify_document FILE.pdf`: what the public verification page says of a file — its
signature, and which document the platform issued it is (e-policy or 批单), by its SHA-256.
Exits 1 when the file is not, byte for byte, a document the platform issued with a valid
signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from huibao.esign.models import SignedDocumentKind
from huibao.policy.services import MAX_UPLOAD_BYTES, check_pdf


class Command(BaseCommand):
    help = "Check a PDF's platform signature and whether it is an issued e-policy or 批单."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        data = path.read_bytes()
        if len(data) > MAX_UPLOAD_BYTES:
            raise CommandError(f"{path}: larger than {MAX_UPLOAD_BYTES} bytes")
        check = check_pdf(data)
        self.stdout.write(f"sha256     {check.sha256}")
        self.stdout.write(f"signature  {'valid' if check.signature_valid else 'NOT valid'}  {check.signer}")
        for problem in check.problems:
            self.stdout.write(f"  problem  {problem}")
        if check.policy is None:
            self.stdout.write("document   none issued by the platform has these bytes")
        elif check.document_kind == SignedDocumentKind.ENDORSEMENT:
            label = SignedDocumentKind.ENDORSEMENT.label
            self.stdout.write(
                f"document   {label} {check.endorsement_number} of policy {check.policy.number}"
            )
        else:
            label = SignedDocumentKind.EPOLICY.label
            self.stdout.write(f"document   {label} of policy {check.policy.number}")
        if not (check.signature_valid and check.policy is not None):
            raise SystemExit(1)
