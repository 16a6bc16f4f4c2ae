"""The one list of connection setup fields: label, help, whether it is a secret, which authentication type shows it,
and how ``manage.py setup_connection`` takes it. The setup page, the wizard, the command, the change log and the
model all read it (BC: table 5330 CRM Connection Setup and table 7200 CDS Connection Setup, their fields).

Authentication types are the stored values of ``ConnectionSetup.AuthenticationType`` (Dataverse) and
``ConnectionSetup.BCAuthenticationType`` (BC); ``tests/connections/test_fields.py`` checks they are real choices.
This module imports nothing of the project, so the model can read it too.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionField:
    """One input of the connection setup.

    ``group`` is where it belongs: "connection" (Dataverse environment and sign-in), "business central", "sales"
    (the Sales settings) or "finish" (used once by the assisted setup, never stored). ``shown_for`` lists the
    authentication types that use it (empty: every type). ``secret`` fields are encrypted at rest, never rendered
    back and masked in the change log; blank means "keep the stored value". ``option`` is the command's option (a
    secret's option names a file, and ``variable`` the environment variable read instead); "" = not an option.
    """

    name: str
    label: str
    group: str
    help_text: str = ""
    secret: bool = False
    stored: bool = True
    shown_for: tuple[str, ...] = ()
    option: str = ""
    variable: str = ""


_CLIENT_SECRET, _CERTIFICATE, _OAUTH = "ClientSecret", "Certificate", "OAuth"
_BC_OAUTH, _BC_BASIC = "OAuth", "Basic"

FIELDS: tuple[ConnectionField, ...] = (
    ConnectionField("name", "Name", "connection", option="--name"),
    ConnectionField("dataverse_url", "Dynamics 365 Sales environment URL", "connection",
                    "For example https://contoso.crm4.dynamics.com", option="--dataverse-url"),
    ConnectionField("authentication_type", "Authentication type", "connection", option="--authentication-type"),
    ConnectionField("tenant_id", "Tenant ID", "connection", "Directory (tenant) ID or domain", option="--tenant-id"),
    ConnectionField("authority_host", "Authority host", "connection", option="--authority-host"),
    ConnectionField("client_id", "Client ID", "connection", "Application (client) ID", option="--client-id"),
    ConnectionField("client_secret", "Client secret", "connection", secret=True, shown_for=(_CLIENT_SECRET,),
                    option="--client-secret-file", variable="PORTAL_SETUP_CLIENT_SECRET"),
    ConnectionField("certificate", "Certificate private key (PEM)", "connection", secret=True,
                    shown_for=(_CERTIFICATE,), option="--certificate-file", variable="PORTAL_SETUP_CERTIFICATE"),
    ConnectionField("certificate_thumbprint", "Certificate thumbprint", "connection", shown_for=(_CERTIFICATE,),
                    option="--certificate-thumbprint"),
    ConnectionField("username", "User name", "connection", "OAuth only: the integration user's e-mail.",
                    shown_for=(_OAUTH,), option="--username"),
    ConnectionField("password", "Password", "connection", secret=True, shown_for=(_OAUTH,),
                    option="--password-file", variable="PORTAL_SETUP_PASSWORD"),
    ConnectionField("connection_string", "Connection string", "connection", shown_for=(_OAUTH,)),
    ConnectionField("web_api_version", "Web API version", "connection", option="--web-api-version"),
    ConnectionField("ownership_model", "Ownership model", "connection", option="--ownership-model"),
    ConnectionField("bc_api_url", "Business Central API URL", "business central",
                    "For example https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0",
                    option="--bc-api-url"),
    ConnectionField("bc_tenant", "BC tenant", "business central", option="--bc-tenant"),
    ConnectionField("bc_environment", "BC environment", "business central", option="--bc-environment"),
    ConnectionField("bc_company", "BC company", "business central",
                    "Company ID or name; blank picks the only company (Test Connection lists them).", stored=False,
                    option="--bc-company"),
    ConnectionField("bc_company_id", "BC company ID", "business central"),
    ConnectionField("bc_company_name", "BC company name", "business central"),
    ConnectionField("bc_authentication_type", "BC authentication type", "business central",
                    option="--bc-authentication-type"),
    ConnectionField("bc_client_id", "BC client ID", "business central", "Blank uses the Dataverse client ID.",
                    shown_for=(_BC_OAUTH,), option="--bc-client-id"),
    ConnectionField("bc_client_secret", "BC client secret", "business central",
                    "Blank keeps the stored value or uses the Dataverse client secret.", secret=True,
                    shown_for=(_BC_OAUTH,), option="--bc-client-secret-file",
                    variable="PORTAL_SETUP_BC_CLIENT_SECRET"),
    ConnectionField("bc_username", "BC user name", "business central", shown_for=(_BC_BASIC,),
                    option="--bc-username"),
    ConnectionField("bc_access_key", "BC web service access key", "business central", secret=True,
                    shown_for=(_BC_BASIC,), option="--bc-access-key-file", variable="PORTAL_SETUP_BC_ACCESS_KEY"),
    ConnectionField("bc_web_client_url", "Business Central web client URL", "business central",
                    option="--bc-web-client-url"),
    ConnectionField("legacy_sales_order_integration", "Legacy sales order integration", "sales"),
    ConnectionField("auto_create_sales_orders", "Automatically create sales orders", "sales"),
    ConnectionField("auto_process_sales_quotes", "Automatically process sales quotes", "sales"),
    ConnectionField("bidirectional_sales_order_integration", "Bi-directional sales order synchronization", "sales"),
    ConnectionField("item_availability_enabled", "Automatically synchronize item availability", "sales"),
    ConnectionField("unit_group_mapping_enabled", "Unit group mapping", "sales"),
    ConnectionField("user_mapping_required", "User mapping required", "sales",
                    "Synchronize now, coupling, uncoupling, match-based coupling and the skipped records' actions "
                    "are refused for a portal user without an enabled Dataverse user of the same e-mail. The "
                    "records are still written by the integration user."),
)

#: Fields by name.
BY_NAME: dict[str, ConnectionField] = {field.name: field for field in FIELDS}

#: Secrets stored (encrypted) on the connection setup.
SECRET_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.secret and f.stored)
#: Every input whose value is a secret, stored or not (the wizard's session storage encrypts these; the connection
#: string can carry a password).
SECRET_INPUTS: frozenset[str] = frozenset(f.name for f in FIELDS if f.secret) | {"connection_string"}
#: Stored, non-secret fields an administrator edits on the setup page or in the wizard (the change log records them).
EDITABLE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in FIELDS if f.stored and not f.secret and f.group in ("connection", "business central"))
#: The Sales settings (toggles that rebuild mappings and job queue entries).
SALES_SETTINGS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.group == "sales")
#: Inputs of ``manage.py setup_connection`` given on the command line (non-secret fields with an option).
COMMAND_OPTIONS: tuple[ConnectionField, ...] = tuple(f for f in FIELDS if f.option and not f.secret)
#: Secrets of ``manage.py setup_connection``, read from a file or an environment variable, never from argv.
COMMAND_SECRETS: tuple[ConnectionField, ...] = tuple(f for f in FIELDS if f.option and f.secret)


def label(name: str) -> str:
    """The label of the field ``name``. Raises KeyError for a name that is not a connection field."""
    return BY_NAME[name].label
