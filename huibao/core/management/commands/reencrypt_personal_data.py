"""`manage.py reencrypt_personal_data`: re-seal every encrypted value under the primary key.

Run after putting a new key first in HUIBAO_DATA_KEYS; when it reports nothing left, the old
keys can be removed. Safe to re-run and to interrupt: each batch commits on its own, and rows
already under the primary key are skipped in the database query itself.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models.functions import Cast

from huibao.core.crypto import PREFIX, key_ring
from huibao.core.fields import EncryptedTextField


def encrypted_fields_by_model() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every concrete model with the EncryptedTextFields it declares itself (not inherited)."""
    found: list[tuple[type[models.Model], list[EncryptedTextField]]] = []
    for model in apps.get_models():
        opts = model._meta
        if opts.proxy or not opts.managed:
            continue
        fields = [f for f in opts.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return found


def _raw_alias(field: EncryptedTextField) -> str:
    return f"_raw_{field.attname}"


def reencrypt_model(model: type[models.Model], fields: list[EncryptedTextField], *, batch_size: int) -> int:
    """Re-seals, batch by batch, the values of `fields` not under the primary key; returns the count."""
    ring = key_ring()
    current = f"{PREFIX}:{ring.primary_id}:"
    # Cast to a plain TextField reads the stored ciphertext: the encrypted field's from_db_value
    # (which decrypts) is not applied to an expression whose output field is a TextField.
    raw = {_raw_alias(f): Cast(f.attname, output_field=models.TextField()) for f in fields}
    stale = models.Q()
    for field in fields:
        stale |= models.Q(**{f"{_raw_alias(field)}__gt": ""}) & ~models.Q(
            **{f"{_raw_alias(field)}__startswith": current}
        )
    manager = model._base_manager
    pk_name = model._meta.pk.attname
    resealed = 0
    last_pk: Any = None
    while True:
        with transaction.atomic():
            queryset = manager.annotate(**raw).filter(stale).order_by(pk_name)
            if last_pk is not None:
                queryset = queryset.filter(**{f"{pk_name}__gt": last_pk})
            rows = list(queryset.select_for_update().values(pk_name, *raw.keys())[:batch_size])
            for row in rows:
                changes: dict[str, str] = {}
                for field in fields:
                    token = row[_raw_alias(field)]
                    if token and not token.startswith(current):
                        # Opening with the field itself checks the context; update() re-seals.
                        changes[field.attname] = field.from_db_value(token, None, None)
                if changes:
                    manager.filter(**{pk_name: row[pk_name]}).update(**changes)
                    resealed += len(changes)
        if len(rows) < batch_size:
            return resealed
        last_pk = rows[-1][pk_name]


class Command(BaseCommand):
    help = "Re-encrypt every personal-data value that is not under the primary key of HUIBAO_DATA_KEYS."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = max(1, int(options["batch_size"]))
        self.stdout.write(f"primary key: {key_ring().primary_id}")
        total = 0
        for model, fields in encrypted_fields_by_model():
            count = reencrypt_model(model, fields, batch_size=batch_size)
            total += count
            names = ", ".join(f.name for f in fields)
            self.stdout.write(f"{model._meta.label}: {count} value(s) re-encrypted ({names})")
        self.stdout.write(self.style.SUCCESS(f"done: {total} value(s) re-encrypted"))
