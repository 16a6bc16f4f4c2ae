"""Saving a connection setup: its fields from form, wizard or command data, validation, and the change log that
records every changed field (secrets masked) and every action (BC: table 5330 CRM Connection Setup).

Nothing here calls a remote service or renders a secret.
"""
from __future__ import annotations

import copy
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from connections.environment import connection_string_build, normalise_environment_url
from connections.fields import EDITABLE_FIELDS, SALES_SETTINGS
from connections.models import ConnectionSetup, ConnectionSetupChange
from connections.validation import validate_bc_authentication, validate_sales_order_options

logger = logging.getLogger(__name__)


AuthType = ConnectionSetup.AuthenticationType


BCAuthType = ConnectionSetup.BCAuthenticationType


User = AbstractBaseUser | AnonymousUser | None




def _display(connection: ConnectionSetup, name: str, value: Any) -> str:
    if name in ConnectionSetup.SECRET_FIELDS:
        return ConnectionSetupChange.MASK if value else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _record(connection: ConnectionSetup, user: User, *, field_name: str = "", action: str = "", old: str = "",
            new: str = "") -> None:
    real_user = user if user is not None and getattr(user, "is_authenticated", False) else None
    ConnectionSetupChange.objects.create(
        connection=connection, user=real_user, username=real_user.get_username() if real_user else "system",
        field=field_name, action=action, old_value=old[:2000], new_value=new[:2000],
    )


def connection_action_record(*, connection: ConnectionSetup, user: User, action: str, outcome: str = "") -> None:
    """Record an action (test, enable, disable, solution import, default configuration) in the change log."""
    _record(connection, user, action=action, new=outcome)


def connection_changes_apply(connection: ConnectionSetup, user: User, values: dict[str, Any]) -> list[str]:
    """Set ``values`` on ``connection``, record each real change (secrets masked) and save the changed fields.
    Returns the names of the changed fields. Blank secrets mean "keep" and are ignored."""
    changed: list[str] = []
    for name, value in values.items():
        if name in ConnectionSetup.SECRET_FIELDS and not value:
            continue
        old = getattr(connection, name)
        if old == value:
            continue
        _record(connection, user, field_name=name, old=_display(connection, name, old),
                new=_display(connection, name, value))
        setattr(connection, name, value)
        changed.append(name)
    if changed and connection.pk and not connection._state.adding:
        connection.save(update_fields=[*changed, "modified_at"])
    return changed


def _company_fields(value: str) -> dict[str, Any]:
    """A company typed as an id or a name; the other field is cleared (Test Connection fills it in)."""
    value = (value or "").strip()
    try:
        return {"bc_company_id": uuid.UUID(value), "bc_company_name": ""}
    except ValueError:
        return {"bc_company_name": value, "bc_company_id": None} if value else {}


def _values_from_data(data: dict[str, Any]) -> dict[str, Any]:
    """Pick the connection setup's fields out of form/wizard/command data; build the connection string."""
    values = {name: data[name] for name in (*EDITABLE_FIELDS, *ConnectionSetup.SECRET_FIELDS, *SALES_SETTINGS)
              if name in data and data[name] is not None}
    if "bc_company" in data:
        values.update(_company_fields(data["bc_company"]))
    if values.get("dataverse_url"):
        values["dataverse_url"] = normalise_environment_url(values["dataverse_url"], allow_drop_path=True).url
    if "authentication_type" in values and values.get("dataverse_url") is not None:
        values["connection_string"] = connection_string_build(
            authentication_type=values["authentication_type"], url=values.get("dataverse_url", ""),
            client_id=values.get("client_id", ""), username=values.get("username", ""),
            redirect_uri=data.get("redirect_uri", ""), certificate_thumbprint=values.get("certificate_thumbprint", ""),
            web_api_version=values.get("web_api_version", "9.2"),
        )
    return values


def missing_sign_in_settings(connection: ConnectionSetup) -> list[str]:
    """Return what is missing for the connection to sign in (messages naming the field)."""
    missing = []
    if not connection.dataverse_url:
        missing.append("Enter the Dynamics 365 Sales environment URL.")
    if not connection.tenant_id:
        missing.append("Enter the tenant ID.")
    if not connection.client_id:
        missing.append("Enter the client ID of the app registration.")
    if connection.authentication_type == AuthType.CLIENT_SECRET and not connection.client_secret:
        missing.append("Enter the client secret.")
    if connection.authentication_type == AuthType.CERTIFICATE and not (
        connection.certificate and connection.certificate_thumbprint
    ):
        missing.append("Enter the certificate private key (PEM) and its thumbprint.")
    if connection.authentication_type == AuthType.OAUTH and not (connection.username and connection.password):
        missing.append("Enter the integration user's user name and password.")
    return missing


def connection_values_save(*, connection: ConnectionSetup | None, data: dict[str, Any],
                           user: User) -> tuple[ConnectionSetup, list[str]]:
    """Create or update a connection setup from cleaned form data, recording every changed field.

    ``data`` keys are the model's field names (secrets plaintext; blank secret = keep the stored one), plus
    ``bc_company`` (a company id or name) and ``redirect_uri`` for the OAuth connection string. Sales options are
    validated (legacy and bi-directional exclude each other). Returns the connection and the names of the fields
    that changed (every field given, for a new connection). Raises ValidationError, also for Basic sign-in (web
    service access key) with a Business Central online API URL, which BC online refuses (the stored connection's
    values complete ``data``). Atomic: nothing half-saved.
    What a change means for the mappings (the ownership model) is applied by
    :func:`connections.actions.configuration.connection_save`, which calls this.
    """
    values = _values_from_data(data)
    merged = {name: values.get(name, getattr(connection, name, False)) for name in
              ("legacy_sales_order_integration", "bidirectional_sales_order_integration", "auto_create_sales_orders")}
    validate_sales_order_options(legacy=merged["legacy_sales_order_integration"],
                                 bidirectional=merged["bidirectional_sales_order_integration"],
                                 auto_create=merged["auto_create_sales_orders"])
    with transaction.atomic():
        if connection is None:
            name = values.get("name") or "Dynamics 365 Sales"
            connection = ConnectionSetup.objects.filter(name=name).first()
        if connection is not None:
            connection = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
        stored = connection or ConnectionSetup()
        validate_bc_authentication(
            api_url=values.get("bc_api_url", stored.bc_api_url),
            authentication_type=values.get("bc_authentication_type", stored.bc_authentication_type))
        if connection is None:
            connection = ConnectionSetup(**values)
            connection.save()
            _record(connection, user, action="Created", new=connection.name)
            for name, value in values.items():
                _record(connection, user, field_name=name, new=_display(connection, name, value))
            changed = list(values)
        else:
            changed = connection_changes_apply(connection, user, values)
    logger.info("Connection setup %s saved by %s", connection.name, getattr(user, "username", "system"))
    return connection, changed


def default_web_client_url(connection: ConnectionSetup) -> str:
    """The BC web client URL derived from the API URL (BC: table 5330 CRM Connection Setup, field 69 Dynamics NAV
    URL; page 5330 action "Reset Web Client URL").

    ``https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0`` gives
    ``https://businesscentral.dynamics.com/<tenant>/<environment>``; any other API URL gives its part before
    ``/api/``. Empty when no API URL is set."""
    url = connection.bc_api_url
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.hostname == "api.businesscentral.dynamics.com":
        segments = [s for s in parts.path.split("/") if s]
        rest = segments[1:segments.index("api")] if "api" in segments else segments[1:]
        return "https://businesscentral.dynamics.com/" + "/".join(rest)
    return url.split("/api/", 1)[0].rstrip("/")


def connection_web_client_url_reset(*, connection: ConnectionSetup, user: User) -> str:
    """Reset the BC web client URL to :func:`default_web_client_url`; returns it."""
    url = default_web_client_url(connection)
    with transaction.atomic():
        connection_changes_apply(connection, user, {"bc_web_client_url": url})
    return url


def connection_from_data(*, data: dict[str, Any], existing: ConnectionSetup | None = None) -> ConnectionSetup:
    """An UNSAVED connection setup built from wizard or command data (the same fields as :func:`connection_save`
    reads), for remote reads before Finish saves anything. Secrets left blank keep ``existing``'s stored ones (the
    wizard's "blank = keep"). Never saved: its primary key is cleared."""
    values = _values_from_data(data)
    probe = copy.copy(existing) if existing is not None else ConnectionSetup()
    probe.pk = None
    probe._state.adding = True
    for name, value in values.items():
        if name in ConnectionSetup.SECRET_FIELDS and not value:
            continue
        setattr(probe, name, value)
    return probe

