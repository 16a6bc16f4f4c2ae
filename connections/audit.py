"""What the audit trail records of the connection setup: every field an administrator sets (sign-in, Business Central,
the Sales settings, enabling and disabling), with secrets reduced to "set" / "blank" so that neither a secret nor its
encrypted value ever reaches the log (BC keeps the same kind of record in table 405 Change Log Entry).

Not audited: what Test Connection and the server write back (server version, base currency, solution version,
integration user, last test and finish reports) and timestamps. The log itself is django-auditlog's ``LogEntry``;
this module only registers the model, by name, so that it imports no model at start-up.
"""
from __future__ import annotations

from auditlog.registry import auditlog
from django.apps import apps

#: Shown in place of a secret that holds a value; a blank secret is shown as "".
SECRET_SET = "(set)"

#: Stored fields whose values are secrets or may carry one (the connection string may hold a password).
_MASKED_EXTRA = ("connection_string",)

#: Fields the portal writes itself (what Test Connection and the assisted setup read from the servers) and timestamps:
#: not an administrator's change. Every other field, including one added later, is audited.
_NOT_AUDITED = ("id", "server_version", "base_currency_id", "base_currency_code", "base_currency_precision",
                "is_solution_installed", "solution_version", "integration_user_id", "last_tested_at",
                "last_test_report", "last_finish_report", "created_at", "modified_at")


def mask_secret(value: str) -> str:
    """``SECRET_SET`` for a secret that holds a value, "" for a blank one; never any part of ``value``.

    django-auditlog calls it (``mask_callable``) with the string form of the old and of the new value of a masked
    field that changed, so a replaced secret shows as ``["(set)", "(set)"]`` and a first one as ``["", "(set)"]``.
    """
    return SECRET_SET if value not in ("", "None") else ""


def register() -> None:
    """Register ``ConnectionSetup`` with django-auditlog (called once from ``ConnectionsConfig.ready``).

    Every field but ``_NOT_AUDITED`` is audited; the secrets (``ConnectionSetup.SECRET_FIELDS``, from the registry
    of connection fields) and the connection string are masked by :func:`mask_secret`.
    """
    model = apps.get_model("connections", "ConnectionSetup")
    auditlog.register(model, exclude_fields=list(_NOT_AUDITED), mask_fields=[*model.SECRET_FIELDS, *_MASKED_EXTRA],
                      mask_callable="connections.audit.mask_secret")
