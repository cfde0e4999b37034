"""Model fields for personal data: encrypted at rest, with a keyed hash for look-ups."""

from __future__ import annotations

from typing import Any

from django.db import models

from huibao.core.crypto import key_ring


class EncryptedTextField(models.TextField):
    """Stores `str` encrypted (see `huibao.core.crypto`); Python code sees plaintext.

    `context` (default: the column name) is bound into the ciphertext as associated data.
    Encrypted columns cannot be filtered on: query the `*_hash` column with `lookup_hash()`.
    """

    def __init__(self, *args: Any, context: str | None = None, **kwargs: Any) -> None:
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.context:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    def _context(self) -> str:
        return self.context or self.column or self.name

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return key_ring().seal(str(value), context=self._context())

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return key_ring().open(value, context=self._context())

    def to_python(self, value: Any) -> Any:
        return value

    def get_lookup(self, lookup_name: str) -> Any:
        # Ciphertexts are randomised, so `filter(phone=x)` would silently match nothing: only
        # `isnull` is allowed; exact matches go through the `*_hash` column.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)


def lookup_hash(value: str, *, context: str) -> str:
    """Keyed hash of a normalised value for exact-match look-ups on the `*_hash` column."""
    return key_ring().lookup_hash(value.strip().upper(), context=context)
