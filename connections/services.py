"""Services of the connection setup: save with a change log, Test Connection, enable/disable, integration solution
import, Sales settings toggles, and the assisted setup's finish (reference §1, §2).

Views, the wizard and ``manage.py setup_connection`` call these; nothing here renders or logs a secret. Remote calls
go through :mod:`connections.clients`; their errors (:class:`connections.clients.errors.ClientError`) are turned into
report steps naming the failing layer and the fix — never raised to a view as a 500.
"""
from __future__ import annotations

import copy
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connections.environment import connection_string_build, normalise_environment_url
from connections.forms import validate_sales_order_options
from connections.models import ConnectionSetup, ConnectionSetupChange
from connections.solution import (
    INTEGRATION_ROLES,
    SOLUTION_UNIQUE_NAME,
    SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID,
    solution_package,
)

logger = logging.getLogger(__name__)

AuthType = ConnectionSetup.AuthenticationType
BCAuthType = ConnectionSetup.BCAuthenticationType
User = AbstractBaseUser | AnonymousUser | None

#: Short client timeout of Test Connection (seconds): a page waits for it (DESIGN "thin views" exception).
TEST_TIMEOUT = 15.0
#: Fields an administrator edits on the setup page or in the wizard (besides secrets).
EDITABLE_FIELDS = (
    "name", "dataverse_url", "authentication_type", "tenant_id", "authority_host", "client_id",
    "certificate_thumbprint", "username", "connection_string", "web_api_version", "ownership_model",
    "bc_api_url", "bc_tenant", "bc_environment", "bc_company_id", "bc_company_name", "bc_authentication_type",
    "bc_client_id", "bc_username", "bc_web_client_url",
)
SALES_SETTINGS = (
    "legacy_sales_order_integration", "auto_create_sales_orders", "auto_process_sales_quotes",
    "bidirectional_sales_order_integration", "item_availability_enabled", "unit_group_mapping_enabled",
    "user_mapping_required",
)
ADMINISTRATOR_GROUP = "Integration Administrator"


class ConnectionActionFailed(Exception):
    """An action (enable, solution import, finish) could not complete; ``report`` says which step failed and why.
    Nothing was half-saved: the connection keeps its previous state (and stays disabled)."""

    def __init__(self, message: str, report: CheckReport) -> None:
        super().__init__(message)
        self.report = report


class UserNotMapped(Exception):
    """User mapping is required and the portal user has no Dataverse user with the same e-mail (reference 1.1)."""


# ---------------------------------------------------------------------------------------------- reports

@dataclass
class CheckStep:
    """One line of a Test Connection report or of the finish checklist.

    ``ok`` is True (passed), False (failed) or None (not run / not applicable). ``layer`` names where a failure
    happened: "configuration", "outbound", "dns", "connection", "tls", "timeout", "auth", "http", "environment",
    "privilege", "integration user", "solution", "currency", "business central", "mappings".
    """

    name: str
    ok: bool | None
    message: str = ""
    fix: str = ""
    layer: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return {True: "ok", False: "failed", None: "skipped"}[self.ok]


@dataclass
class CheckReport:
    """A list of :class:`CheckStep` (Test Connection, enable, finish); JSON-serialisable via :meth:`as_dict`."""

    steps: list[CheckStep] = field(default_factory=list)
    checked_at: str = ""
    #: Called with the report after each recorded step (the RQ tasks write it to the action's row); not serialised.
    progress: Callable[[CheckReport], None] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return all(step.ok is not False for step in self.steps) and any(step.ok for step in self.steps)

    @property
    def failed_step(self) -> CheckStep | None:
        return next((step for step in self.steps if step.ok is False), None)

    @property
    def failing_layer(self) -> str:
        step = self.failed_step
        return step.layer if step else ""

    def add(self, name: str, ok: bool | None, message: str = "", *, fix: str = "", layer: str = "",
            details: Iterable[str] = ()) -> CheckStep:
        step = CheckStep(name=name, ok=ok, message=message, fix=fix, layer=layer, details=list(details))
        self.steps.append(step)
        self.notify()
        return step

    def notify(self) -> None:
        """Report the steps so far to :attr:`progress`, when set (progress of a running action)."""
        if self.progress is not None:
            self.progress(self)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_at": self.checked_at, "steps": [asdict(step) for step in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        return cls(steps=[CheckStep(**step) for step in data.get("steps", [])], checked_at=data.get("checked_at", ""))


ConnectionTestReport = CheckReport
FinishReport = CheckReport


class _StepFailed(Exception):
    """Internal: a check failed; carries the step to record."""

    def __init__(self, step: CheckStep) -> None:
        super().__init__(step.message)
        self.step = step


# ---------------------------------------------------------------------------------------------- permissions

def user_can_administer(user: User) -> bool:
    """Whether ``user`` may change the connection setup: superusers and members of the "Integration Administrator"
    group (through its ``administer_connectionsetup`` permission). Everyone else signed in sees it read-only."""
    return bool(user and user.is_authenticated and user.has_perm("connections.administer_connectionsetup"))


# ---------------------------------------------------------------------------------------------- change log

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


def _apply_changes(connection: ConnectionSetup, user: User, values: dict[str, Any]) -> list[str]:
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


# ---------------------------------------------------------------------------------------------- save

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


def _validate_complete(connection: ConnectionSetup) -> list[str]:
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


def connection_save(*, connection: ConnectionSetup | None, data: dict[str, Any], user: User) -> ConnectionSetup:
    """Create or update a connection setup from cleaned form data, recording every changed field.

    ``data`` keys are the model's field names (secrets plaintext; blank secret = keep the stored one), plus
    ``bc_company`` (a company id or name) and ``redirect_uri`` for the OAuth connection string. Sales options are
    validated (legacy and bi-directional exclude each other). Raises ValidationError. Atomic: nothing half-saved.
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
        if connection is None:
            connection = ConnectionSetup(**values)
            connection.save()
            _record(connection, user, action="Created", new=connection.name)
            for name, value in values.items():
                _record(connection, user, field_name=name, new=_display(connection, name, value))
        else:
            connection = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
            changed = _apply_changes(connection, user, values)
            if "ownership_model" in changed and connection.mappings.exists():
                # Person adds SALESPEOPLE and the owner field mappings, Team removes them (reference 10).
                from mappings.defaults import ownership_model_apply

                lines = _report_lines(ownership_model_apply(connection=connection))
                connection_action_record(connection=connection, user=user, action="Ownership model applied",
                                         outcome="; ".join(lines)[:2000])
    logger.info("Connection setup %s saved by %s", connection.name, getattr(user, "username", "system"))
    return connection


# ---------------------------------------------------------------------------------------------- clients

def _client_kwargs(timeout: float | None) -> dict[str, Any]:
    return {} if timeout is None else {"timeout": timeout, "max_retries": 0}


def _dataverse(connection: ConnectionSetup, *, timeout: float | None = None, caller_id: uuid.UUID | None = None) -> Any:
    from connections.clients import dataverse_client_for

    return dataverse_client_for(connection, caller_id=caller_id, **_client_kwargs(timeout))


def _business_central(connection: ConnectionSetup, *, timeout: float | None = None) -> Any:
    from connections.clients import business_central_client_for

    return business_central_client_for(connection, **_client_kwargs(timeout))


#: Dataverse's PrivilegeDenied message (protocols.md B13 ``0x80040220``): the privilege and, when given, the table.
_MISSING_PRIVILEGE = re.compile(r"is missing (prv\w+) privilege(?:.*?for entity '(\w+)')?", re.DOTALL)


def check_step_for_error(name: str, error: Exception, *, service_hint: str = "") -> CheckStep:
    """Turn a client error into a failed :class:`CheckStep` named ``name``, with the layer and the fix.

    Layers: the client's own (dns, connection, tls, timeout, auth, http), refined by the service's answer:
    ``AADSTS500011`` or a Web API 404 → "environment" (the URL is not a Dataverse environment); 403 naming a
    disabled or unknown user → "integration user"; any other 403 → "privilege" (naming the missing privilege and
    table of Dataverse's ``0x80040220`` message in the message and the fix); OutboundURLRejected → "outbound".
    The message keeps the service's code (e.g. ``AADSTS7000215``, ``0x80040220``)."""
    from connections.clients.errors import AccessDeniedError, ClientError, OutboundURLRejected

    if isinstance(error, OutboundURLRejected):
        return CheckStep(name, False, error.message, fix=error.fix, layer="outbound")
    if not isinstance(error, ClientError):
        return CheckStep(name, False, f"{type(error).__name__}: {error}", layer="unexpected",
                         fix="Check the settings; if they look right, report this message.")
    layer = error.layer
    message = str(error.message)
    fix = error.fix
    if error.code and error.code not in message:
        message = f"{message} ({error.code})"
    lowered = message.lower()
    if error.code == "AADSTS500011":
        # Entra knows no resource with this URL: the URL is not a Dataverse environment of this tenant.
        layer = "environment"
        fix = "The URL is not a Dataverse environment of this tenant: enter the environment URL shown in the Power " \
              "Platform admin center (https://<org>.crm<N>.dynamics.com), and check the tenant ID."
    elif isinstance(error, AccessDeniedError) and "rolecount=0" in lowered:
        # Dataverse refuses every table read to a user without any security role (0x80040220, roleCount=0).
        layer = "integration user"
        message = f"The integration user has no security role: {message}"
        fix = "Assign the integration roles to the integration user: import the integration solution (Redeploy " \
              "Integration Solution), which assigns them."
    elif isinstance(error, AccessDeniedError) and "disabled" in lowered:
        layer = "integration user"
        fix = "The integration user is disabled: enable it (for an application user: Power Platform admin center > " \
              "Environment > Settings > Application users > Activate)."
    elif isinstance(error, AccessDeniedError) and "not a member of the organization" in lowered:
        layer = "integration user"
        fix = "No enabled user for this sign-in exists in the environment: create the application user for the " \
              "client ID (Power Platform admin center > Application users) and give it the integration roles, or " \
              "enable it if it is disabled."
    elif isinstance(error, AccessDeniedError):
        layer = "privilege"
        missing = _MISSING_PRIVILEGE.search(message)
        if missing:
            # Dataverse 0x80040220: "Principal user (…), is missing prvReadAccount privilege (Id=…) on OTC=1 for
            # entity 'account'." — name the privilege and the table in the fix.
            table = f" on the table '{missing.group(2)}'" if missing.group(2) else ""
            message = f"The integration user lacks the privilege {missing.group(1)}{table}: {message}"
            fix = f"Give the integration user {missing.group(1)}: assign the integration roles (Redeploy " \
                  f"Integration Solution), or add {missing.group(1)} to one of its security roles (Power Platform " \
                  "admin center > Environment > Settings > Security roles), then test again."
        else:
            fix = "The integration user lacks the privilege named in the message: assign the integration roles " \
                  "(Redeploy Integration Solution) or a role that grants it."
    elif error.service == "entra" and layer == "http":
        layer = "auth"
    if layer == "http" and error.status == 404 and error.service == "dataverse":
        layer = "environment"
        message = f"The URL answered 404 for a Dataverse Web API request: {message}"
        fix = "The URL is not a Dataverse environment: enter the environment URL shown in the Power Platform admin " \
              "center (https://<org>.crm<N>.dynamics.com)."
    return CheckStep(name, False, message, fix=fix or service_hint, layer=layer)


def _run(report: CheckReport, name: str, action: Callable[[], str | tuple[str, list[str]]], *,
         layer_hint: str = "") -> bool:
    """Run one check; record its step; return whether it passed. ClientErrors become failed steps."""
    from connections.clients.errors import ClientError

    try:
        outcome = action()
    except _StepFailed as failed:
        report.steps.append(failed.step)
        report.notify()
        return False
    except ClientError as error:
        report.steps.append(check_step_for_error(name, error))
        report.notify()
        return False
    except (ValueError, KeyError, TypeError) as error:
        # A non-Dataverse server answering 200 with another JSON shape, or msal refusing an authority.
        report.steps.append(CheckStep(name, False, f"Unexpected answer: {error}", layer=layer_hint or "environment",
                                      fix="Check that the URL is the service's address (not a web page or a proxy)."))
        report.notify()
        return False
    message, details = (outcome, []) if isinstance(outcome, str) else outcome
    report.add(name, True, message, details=details)
    return True


# ---------------------------------------------------------------------------------------------- Test Connection

def _version_valid(version: str) -> bool:
    """BC's ``IsVersionValid``: major > 6 and not 7.1 (reference 1.1 field 63)."""
    match = re.match(r"(\d+)\.(\d+)", version or "")
    if not match:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return major > 6 and (major, minor) != (7, 1)


def _guid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def integration_user_requirements(*, client: Any, user_id: uuid.UUID, require_roles: bool = True) -> list[str]:
    """Check the integration user as BC's ``TestIntegrationUserRequirements`` does (reference 1.5).

    Returns the problems found (empty = requirements met): the user is disabled; holds a role based on the System
    Administrator template; holds no role; or, when both integration roles exist in Dataverse and
    ``require_roles`` is true, lacks one of them. Raises ClientError on remote failures.
    """
    user = client.retrieve("systemusers", user_id, select=["fullname", "isdisabled", "internalemailaddress",
                                                             "_businessunitid_value"])
    label = user.get("fullname") or user.get("internalemailaddress") or str(user_id)
    roles = list(client.iter_rows(f"systemusers({user_id})/systemuserroles_association",
                                  select=["roleid", "name", "_roletemplateid_value", "_parentrootroleid_value"]))
    problems = []
    if user.get("isdisabled"):
        problems.append(f"The integration user {label} is disabled: enable the user in the Power Platform admin "
                        "center.")
    if any(_guid(role.get("_roletemplateid_value")) == SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID for role in roles):
        problems.append(f"The integration user {label} has the System Administrator role: remove it; the "
                        "integration user must not be a System Administrator.")
    if require_roles and not roles:
        problems.append(f"The integration user {label} has no security role: import the integration solution, "
                        "which assigns the integration roles.")
    if require_roles:
        held = {_guid(role.get("_parentrootroleid_value")) or _guid(role.get("roleid")) for role in roles}
        held_names = {(role.get("name") or "").lower() for role in roles}
        existing = list(client.iter_rows(
            "roles", select=["roleid", "name"],
            filter=" or ".join(f"roleid eq {role_id}" for role_id in INTEGRATION_ROLES),
        ))
        if len(existing) == len(INTEGRATION_ROLES):
            missing = [name for role_id, name in INTEGRATION_ROLES.items()
                       if role_id not in held and name.lower() not in held_names]
            if missing:
                problems.append(f"The integration user {label} lacks the integration role(s) {', '.join(missing)}: "
                                "use Redeploy Integration Solution, which assigns them.")
    return problems


def connection_test(*, connection: ConnectionSetup, timeout: float = TEST_TIMEOUT, user: User = None,
                    check_roles: bool = True, save: bool = True) -> ConnectionTestReport:
    """Test Connection (reference 1.2 action, 1.5): settings complete, outbound URL allowed, sign-in (token), WhoAmI,
    Dataverse version, integration user requirements, base currency, BC company, local currency in Dataverse.

    Each check is a step; the first failing one names its layer (DNS, refused connection, TLS, unknown tenant,
    wrong client id or secret with the AADSTS code, not a Dataverse environment, missing privilege, integration user
    disabled / System Administrator / missing roles, timeout) and the fix; later steps are skipped. Never raises
    for remote failures. Stores what was read (version, base currency, integration user, solution) and the report
    on the connection when ``save``. ``timeout`` is the per-request client timeout in seconds.
    """
    from connections.clients.outbound import check_outbound_url

    report = CheckReport(checked_at=timezone.now().isoformat())
    read: dict[str, Any] = {}
    missing = _validate_complete(connection)
    if missing:
        report.add("Settings complete", False, " ".join(missing), layer="configuration",
                   fix="Fill in the missing fields on the connection setup page.")
        return _finish_test(connection, report, read, user, save)
    report.add("Settings complete", True, "All sign-in settings are filled in.")

    def outbound() -> str:
        check_outbound_url(connection.dataverse_url)
        check_outbound_url(f"{connection.authority_host.rstrip('/')}/{connection.tenant_id}")
        return "The environment and sign-in URLs may be called from this server."

    if not _run(report, "Outbound URLs allowed", outbound):
        return _finish_test(connection, report, read, user, save)

    from connections.clients.errors import ClientError

    try:
        client = _dataverse(connection, timeout=timeout)
    except ClientError as error:  # a credential the client refuses before any request (e.g. no thumbprint)
        report.steps.append(check_step_for_error("Sign in to Microsoft Entra ID", error))
        return _finish_test(connection, report, read, user, save)

    who: dict[str, Any] = {}

    def sign_in() -> str:
        from connections.clients.errors import ClientError

        try:
            who.update(client.who_am_i())
        except ClientError as error:
            if error.service == "entra":
                raise
            report.add("Sign in to Microsoft Entra ID", True, "A token was issued for the environment.")
            raise _StepFailed(check_step_for_error("Reach the Dataverse environment (WhoAmI)", error)) from None
        if not _guid(who.get("UserId")):
            raise _StepFailed(CheckStep(
                "Reach the Dataverse environment (WhoAmI)", False,
                "The URL accepted the token but did not answer WhoAmI like Dataverse does.", layer="environment",
                fix="The URL is not a Dataverse environment: enter the environment URL (https://<org>.crm.dynamics.com)."))
        report.add("Sign in to Microsoft Entra ID", True, "A token was issued for the environment.")
        read["integration_user_id"] = _guid(who["UserId"])
        return f"Dataverse answered WhoAmI: user {who['UserId']}, organization {who.get('OrganizationId', '')}."

    def run_sign_in() -> bool:
        before = len(report.steps)
        passed = _run(report, "Reach the Dataverse environment (WhoAmI)", sign_in)
        if not passed and len(report.steps) == before + 1 and report.steps[-1].name == \
                "Reach the Dataverse environment (WhoAmI)" and report.steps[-1].layer in ("auth",):
            report.steps[-1].name = "Sign in to Microsoft Entra ID"
        return passed

    if not run_sign_in():
        _relabel_sign_in(report)
        return _finish_test(connection, report, read, user, save)

    def version() -> str:
        value = client.retrieve_version()
        if not _version_valid(value):
            raise _StepFailed(CheckStep("Dataverse version", False, f"Version {value} is not supported.",
                                        layer="environment", fix="Use a Dataverse environment of version 9 or later."))
        read["server_version"] = value
        return f"Version {value}."

    if not _run(report, "Dataverse version", version):
        return _finish_test(connection, report, read, user, save)

    def requirements() -> str:
        problems = integration_user_requirements(client=client, user_id=read["integration_user_id"],
                                                 require_roles=check_roles)
        if problems:
            raise _StepFailed(CheckStep("Integration user requirements", False, " ".join(problems),
                                        layer="integration user", details=problems,
                                        fix="Correct the integration user in Dataverse, then test again."))
        return "The integration user is enabled, is not a System Administrator and has the integration roles."

    # A problem with the integration user does not hide the remaining checks (all problems at once).
    _run(report, "Integration user requirements", requirements)

    def organization() -> str:
        solutions = list(client.iter_rows("solutions", select=["uniquename", "version"],
                                          filter=f"uniquename eq '{SOLUTION_UNIQUE_NAME}'"))
        read["is_solution_installed"] = bool(solutions)
        read["solution_version"] = solutions[0].get("version", "") if solutions else ""
        org = next(iter(client.iter_rows("organizations", select=["basecurrencyid", "basecurrencysymbol",
                                                                      "currencydecimalprecision"])), {})
        currency_id = _guid(org.get("_basecurrencyid_value"))
        read["base_currency_id"] = currency_id
        read["base_currency_precision"] = org.get("currencydecimalprecision")
        if currency_id:
            currency = client.retrieve("transactioncurrencies", currency_id, select=["isocurrencycode"])
            read["base_currency_code"] = currency.get("isocurrencycode", "")
        solution = f"integration solution {read['solution_version']}" if solutions else \
            "integration solution not installed"
        return f"Base currency {read.get('base_currency_code') or '(none)'}; {solution}."

    if not _run(report, "Organization settings", organization):
        return _finish_test(connection, report, read, user, save)

    if not connection.bc_api_url:
        report.add("Business Central company", None, "No Business Central API URL is set; skipped.")
        return _finish_test(connection, report, read, user, save)

    bc_currency: dict[str, str | None] = {}

    def business_central() -> str:
        check_outbound_url(connection.bc_api_url)
        bc = _business_central(connection, timeout=timeout)
        companies = bc.companies()
        company = _pick_company(connection, companies)
        read["bc_company_id"] = _guid(company.get("id"))
        read["bc_company_name"] = company.get("name") or company.get("displayName") or ""
        bc_currency["code"] = _bc_local_currency(connection, read["bc_company_id"], timeout)
        return f"Company {read['bc_company_name']} ({read['bc_company_id']})."

    if not _run(report, "Business Central company", business_central):
        failed = report.steps[-1]
        failed.layer = failed.layer if failed.layer in ("dns", "connection", "tls", "timeout", "auth", "outbound",
                                                        "privilege") else "business central"
        return _finish_test(connection, report, read, user, save)

    def local_currency() -> str:
        # Reference 1.3 (enable): General Ledger Setup "LCY Code" must be non-empty and exist as an ISO currency
        # code in Dataverse (transactioncurrency.isocurrencycode).
        code = bc_currency.get("code")
        if code is None:
            return "Business Central's company information is not available; the local currency was not checked."
        if not code:
            raise _StepFailed(CheckStep(
                "Local currency in Dataverse", False, "Business Central has no local currency code (LCY Code).",
                layer="currency", fix="Fill in LCY Code in Business Central's General Ledger Setup with the ISO "
                "code of the company's currency, then test again."))
        quoted = code.replace("'", "''")
        rows = list(client.iter_rows("transactioncurrencies", select=["isocurrencycode"],
                                     filter=f"isocurrencycode eq '{quoted}'"))
        if not rows:
            raise _StepFailed(CheckStep(
                "Local currency in Dataverse", False,
                f"The local currency {code} of Business Central is not present in Dataverse.", layer="currency",
                fix=f"Add the currency {code} in Dynamics 365 Sales (Settings > Business Management > Currencies, "
                f"ISO currency code {code}), then test again."))
        return f"Local currency {code} exists in Dataverse."

    _run(report, "Local currency in Dataverse", local_currency)
    return _finish_test(connection, report, read, user, save)


def _relabel_sign_in(report: CheckReport) -> None:
    """Network failures before a token is issued belong to the sign-in step (the first remote call)."""
    step = report.failed_step
    if step and step.name == "Reach the Dataverse environment (WhoAmI)" and not any(
        s.name == "Sign in to Microsoft Entra ID" for s in report.steps
    ):
        step.name = "Sign in to Microsoft Entra ID"


def _pick_company(connection: ConnectionSetup, companies: list[dict[str, Any]]) -> dict[str, Any]:
    if connection.bc_company_id:
        found = [c for c in companies if _guid(c.get("id")) == connection.bc_company_id]
    elif connection.bc_company_name:
        wanted = connection.bc_company_name.lower()
        found = [c for c in companies
                 if wanted in ((c.get("name") or "").lower(), (c.get("displayName") or "").lower())]
    else:
        found = companies if len(companies) == 1 else []
    if not found:
        names = ", ".join(f"{c.get('name')} ({c.get('id')})" for c in companies) or "none"
        raise _StepFailed(CheckStep("Business Central company", False,
                                    f"The company is not found or not chosen. Companies: {names}.",
                                    layer="business central", fix="Enter one of the listed company IDs or names."))
    return found[0]


def _bc_local_currency(connection: ConnectionSetup, company_id: uuid.UUID | None, timeout: float) -> str | None:
    """BC's local currency code (General Ledger Setup "LCY Code"), read from ``companyInformation.currencyCode``
    (protocols.md D10). ``""`` when BC reports none; None when the company information cannot be read (404)."""
    from connections.clients.errors import NotFoundError

    probe = copy.copy(connection)  # in memory only: the company id read is saved with the report
    probe.bc_company_id = company_id
    try:
        rows = list(_business_central(probe, timeout=timeout).iter_rows("companyInformation"))
    except NotFoundError:
        return None
    return (rows[0].get("currencyCode") or "").strip() if rows else None


def _finish_test(connection: ConnectionSetup, report: CheckReport, read: dict[str, Any], user: User,
                 save: bool) -> CheckReport:
    if save and connection.pk:
        values = {k: v for k, v in read.items() if v is not None}
        with transaction.atomic():
            _apply_changes(connection, user, values)
            connection.last_tested_at = timezone.now()
            connection.last_test_report = report.as_dict()
            connection.save(update_fields=["last_tested_at", "last_test_report", "modified_at"])
            connection_action_record(connection=connection, user=user, action="Test Connection",
                                     outcome="succeeded" if report.ok else
                                     f"failed at {report.failed_step.name if report.failed_step else '?'}")
    else:
        for key, value in read.items():
            if value is not None:
                setattr(connection, key, value)
    logger.info("Test Connection of %s: %s (%s)", connection.name, "ok" if report.ok else "failed",
                report.failing_layer or "-")
    return report


# ---------------------------------------------------------------------------------------------- solution import

def integration_solution_import(*, connection: ConnectionSetup, admin_username: str, admin_password: str,
                                user: User = None, timeout: float | None = None,
                                progress: Callable[[CheckReport], None] | None = None) -> CheckReport:
    """Import the integration solution and assign the integration roles to the integration user (reference 1.5
    ``ImportCRMSolution``; BC action "Redeploy Integration Solution").

    Signs in once as the Dataverse administrator (user name + password through the app registration, ROPC on the
    confidential client, protocols.md A6); the credentials are used for this call only, never stored or logged.
    Steps: administrator sign-in, ImportSolution (always, i.e. a redeploy), find the integration user (WhoAmI as the
    connection's identity), assign "Integration administrator" and "Integration user" of the user's business unit.
    Returns the report (never raises for remote failures); updates ``is_solution_installed`` / ``solution_version``.
    ``progress``, when given, is called with the report after each step (the Redeploy action's status page).
    """
    report = CheckReport(checked_at=timezone.now().isoformat(), progress=progress)
    from connections.clients.errors import ClientError

    state: dict[str, Any] = {}
    try:
        tokens, admin = _admin_dataverse(connection, admin_username, admin_password, timeout)
    except ClientError as error:
        report.steps.append(check_step_for_error("Administrator sign-in", error))
        report.notify()
        return _finish_solution(connection, report, state, user)
    try:
        return _import_steps(connection, admin, report, state, user, timeout)
    finally:
        tokens.invalidate()  # the administrator's tokens are used for this import only


def _admin_dataverse(connection: ConnectionSetup, username: str, password: str,
                     timeout: float | None) -> tuple[Any, Any]:
    """A Dataverse client signed in as the administrator (ROPC through the connection's app registration)."""
    from connections.clients import DataverseClient, TokenProvider
    from connections.clients.entra import authority_url

    tokens = TokenProvider(
        authority=authority_url(connection.authority_host or "https://login.microsoftonline.com", connection.tenant_id),
        client_id=connection.client_id, client_secret=connection.client_secret or None, username=username,
        password=password, timeout=timeout or 30.0)
    client = DataverseClient(connection.dataverse_url, tokens, api_version=connection.web_api_version or "9.2",
                             **_client_kwargs(timeout))
    return tokens, client


def _import_steps(connection: ConnectionSetup, admin: Any, report: CheckReport, state: dict[str, Any], user: User,
                  timeout: float | None) -> CheckReport:
    """The steps of :func:`integration_solution_import` once the administrator's client exists."""

    def admin_sign_in() -> str:
        who = admin.who_am_i()
        return f"Signed in as the administrator (user {who.get('UserId')})."

    if not _run(report, "Administrator sign-in", admin_sign_in):
        return _finish_solution(connection, report, state, user)

    def import_solution() -> str:
        admin.import_solution(solution_package(), overwrite_unmanaged=True)
        rows = list(admin.iter_rows("solutions", select=["uniquename", "version"],
                                    filter=f"uniquename eq '{SOLUTION_UNIQUE_NAME}'"))
        if not rows:
            raise _StepFailed(CheckStep("Import the integration solution", False,
                                        "ImportSolution returned but the solution is not listed.", layer="solution",
                                        fix="Check the import job in the Power Platform admin center."))
        state["is_solution_installed"] = True
        state["solution_version"] = rows[0].get("version", "")
        return f"Solution {SOLUTION_UNIQUE_NAME} {state['solution_version']} imported."

    if not _run(report, "Import the integration solution", import_solution):
        return _finish_solution(connection, report, state, user)

    def assign_roles() -> tuple[str, list[str]]:
        who = _dataverse(connection, timeout=timeout).who_am_i()
        user_id = _guid(who.get("UserId"))
        state["integration_user_id"] = user_id
        member = admin.retrieve("systemusers", user_id, select=["fullname", "_businessunitid_value"])
        business_unit = member.get("_businessunitid_value")
        held = {_guid(r.get("roleid")) for r in admin.iter_rows(
            f"systemusers({user_id})/systemuserroles_association", select=["roleid"])}
        details = []
        for root_id, name in INTEGRATION_ROLES.items():
            candidates = list(admin.iter_rows(
                "roles", select=["roleid", "name"],
                filter=f"_businessunitid_value eq {business_unit} and "
                       f"(roleid eq {root_id} or _parentrootroleid_value eq {root_id} or name eq '{name}')",
            ))
            if not candidates:
                raise _StepFailed(CheckStep("Assign the integration roles", False,
                                            f"The role {name} does not exist in the user's business unit.",
                                            layer="solution", fix="Redeploy the integration solution."))
            role_id = _guid(candidates[0]["roleid"])
            if role_id in held:
                details.append(f"{name}: already assigned")
                continue
            admin.associate("systemusers", user_id, "systemuserroles_association", "roles", role_id)
            details.append(f"{name}: assigned")
        return f"Integration roles assigned to {member.get('fullname') or user_id}.", details

    _run(report, "Assign the integration roles", assign_roles)
    return _finish_solution(connection, report, state, user)


def _finish_solution(connection: ConnectionSetup, report: CheckReport, state: dict[str, Any],
                     user: User) -> CheckReport:
    with transaction.atomic():
        _apply_changes(connection, user, {k: v for k, v in state.items() if v is not None})
        connection_action_record(connection=connection, user=user, action="Import integration solution",
                                 outcome="succeeded" if report.ok else
                                 f"failed at {report.failed_step.name if report.failed_step else '?'}")
    logger.info("Integration solution import for %s: %s", connection.name, "ok" if report.ok else "failed")
    return report


# ---------------------------------------------------------------------------------------------- enable / disable

def _report_lines(result: Any) -> list[str]:
    """Readable lines of a mappings ``DefaultConfigurationReport``: what was created, changed and deleted."""
    if result is None:
        return []
    lines = []
    for label, attr in (("Mappings created", "created"), ("Mappings changed", "changed"),
                        ("Mappings deleted", "deleted"), ("Job queue entries created", "jobs_created"),
                        ("Job queue entries deleted", "jobs_deleted")):
        names = getattr(result, attr, None)
        if names:
            lines.append(f"{label}: {', '.join(str(name) for name in names)}")
    return lines or [result.summary() if hasattr(result, "summary") else str(result)]


def default_configuration_apply(*, connection: ConnectionSetup, user: User,
                                mapping_name: str | None = None) -> list[str]:
    """"Use Default Synchronization Setup" (reference 1.2): rebuild the default integration table mappings, field
    mappings and job queue entries for the connection's options (mappings engineer's
    ``default_configuration_reset``). Returns the report's lines (what was created, changed, deleted)."""
    from mappings.defaults import default_configuration_reset

    with transaction.atomic():
        result = default_configuration_reset(connection=connection, mapping_name=mapping_name)
        lines = _report_lines(result)
        connection_action_record(connection=connection, user=user, action="Use Default Synchronization Setup",
                                 outcome="; ".join(lines)[:2000])
    return lines


def connection_enable(*, connection: ConnectionSetup, user: User, timeout: float = TEST_TIMEOUT,
                      progress: Callable[[CheckReport], None] | None = None) -> CheckReport:
    """Enable the connection (reference 1.3 "Is Enabled := true"): Test Connection (incl. integration user
    requirements and local currency), the integration solution must be installed, then in one transaction: apply
    the default configuration when the connection has no mappings yet, otherwise restore its job queue entries
    (On Hold → Ready), set Enabled and clear the disable reason. Raises ConnectionActionFailed with the report when
    a step fails (the connection stays disabled). ``progress``, when given, is called with the report after the
    connection test and after each later step (the Enable action's status page)."""
    report = connection_test(connection=connection, timeout=timeout, user=user)
    report.progress = progress
    report.notify()
    if not report.ok:
        raise ConnectionActionFailed("The connection test failed; the connection stays disabled.", report)
    connection.refresh_from_db()
    if not connection.is_solution_installed:
        report.add("Integration solution installed", False, "The integration solution is not installed.",
                   layer="solution", fix="Use Redeploy Integration Solution with a Dataverse administrator's "
                   "credentials, then enable again.")
        raise ConnectionActionFailed("The integration solution is missing; the connection stays disabled.", report)
    _enable_apply(connection=connection, user=user, report=report)
    return report


def _enable_apply(*, connection: ConnectionSetup, user: User, report: CheckReport) -> None:
    from syncjobs.services import job_queue_entries_restore

    try:
        with transaction.atomic():
            locked = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
            # Enabled first (BC: Modify, then ResetConfiguration), so new job queue entries start Ready.
            _apply_changes(locked, user, {"is_enabled": True, "disable_reason": ""})
            if not locked.mappings.exists():
                lines = default_configuration_apply(connection=locked, user=user)
                report.add("Default configuration", True, "Default mappings and job queue entries created.",
                           details=lines)
            else:
                restored = job_queue_entries_restore(connection=locked)
                report.add("Default configuration", True,
                           f"Mappings kept; {restored} job queue entries set back to Ready.")
            connection_action_record(connection=locked, user=user, action="Enabled")
    except ValidationError as error:
        report.add("Default configuration", False, " ".join(error.messages), layer="mappings",
                   fix="Correct the mapping configuration, then enable again.")
        raise ConnectionActionFailed("The default configuration failed; the connection stays disabled.",
                                     report) from None
    connection.refresh_from_db()
    report.add("Enable the connection", True, "The connection is enabled.")


def connection_disable(*, connection: ConnectionSetup, user: User, reason: str = "") -> int:
    """Disable the connection (reference 1.3 "Is Enabled := false"): set Enabled off with the reason, clear the
    server version, and put the connection's job queue entries On Hold. Returns how many entries were put on hold."""
    from syncjobs.services import job_queue_entries_set_on_hold

    with transaction.atomic():
        locked = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
        _apply_changes(locked, user, {"is_enabled": False, "disable_reason": reason[:250], "server_version": ""})
        count = job_queue_entries_set_on_hold(connection=locked)
        connection_action_record(connection=locked, user=user, action="Disabled",
                                 outcome=f"{count} job queue entries On Hold"
                                 + (f"; reason: {reason}" if reason else ""))
    connection.refresh_from_db()
    return count


# ---------------------------------------------------------------------------------------------- settings toggles

@dataclass
class SettingsUpdateReport:
    """What a Sales settings change did: the fields changed and the lines of each rebuild (mappings and jobs)."""

    changed: list[str] = field(default_factory=list)
    rebuilds: list[str] = field(default_factory=list)


def connection_sales_settings_update(*, connection: ConnectionSetup, user: User,
                                     data: dict[str, Any]) -> SettingsUpdateReport:
    """Save the Sales settings (reference 1.1 to 1.3) and rebuild what they govern, in one transaction:

    * legacy / bi-directional sales order integration, automatic sales order creation and quote processing →
      ``sales_order_configuration_reset`` (BC: ResetSalesOrderMappingConfiguration; reference 4.B);
    * item availability → ``special_jobs_apply`` (its job queue entry, reference 1.3 and 4.B);
    * unit group mapping (only while the connection is disabled, reference 1.3) → ``unit_group_mapping_apply``.

    Rebuilds run only when the connection already has mappings (before that, enabling applies the defaults).
    Raises ValidationError (mutual exclusion, unit group mapping while enabled); nothing is saved then.
    """
    from mappings.defaults import sales_order_configuration_reset, special_jobs_apply, unit_group_mapping_apply

    values = {name: bool(data.get(name, False)) for name in SALES_SETTINGS if name in data}
    merged = {name: values.get(name, getattr(connection, name)) for name in SALES_SETTINGS}
    validate_sales_order_options(legacy=merged["legacy_sales_order_integration"],
                                 bidirectional=merged["bidirectional_sales_order_integration"],
                                 auto_create=merged["auto_create_sales_orders"])
    report = SettingsUpdateReport()
    with transaction.atomic():
        locked = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
        if locked.is_enabled and values.get("unit_group_mapping_enabled", locked.unit_group_mapping_enabled) != \
                locked.unit_group_mapping_enabled:
            raise ValidationError("Unit group mapping can be changed only while the connection is disabled.")
        report.changed = _apply_changes(locked, user, values)
        if report.changed and locked.mappings.exists():
            changed = set(report.changed)
            if changed & {"legacy_sales_order_integration", "bidirectional_sales_order_integration",
                          "auto_create_sales_orders", "auto_process_sales_quotes"}:
                report.rebuilds += _report_lines(sales_order_configuration_reset(connection=locked))
            if "item_availability_enabled" in changed:
                report.rebuilds += _report_lines(special_jobs_apply(connection=locked))
            if "unit_group_mapping_enabled" in changed:
                report.rebuilds += _report_lines(unit_group_mapping_apply(connection=locked))
            if report.rebuilds:
                connection_action_record(connection=locked, user=user, action="Rebuilt mappings and job queue entries",
                                         outcome="; ".join(report.rebuilds)[:2000])
    connection.refresh_from_db()
    return report


# ---------------------------------------------------------------------------------------------- other actions

def connection_synchronize_modified_records(*, connection: ConnectionSetup, user: User) -> int:
    """"Synchronize Modified Records" (reference 1.2, 4.B ``SynchronizeNow(false)``): one-off run per mapping in BC's
    priority order (JOBS engineer's ``synchronize_modified_records``). Returns how many runs were enqueued.
    Raises ValidationError when the connection is disabled."""
    from syncjobs.services import synchronize_modified_records

    if not connection.is_enabled:
        raise ValidationError("Enable the connection before synchronizing modified records.")
    entries = synchronize_modified_records(connection=connection)
    connection_action_record(connection=connection, user=user, action="Synchronize Modified Records",
                             outcome=f"{len(entries)} mappings enqueued")
    return len(entries)


def active_scheduled_jobs_text(*, connection: ConnectionSetup) -> str:
    """"Active scheduled synchronization jobs: X of Y" (reference 1.2; 0 of 0 while disabled)."""
    if not connection.is_enabled:
        return "0 of 0"
    from syncjobs.services import active_scheduled_jobs

    active, total = active_scheduled_jobs(connection=connection)
    return f"{active} of {total}"


def default_web_client_url(connection: ConnectionSetup) -> str:
    """The BC web client URL derived from the API URL (reference 1.1 field 69 "Reset Web Client URL").

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
        _apply_changes(connection, user, {"bc_web_client_url": url})
    return url


# ---------------------------------------------------------------------------------------------- user mapping

def dataverse_user_for(*, connection: ConnectionSetup, user: AbstractBaseUser) -> uuid.UUID | None:
    """The Dataverse systemuserid with the portal user's e-mail (``internalemailaddress``), for impersonation
    (protocols.md B12, ``MSCRMCallerID``). None when no enabled Dataverse user matches. Cached for 5 minutes.
    Raises ClientError on remote failures."""
    email = (getattr(user, "email", "") or "").strip().lower()
    if not email:
        return None
    key = f"connections:dataverse-user:{connection.pk}:{email}"
    cached = cache.get(key)
    if cached is not None:
        return _guid(cached) if cached else None
    rows = list(_dataverse(connection).iter_rows(
        "systemusers", select=["systemuserid", "isdisabled"],
        filter=f"internalemailaddress eq '{email.replace(chr(39), chr(39) * 2)}'",
    ))
    found = next((_guid(r.get("systemuserid")) for r in rows if not r.get("isdisabled")), None)
    cache.set(key, str(found) if found else "", 300)
    return found


def dataverse_client_for_user(*, connection: ConnectionSetup, user: AbstractBaseUser) -> Any:
    """The Dataverse client to use for reads and writes done on behalf of a portal user (reference 1.1 "user mapping
    required"): with user mapping off, the integration user's client; with it on, a client impersonating the
    Dataverse user with the same e-mail. Raises UserNotMapped when there is none (the integration actions are then
    not offered to that user; see :func:`user_has_integration_actions`)."""
    if not connection.user_mapping_required:
        return _dataverse(connection)
    caller = dataverse_user_for(connection=connection, user=user)
    if caller is None:
        raise UserNotMapped(
            f"User mapping is required and no enabled Dataverse user has the e-mail of {user.get_username()}: set "
            "your e-mail in your portal profile to your Dataverse user's e-mail."
        )
    return _dataverse(connection, caller_id=caller)


def user_has_integration_actions(*, connection: ConnectionSetup, user: AbstractBaseUser) -> bool:
    """Whether integration actions (synchronize, couple, ...) are offered to ``user``: always when user mapping is
    off; otherwise only when a Dataverse user with the same e-mail exists."""
    if not connection.user_mapping_required:
        return True
    from connections.clients.errors import ClientError

    try:
        return dataverse_user_for(connection=connection, user=user) is not None
    except ClientError:
        return False


# ---------------------------------------------------------------------------------------------- finish

FINISH_STEPS = ("Save the connection setup", "Test connection", "Integration user requirements",
                "Import the integration solution and assign roles", "Default configuration", "Enable the connection")


def connection_setup_finish(*, data: dict[str, Any], user: User, timeout: float = TEST_TIMEOUT,
                            progress: Callable[[FinishReport], None] | None = None) -> FinishReport:
    """The assisted setup's Finish, shared by the wizard and ``manage.py setup_connection`` (reference 2 FinalizeSetup).

    ``data`` holds the connection setup's fields (secrets plaintext; blank = keep) plus ``bc_company``,
    ``import_solution`` (bool), ``admin_username`` / ``admin_password`` (used once, never stored) and ``enable``.
    Steps, shown as a checklist: save (the connection stays disabled; what was entered is kept, secrets encrypted),
    test connection, integration user requirements, solution import and role assignment, default configuration,
    enable. The first failing step stops the run; later steps are "not run". Never raises for remote failures;
    raises ValidationError for invalid data (nothing saved). The report is stored on the connection. ``progress``,
    when given, is called with the report after each step (the Finish action's status page).
    """
    report = FinishReport(checked_at=timezone.now().isoformat(), progress=progress)
    admin_username = data.get("admin_username") or ""
    admin_password = data.get("admin_password") or ""
    import_solution = bool(data.get("import_solution"))
    enable = bool(data.get("enable"))
    existing = ConnectionSetup.objects.filter(name=data.get("name") or "Dynamics 365 Sales").first()
    connection = connection_save(connection=existing, data=data, user=user)
    if existing is not None and existing.is_enabled:
        report.add(FINISH_STEPS[0], True, "Saved. The connection was already enabled and stays enabled.")
    else:
        _apply_changes(connection, user, {"is_enabled": False})
        report.add(FINISH_STEPS[0], True, "Saved (disabled until every step succeeds); secrets are encrypted.")

    def stop(from_index: int) -> FinishReport:
        for name in FINISH_STEPS[from_index:]:
            if not any(step.name == name for step in report.steps):
                report.add(name, None, "Not run: an earlier step failed.")
        return _store_finish(connection, report, user)

    test = connection_test(connection=connection, timeout=timeout, user=user, check_roles=not import_solution)
    requirement = next((s for s in test.steps if s.name == "Integration user requirements"), None)
    test_steps = [s for s in test.steps if s is not requirement]
    failed = next((s for s in test_steps if s.ok is False), None)
    if failed:
        report.add(FINISH_STEPS[1], False, f"{failed.name}: {failed.message}", fix=failed.fix, layer=failed.layer)
        return stop(2)
    report.add(FINISH_STEPS[1], True, "The environment, sign-in and Business Central company answered.",
               details=[f"{s.name}: {s.message}" for s in test_steps])
    if requirement is None:
        report.add(FINISH_STEPS[2], False, "The integration user could not be checked.", layer="integration user")
        return stop(3)
    report.steps.append(CheckStep(FINISH_STEPS[2], requirement.ok, requirement.message, requirement.fix,
                                  requirement.layer, requirement.details))
    report.notify()
    if requirement.ok is False:
        return stop(3)

    connection.refresh_from_db()
    if import_solution:
        if not (admin_username and admin_password):
            report.add(FINISH_STEPS[3], False, "The administrator's user name and password are needed to import "
                       "the integration solution.", layer="configuration",
                       fix="Go back to the sign-in step and enter the administrator's credentials.")
            return stop(4)
        solution = integration_solution_import(connection=connection, admin_username=admin_username,
                                               admin_password=admin_password, user=user, timeout=timeout)
        failed = solution.failed_step
        if failed:
            report.add(FINISH_STEPS[3], False, f"{failed.name}: {failed.message}", fix=failed.fix, layer=failed.layer)
            return stop(4)
        report.add(FINISH_STEPS[3], True, "Solution imported and integration roles assigned.",
                   details=[f"{s.name}: {s.message}" for s in solution.steps] +
                   [d for s in solution.steps for d in s.details])
        recheck = _recheck_roles(connection, timeout)
        if recheck:  # the solution said yes but the user still lacks a role: say so rather than enable
            report.steps[-1].ok = False
            report.steps[-1].message = " ".join(recheck)
            report.steps[-1].layer = "integration user"
            return stop(4)
    else:
        report.add(FINISH_STEPS[3], None, "Not requested.")

    connection.refresh_from_db()
    if not enable:
        try:
            with transaction.atomic():
                from syncjobs.services import job_queue_entries_set_on_hold

                lines = default_configuration_apply(connection=connection, user=user)
                job_queue_entries_set_on_hold(connection=connection)
        except ValidationError as error:
            report.add(FINISH_STEPS[4], False, " ".join(error.messages), layer="mappings",
                       fix="Correct the mapping configuration, then use Default Synchronization Setup on its page.")
            return stop(5)
        report.add(FINISH_STEPS[4], True, "Default mappings and job queue entries created (On Hold).", details=lines)
        report.add(FINISH_STEPS[5], None, "Not requested: the connection stays disabled.")
    else:
        if not connection.is_solution_installed:
            report.add(FINISH_STEPS[4], None, "Not run: the connection cannot be enabled without the solution.")
            report.add(FINISH_STEPS[5], False, "The integration solution is not installed.", layer="solution",
                       fix="Tick \u201cImport the integration solution\u201d and enter the administrator's "
                       "credentials.")
            return _store_finish(connection, report, user)
        try:
            with transaction.atomic():
                # Enabled first (BC: Modify, then ResetConfiguration), so the job queue entries start Ready.
                _apply_changes(connection, user, {"is_enabled": True, "disable_reason": ""})
                lines = default_configuration_apply(connection=connection, user=user)
                report.add(FINISH_STEPS[4], True, "Default mappings and job queue entries created.", details=lines)
                connection_action_record(connection=connection, user=user, action="Enabled")
        except ValidationError as error:
            report.add(FINISH_STEPS[4], False, " ".join(error.messages), layer="mappings",
                       fix="Correct the mapping configuration, then enable the connection on its page.")
            return stop(5)
        report.add(FINISH_STEPS[5], True, "The connection is enabled.")
    if connection.ownership_model == ConnectionSetup.OwnershipModel.PERSON:
        # Reference 2.1 / 10: in the Person model, salespersons must be coupled to Dataverse users before the first
        # full synchronization (uncoupled salesperson codes fail their records): apply the wizard's couplings.
        finish_couple_salespersons(connection=connection, data=data, report=report, timeout=timeout)
    return _store_finish(connection, report, user)


def _recheck_roles(connection: ConnectionSetup, timeout: float) -> list[str]:
    """Integration user requirements after the solution import (the roles must now be held)."""
    from connections.clients.errors import ClientError

    try:
        client = _dataverse(connection, timeout=timeout)
        who = client.who_am_i()
        return integration_user_requirements(client=client, user_id=_guid(who["UserId"]), require_roles=True)
    except ClientError as error:
        return [str(error)]


def _store_finish(connection: ConnectionSetup, report: FinishReport, user: User) -> FinishReport:
    connection.last_finish_report = report.as_dict()
    connection.save(update_fields=["last_finish_report", "modified_at"])
    connection_action_record(connection=connection, user=user, action="Assisted setup finished",
                             outcome="succeeded" if report.ok else
                             f"failed at {report.failed_step.name if report.failed_step else '?'}")
    logger.info("Assisted setup of %s finished: %s", connection.name, "ok" if report.ok else "failed")
    return report


# ---------------------------------------------------------------------------------------------- actions on a worker

#: The RQ queue of the connection actions (``make demo``'s workers listen on "default" and "sync").
ACTION_QUEUE = "default"
#: Seconds a Queued action may lack its RQ job before it counts as lost (the job is enqueued when the row commits).
ACTION_LOST_AFTER = 60
WORKER_HINT = "start one with `python manage.py rqworker default sync`"


def _action_lost(action: Any, *, now: Any = None) -> str:
    """Why the Queued/Running ``action`` will never finish (its RQ job is gone, or ended without the task recording
    an outcome: the worker was killed), or "" while it may still run. Redis errors count as "may still run"."""
    import django_rq
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    now = now or timezone.now()
    try:
        job = Job.fetch(action.rq_job_id, connection=django_rq.get_connection(ACTION_QUEUE))
        status = job.get_status()
    except NoSuchJobError:
        if (now - action.created_at).total_seconds() < ACTION_LOST_AFTER:
            return ""
        return "Its RQ job no longer exists (Redis was emptied or restarted)."
    except RedisError:
        return ""
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED):
        return f"Its RQ job ended ({status}) without recording an outcome: the worker was stopped or killed."
    return ""


def connection_action_fail_lost(*, action: Any, reason: str) -> bool:
    """Mark a Queued/Running ``action`` whose job is lost Failed with ``reason`` (and blank any credentials left in
    its row). Conditional on its status, so a worker finishing it at the same moment wins. Returns whether it was
    changed."""
    from connections.models import ConnectionAction

    report = CheckReport.from_dict(action.report or {})
    report.add("Worker", False, reason, layer="worker",
               fix=f"Run the action again; make sure an RQ worker is running ({WORKER_HINT}).")
    changed = ConnectionAction.objects.filter(pk=action.pk, status__in=ConnectionAction.ACTIVE_STATUSES).update(
        status=ConnectionAction.Status.FAILED, report=report.as_dict(), finished_at=timezone.now(),
        message=f"The action did not finish: {reason}"[:500], admin_username="", admin_password="")
    action.refresh_from_db()
    return bool(changed)


def connection_actions_recover_lost(*, now: Any = None) -> int:
    """Fail every Queued/Running connection action whose RQ job is lost (:func:`_action_lost`: the job is gone, or
    ended without the task recording an outcome because the worker was killed), so its status page stops waiting
    and says what to do. Run every minute by the RQ cron scheduler (``syncjobs.cron``), beside the job queue
    dispatcher's detection of dead synchronization runs. Returns how many actions were failed."""
    from connections.models import ConnectionAction

    failed = 0
    for action in ConnectionAction.objects.active():
        reason = _action_lost(action, now=now)
        if reason and connection_action_fail_lost(action=action, reason=reason):
            logger.warning("connection action %s (%s) is lost: %s", action.pk, action.kind, reason)
            failed += 1
    return failed


#: Non-secret inputs of the assisted setup that Finish's remote part reads from its ``data`` (besides the saved
#: connection setup): kept in ``ConnectionAction.options`` for the worker. Add a new Finish input here.
FINISH_OPTIONS = ("import_solution", "enable", "salesperson_couplings", "couple_salespersons_by_email")


def connection_action_enqueue(*, connection: ConnectionSetup, kind: str, user: User, admin_username: str = "",
                              admin_password: str = "", options: dict[str, Any] | None = None) -> Any:
    """Start a remote action of ``connection`` on an RQ worker: Finish, Enable or Redeploy Integration Solution
    (``ConnectionAction.Kind``). Returns the :class:`~connections.models.ConnectionAction`.

    The row (status Queued) is written first; ``connections.tasks.run_connection_action(action_id)`` is enqueued on
    the "default" queue when the transaction commits (django-rq's on-commit mode), with the action's id as its only
    argument. ``admin_username`` / ``admin_password`` (Finish with the solution import, Redeploy) are kept in the row,
    the password encrypted, until the task reads and blanks them. ``options`` (Finish only) holds the keys of
    :data:`FINISH_OPTIONS` from the wizard's data (``import_solution``, ``enable``, ``salesperson_couplings``, ...),
    JSON-serialisable and never secret; other keys raise ValueError.

    At most one action per connection runs at a time: when one is already Queued or Running it is returned instead
    (``action.created`` is False) and nothing is enqueued — unless its RQ job is lost (see :func:`_action_lost`),
    in which case it is marked Failed and a new one starts. Raises ValidationError for a Redeploy without
    credentials (nothing is saved).
    """
    import django_rq
    from django.db import IntegrityError

    from connections.models import ConnectionAction
    from connections.tasks import run_connection_action

    Kind = ConnectionAction.Kind
    kind = Kind(kind)
    options = dict(options or {}) if kind == Kind.FINISH else {}
    unknown = set(options) - set(FINISH_OPTIONS)
    if unknown:
        raise ValueError(f"Unknown Finish options {sorted(unknown)}: add them to FINISH_OPTIONS if they are inputs of "
                         "connection_setup_finish (never secrets).")
    if kind == Kind.REDEPLOY and not (admin_username and admin_password):
        raise ValidationError("Enter the Dataverse administrator's user name and password to import the integration "
                              "solution.")
    keep_credentials = kind == Kind.REDEPLOY or (kind == Kind.FINISH and bool(options.get("import_solution")))
    real_user = user if user is not None and getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        # Serialise enqueues of one connection (PostgreSQL row lock; SQLite serialises writers anyway).
        list(ConnectionSetup.objects.select_for_update().filter(pk=connection.pk).values("pk"))
        running = ConnectionAction.objects.active().filter(connection=connection).first()
        if running is not None:
            reason = _action_lost(running)
            if not reason:
                running.created = False
                return running
            connection_action_fail_lost(action=running, reason=reason)
        action_id = uuid.uuid4()
        try:
            with transaction.atomic():
                action = ConnectionAction.objects.create(
                    id=action_id, connection=connection, kind=kind, requested_by=real_user,
                    options=options,
                    admin_username=admin_username if keep_credentials else "",
                    admin_password=admin_password if keep_credentials else "",
                    rq_job_id=f"connection-action-{action_id}")
        except IntegrityError:  # another request queued one in the meantime (the partial unique constraint)
            running = ConnectionAction.objects.active().filter(connection=connection).first()
            if running is None:
                raise
            running.created = False
            return running
        django_rq.get_queue(ACTION_QUEUE).enqueue_call(run_connection_action, args=(str(action.pk),),
                                                       job_id=action.rq_job_id)
        connection_action_record(connection=connection, user=user, action=f"{kind.label} queued")
    action.created = True
    logger.info("%s of %s queued as %s", kind.label, connection.name, action.pk)
    return action


def connection_action_status(*, action: Any) -> dict[str, Any]:
    """The status of ``action`` for its page and its JSON endpoint (polled every two seconds).

    Shape: ``{"id", "kind", "kind_display", "status", "status_display", "active": bool, "done": bool, "ok": bool,
    "message", "waiting": str, "steps": [{"name", "ok", "status", "message", "fix", "layer", "details"}],
    "pending": [step names not run yet], "failed_step": step | None, "created_at", "started_at", "finished_at"}``
    (times ISO 8601 UTC). ``waiting`` says what a Queued action waits for: no live RQ worker on the queue (with the
    command that starts one) or its turn on the queue.
    """
    from connections.models import ConnectionAction

    report = CheckReport.from_dict(action.report or {})
    steps = [{**asdict(step), "status": step.status} for step in report.steps]
    done = action.status in (ConnectionAction.Status.SUCCEEDED, ConnectionAction.Status.FAILED)
    pending: list[str] = []
    if not done and action.kind == ConnectionAction.Kind.FINISH:
        seen = {step.name for step in report.steps}
        pending = [name for name in FINISH_STEPS if name not in seen]
    waiting = ""
    if action.status == ConnectionAction.Status.QUEUED:
        waiting = _queue_waiting_text()
    failed = report.failed_step
    return {
        "id": str(action.pk), "kind": str(action.kind), "kind_display": action.get_kind_display(),
        "status": str(action.status), "status_display": action.get_status_display(),
        "active": not done, "done": done, "ok": action.status == ConnectionAction.Status.SUCCEEDED,
        "message": action.message, "waiting": waiting, "steps": steps, "pending": pending,
        "failed_step": {**asdict(failed), "status": failed.status} if failed else None,
        "created_at": action.created_at.isoformat() if action.created_at else None,
        "started_at": action.started_at.isoformat() if action.started_at else None,
        "finished_at": action.finished_at.isoformat() if action.finished_at else None,
    }


def _queue_waiting_text() -> str:
    """What a Queued action waits for: a worker (none alive on the queue) or its turn."""
    try:
        import django_rq
        from redis.exceptions import RedisError
        from rq import Worker

        queue = django_rq.get_queue(ACTION_QUEUE)
        workers = Worker.count(queue=queue)
        ahead = len(queue)
    except (ImportError, RedisError, OSError) as error:
        return f"Waiting for a worker; Redis cannot be read ({type(error).__name__})."
    if not workers:
        return f"Waiting for a worker: {WORKER_HINT} (no RQ worker is running)."
    return f"Waiting for a worker to pick it up ({ahead} job(s) on the queue, {workers} worker(s) alive)."


# ---------------------------------------------------------------------------------------------- salesperson coupling

COUPLE_STEP = "Couple salespersons"


class SalespersonListsUnavailable(Exception):
    """The wizard's salespersons step could not read BC's salespeople or Dataverse's users; ``step`` is the failed
    :class:`CheckStep` naming the layer and the fix."""

    def __init__(self, step: CheckStep) -> None:
        super().__init__(step.message)
        self.step = step

    @property
    def text(self) -> str:
        """One line for a form error: what failed, the layer, and the fix."""
        step = self.step
        return f"Could not read the salespersons and users ({step.layer or 'unknown'} layer): {step.message}" + (
            f" Fix: {step.fix}" if step.fix else "") + " Go back to correct the settings, or choose the Team " \
            "ownership model."


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


def salesperson_lists_read(*, connection: ConnectionSetup,
                           timeout: float = TEST_TIMEOUT) -> tuple[list[Any], list[Any]]:
    """BC's salespeople and the Dataverse users they may be coupled to, read with ``connection``'s credentials (saved
    or not) and the short Test Connection timeout (seconds, no retries).

    Returns ``(salespeople, users)``: ``mappings.salespeople.SalespersonRow`` and ``UserRow`` lists; users are those
    the SALESPEOPLE mapping reads (enabled, licensed, not an integration user) less the connection's own integration
    user (WhoAmI). A company typed as a name is resolved as Test Connection does. Raises
    :class:`SalespersonListsUnavailable` (layer and fix) on any remote failure — never a raw client error."""
    from connections.clients.errors import ClientError
    from mappings.salespeople import salespeople_read, salesperson_users_read

    try:
        dataverse = _dataverse(connection, timeout=timeout)
        who = _guid(dataverse.who_am_i().get("UserId"))
        users = salesperson_users_read(dataverse=dataverse, exclude=who)
    except ClientError as error:
        raise SalespersonListsUnavailable(check_step_for_error("Read the Dataverse users", error)) from None
    try:
        probe = copy.copy(connection)
        if not probe.bc_company_id:
            companies = _business_central(probe, timeout=timeout).companies()
            probe.bc_company_id = _guid(_pick_company(probe, companies).get("id"))
        salespeople = salespeople_read(bc=_business_central(probe, timeout=timeout))
    except _StepFailed as failed:
        raise SalespersonListsUnavailable(failed.step) from None
    except ClientError as error:
        step = check_step_for_error("Read the Business Central salespeople", error)
        if step.layer == "http":
            step.layer = "business central"
        raise SalespersonListsUnavailable(step) from None
    return salespeople, users


def finish_couple_salespersons(*, connection: ConnectionSetup, data: dict[str, Any], report: CheckReport,
                               timeout: float = TEST_TIMEOUT) -> CheckStep:
    """Finish's "Couple salespersons" step (Person model; BC: CDS Connection Setup Wizard CoupleSalespersons,
    reference 2.1 and 10). Adds the step to ``report`` and returns it.

    Couples ``data["salesperson_couplings"]`` (``[{"code", "salesperson_id", "systemuserid", ...}]``, chosen on the
    wizard's salespersons step) through ``mappings.salespeople.salespeople_couple`` (idempotent). With
    ``data["couple_salespersons_by_email"]`` (``setup_connection --couple-salespersons-by-email``) the pairs are
    found by matching e-mails (case-insensitive) instead, reading both sides with ``timeout``. Without any pair the
    step is "not run" and says to couple before the first full synchronization. A read failure or a pair that
    conflicts with an existing coupling fails the step (the others are still coupled)."""
    from mappings.salespeople import salespeople_couple, salespeople_match_by_email

    couplings = [dict(pair) for pair in data.get("salesperson_couplings") or []]
    if data.get("couple_salespersons_by_email"):
        try:
            salespeople, users = salesperson_lists_read(connection=connection, timeout=timeout)
        except SalespersonListsUnavailable as failed:
            return report.add(COUPLE_STEP, False, f"{failed.step.name}: {failed.step.message}", layer=failed.step.layer,
                              fix=failed.step.fix or "Couple the salespersons on the Couple Salespersons page.")
        names = {user.id: user.name for user in users}
        chosen = {pair.get("code") for pair in couplings}
        matches = salespeople_match_by_email(salespeople, users)
        for person in salespeople:
            user_id = matches.get(person.code)
            if user_id and person.code not in chosen:
                couplings.append({"code": person.code, "salesperson_id": str(person.id), "systemuserid": str(user_id),
                                  "name": person.name, "user": names.get(user_id, "")})
    if not couplings:
        return report.add(COUPLE_STEP, None, "Person ownership: no salesperson was coupled. Couple each salesperson "
                          "to a Dataverse user (Couple Salespersons) before running the full synchronization.")
    result = salespeople_couple(connection=connection, couplings=couplings)
    labels = {pair.get("code"): f"{pair.get('code')} → {pair.get('user') or pair.get('systemuserid')}"
              for pair in couplings}
    details = [f"Coupled: {labels[code]}" for code in result.coupled] + \
              [f"Already coupled: {labels[code]}" for code in result.already] + result.problems
    message = f"{len(result.coupled)} salespersons coupled to Dataverse users" + (
        f"; {len(result.already)} were already coupled" if result.already else "") + "."
    if result.problems:
        return report.add(COUPLE_STEP, False, f"{message} {len(result.problems)} could not be coupled.",
                          layer="mappings", details=details,
                          fix="Open Couple Salespersons: uncouple the record named in each line, or choose another "
                          "user.")
    return report.add(COUPLE_STEP, True, message, details=details)
