"""Model fields of the portal."""
from __future__ import annotations

from typing import Any

from django.db import models

from base import crypto


class EncryptedTextField(models.TextField):
    """A text column whose value is stored Fernet-encrypted (see :mod:`base.crypto`).

    In Python the attribute holds the plaintext; the database only ever sees ciphertext. Forms must never render
    the value back: use a masked "leave blank to keep" widget. Decrypting a value whose key is gone raises
    :class:`base.crypto.SecretUnreadable`.
    """

    description = "Text encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        return crypto.decrypt(value or "")

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        return crypto.encrypt(value or "")
