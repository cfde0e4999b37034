"""`manage.py verify_evidence_proof FILE.json [--chain]`: check an evidence proof (as answered by
`GET /api/v1/evidence/{kind}/{leaf_ref}/proof`). Offline it needs nothing but the file: the leaf
hashes up its path to the root, the root and size are those of the audit entry in the file, and
that entry matches its hash. `--chain` also checks that the database's audit chain holds that
entry at that seq. Exit 2 when the proof fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from huibao.core.evidence import check_proof, check_proof_in_chain


class Command(BaseCommand):
    help = "Check an evidence inclusion proof (offline; --chain: against the audit chain too)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="the proof, as JSON")
        parser.add_argument(
            "--chain", action="store_true", help="also check the entry is in this database's chain"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            proof = json.loads(Path(options["file"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        if not isinstance(proof, dict):
            raise CommandError("not a proof: expected a JSON object", returncode=2)
        result = check_proof_in_chain(proof) if options["chain"] else check_proof(proof)
        for problem in result.problems:
            self.stdout.write(f"problem: {problem}")
        if not result.ok:
            raise CommandError("evidence proof FAILED", returncode=2)
        where = "against the audit chain" if options["chain"] else "offline"
        self.stdout.write(
            self.style.SUCCESS(
                f"proof OK ({where}): {proof['kind']}/{proof['leaf_ref']} is leaf {proof['index']} of "
                f"{proof['size']} under root {proof['root']}, audit entry {proof['audit_seq']}"
            )
        )
