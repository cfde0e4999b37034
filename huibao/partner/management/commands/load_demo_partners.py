"""`manage.py load_demo_partners`: the demo partners and their HMAC clients (huibao/partner/demo.py).

Prints each demo client's key id and secret, as `setup_demo` prints the demo staff's TOTP
secrets: they are demo credentials, for trying the partner API (docs/partner-api.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.partner.demo import load_demo_partners


class Command(BaseCommand):
    help = "Load the demo partners (a channel 'demo-shop' and an insurer) with an HMAC API client each."

    def handle(self, *args: Any, **options: Any) -> None:
        for client in load_demo_partners():
            label = f"{'partner API':<18}  partner {client.partner:<15}"
            self.stdout.write(f"{label}  keyid {client.key_id}  secret {client.secret}")
