"""``python manage.py rotate_encryption_key``: re-encrypt every stored secret with the first key of
``PORTAL_ENCRYPTION_KEY``.

Rotation (portal/crypto.py): put the new key first and keep the old one after it
(``PORTAL_ENCRYPTION_KEY=new,old``), run this command, then drop the old key.
"""
from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from base import crypto
from base.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt every secret stored in an EncryptedTextField with the first PORTAL_ENCRYPTION_KEY key."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
                if not fields:
                    continue
                names = [f.attname for f in fields]
                # Read the ciphertext as stored (no decryption), rotate it, write it back row by row.
                for pk in model._base_manager.values_list("pk", flat=True).iterator():
                    try:
                        rotated = {name: crypto.rotate(self._raw(model, pk, name)) for name in names}
                    except crypto.SecretUnreadable as error:
                        raise CommandError(f"{model._meta.label} {pk}: {error}") from None
                    self._write(model, pk, rotated)
                    total += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {total} rows."))

    @staticmethod
    def _raw(model: Any, pk: Any, name: str) -> str:
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(model._meta.get_field(name).column)
        key = connection.ops.quote_name(model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE {key} = %s",
                           [model._meta.pk.get_db_prep_value(pk, connection)])
            value = cursor.fetchone()[0]
        return value or ""

    @staticmethod
    def _write(model: Any, pk: Any, values: dict[str, str]) -> None:
        table = connection.ops.quote_name(model._meta.db_table)
        key = connection.ops.quote_name(model._meta.pk.column)
        assignments = ", ".join(f"{connection.ops.quote_name(model._meta.get_field(n).column)} = %s" for n in values)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {assignments} WHERE {key} = %s",
                           [*values.values(), model._meta.pk.get_db_prep_value(pk, connection)])
