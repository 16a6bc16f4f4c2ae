"""Test Connection and its diagnostics: each check is a step of a :class:`CheckReport` that names the failing layer
(DNS, TLS, sign-in, environment, privilege, integration user) and the fix (BC: table 7200 CDS Connection
Setup and page 5330 CRM Connection Setup, action Test Connection, and TestIntegrationUserRequirements).

Remote errors (:class:`connections.clients.errors.ClientError`) become failed steps, never exceptions to a view.
"""
from __future__ import annotations

import copy
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from connections.bc_requirements import BCEndpoint, BCProblem, endpoints_probe, extension_check
from connections.clients import (
    BusinessCentralClient,
    DataverseClient,
    business_central_client_for,
    dataverse_client_for,
)
from connections.clients.businesscentral import CUSTOM_API, REQUIRED_EXTENSION_VERSION
from connections.clients.errors import AccessDeniedError, ClientError, NotFoundError, OutboundURLRejected
from connections.clients.outbound import check_outbound_url
from connections.models import ConnectionSetup
from connections.setup import User, connection_action_record, connection_changes_apply, missing_sign_in_settings
from connections.solution import (
    INTEGRATION_ROLES,
    SOLUTION_UNIQUE_NAME,
    SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID,
    roles_granting,
)

logger = logging.getLogger(__name__)

#: Short client timeout of Test Connection (seconds): a page waits for it (the one remote call a view makes).
TEST_TIMEOUT = 15.0


class ConnectionActionFailed(Exception):
    """An action (enable, solution import, finish) could not complete; ``report`` says which step failed and why.
    Nothing was half-saved: the connection keeps its previous state (and stays disabled)."""

    def __init__(self, message: str, report: CheckReport) -> None:
        super().__init__(message)
        self.report = report


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


class StepFailed(Exception):
    """Internal: a check failed; carries the step to record."""

    def __init__(self, step: CheckStep) -> None:
        super().__init__(step.message)
        self.step = step


def interactive_client_options(timeout: float | None) -> dict[str, Any]:
    """Client options for a check someone waits for: ``timeout`` seconds per request and no retries (``{}`` when
    ``timeout`` is None: the clients' defaults, with retries)."""
    return {} if timeout is None else {"timeout": timeout, "max_retries": 0}


def dataverse_client(connection: ConnectionSetup, *, timeout: float | None = None,
                     caller_id: uuid.UUID | None = None) -> DataverseClient:
    """The connection's Dataverse client for a check (see :func:`interactive_client_options`); ``caller_id``
    impersonates that Dataverse user (``MSCRMCallerID``). Raises ClientError for a credential it cannot use."""
    return dataverse_client_for(connection, caller_id=caller_id, **interactive_client_options(timeout))


def business_central_client(connection: ConnectionSetup, *, timeout: float | None = None) -> BusinessCentralClient:
    """The connection's BC client for a check (see :func:`interactive_client_options`). Raises ClientError for a
    credential it cannot use."""
    return business_central_client_for(connection, **interactive_client_options(timeout))


#: Dataverse's PrivilegeDenied message (``0x80040220``; Microsoft Learn: "Web service error codes"): the privilege
#: and, when given, the table.
_MISSING_PRIVILEGE = re.compile(r"is missing (prv\w+) privilege(?:.*?for entity '(\w+)')?", re.DOTALL)


def check_step_for_error(name: str, error: Exception, *, service_hint: str = "") -> CheckStep:
    """Turn a client error into a failed :class:`CheckStep` named ``name``, with the layer and the fix.

    Layers: the client's own (dns, connection, tls, timeout, auth, http), refined by the service's answer:
    ``AADSTS500011`` or a Web API 404 → "environment" (the URL is not a Dataverse environment); 403 naming a
    disabled or unknown user → "integration user"; any other 403 → "privilege" (naming the missing privilege and
    table of Dataverse's ``0x80040220`` message in the message and the fix); OutboundURLRejected → "outbound".
    The message keeps the service's code (e.g. ``AADSTS7000215``, ``0x80040220``)."""
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


def run_check(report: CheckReport, name: str, action: Callable[[], str | tuple[str, list[str]]], *,
         layer_hint: str = "") -> bool:
    """Run one check; record its step; return whether it passed. ClientErrors become failed steps."""
    try:
        outcome = action()
    except StepFailed as failed:
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


def _version_valid(version: str) -> bool:
    """BC's ``IsVersionValid``: major > 6 and not 7.1 (BC: table 5330 CRM Connection Setup, field 63 CRM Version)."""
    match = re.match(r"(\d+)\.(\d+)", version or "")
    if not match:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return major > 6 and (major, minor) != (7, 1)


def guid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def integration_user_requirements(*, client: DataverseClient, user_id: uuid.UUID,
                                  require_roles: bool = True) -> list[str]:
    """Check the integration user as BC's ``TestIntegrationUserRequirements`` does (BC: page 5330 CRM Connection
    Setup, action Test Connection).

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
    if any(guid_or_none(role.get("_roletemplateid_value")) == SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID for role in roles):
        problems.append(f"The integration user {label} has the System Administrator role: remove it; the "
                        "integration user must not be a System Administrator.")
    if require_roles and not roles:
        problems.append(f"The integration user {label} has no security role: import the integration solution, "
                        "which assigns the integration roles.")
    if require_roles:
        held = {guid_or_none(role.get("_parentrootroleid_value")) or guid_or_none(role.get("roleid")) for role in roles}
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


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def missing_table_privileges(*, client: DataverseClient, user_id: uuid.UUID,
                             required: dict[str, dict[str, list[str]]]) -> list[str]:
    """The privileges of ``required`` (``{table: {privilege type: [mapping name, ...]}}``, computed by the callers
    from the mappings) the integration user does not hold, one readable line each (empty = all held).

    The user's privileges come from ``systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`` (Microsoft
    Learn: "RetrieveUserPrivileges Function": the privileges of its roles, direct and through teams); each table's
    privilege names from its metadata in one request, ``EntityDefinitions?$select=LogicalName,Privileges`` filtered
    on the tables (Microsoft Learn: "EntityMetadata EntityType", Privileges; "SecurityPrivilegeMetadata
    ComplexType", Name and PrivilegeType). Raises ClientError on remote failures."""
    if not required:
        return []
    answer = client.execute(f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
    held = {str(p.get("PrivilegeName") or "") for p in answer.get("RolePrivileges") or []}
    held_ids = {guid_or_none(p.get("PrivilegeId")) for p in answer.get("RolePrivileges") or []} - {None}
    tables = sorted(required)
    names: dict[str, dict[str, tuple[str, uuid.UUID | None]]] = {}
    for row in client.iter_rows("EntityDefinitions", select=["LogicalName", "Privileges"],
                                filter=" or ".join(f"LogicalName eq {_literal(t)}" for t in tables)):
        names[row.get("LogicalName") or ""] = {
            str(p.get("PrivilegeType")): (str(p.get("Name") or ""), guid_or_none(p.get("PrivilegeId")))
            for p in row.get("Privileges") or []}
    problems = []
    for table in tables:
        for privilege_type, mappings in required[table].items():
            needed_by = ", ".join(mappings)
            if table not in names:
                problems.append(f"The table '{table}' needed by {needed_by} is not in this environment (or its "
                                "definition cannot be read).")
                break
            name, privilege_id = names[table].get(privilege_type, ("", None))
            if not name:
                continue  # the table has no privilege of that type (e.g. Append on some system tables)
            if name not in held and privilege_id not in held_ids:
                granting = roles_granting(name)
                grant = f" The role {' and '.join(granting)} grants it." if granting else ""
                problems.append(f"{name} ({privilege_type}) on the table '{table}', needed by {needed_by}.{grant}")
    return problems


def connection_test(*, connection: ConnectionSetup, timeout: float = TEST_TIMEOUT, user: User = None,
                    check_roles: bool = True, save: bool = True,
                    required_privileges: dict[str, dict[str, list[str]]] | None = None,
                    bc_endpoints: Sequence[BCEndpoint] | None = None) -> ConnectionTestReport:
    """Test Connection (BC: page 5330 CRM Connection Setup, action Test Connection, with
    ``TestIntegrationUserRequirements``): settings complete, outbound URL allowed, sign-in (token), WhoAmI,
    Dataverse version, integration user requirements, the integration user's privileges on the mappings' tables
    (when ``required_privileges`` is given: ``{table: {privilege type: [mapping name, ...]}}``, which the callers
    above compute from the mappings), base currency, BC company, local currency in Dataverse, the BC companion
    extension's version and, when ``bc_endpoints`` is given (computed by the callers from the mappings), each BC API
    page and field the mappings use (``connections.bc_requirements``).

    Each check is a step; the first failing one names its layer (DNS, refused connection, TLS, unknown tenant,
    wrong client id or secret with the AADSTS code, not a Dataverse environment, missing privilege, integration user
    disabled / System Administrator / missing roles, timeout) and the fix; later steps are skipped. Never raises
    for remote failures. Stores what was read (version, base currency, integration user, solution) and the report
    on the connection when ``save``. ``timeout`` is the per-request client timeout in seconds.
    """
    report = CheckReport(checked_at=timezone.now().isoformat())
    read: dict[str, Any] = {}
    missing = missing_sign_in_settings(connection)
    if missing:
        report.add("Settings complete", False, " ".join(missing), layer="configuration",
                   fix="Fill in the missing fields on the connection setup page.")
        return _finish_test(connection, report, read, user, save)
    report.add("Settings complete", True, "All sign-in settings are filled in.")

    def outbound() -> str:
        check_outbound_url(connection.dataverse_url)
        check_outbound_url(f"{connection.authority_host.rstrip('/')}/{connection.tenant_id}")
        return "The environment and sign-in URLs may be called from this server."

    if not run_check(report, "Outbound URLs allowed", outbound):
        return _finish_test(connection, report, read, user, save)


    try:
        client = dataverse_client(connection, timeout=timeout)
    except ClientError as error:  # a credential the client refuses before any request (e.g. no thumbprint)
        report.steps.append(check_step_for_error("Sign in to Microsoft Entra ID", error))
        return _finish_test(connection, report, read, user, save)

    who: dict[str, Any] = {}

    def sign_in() -> str:
        try:
            who.update(client.who_am_i())
        except ClientError as error:
            if error.service == "entra":
                raise
            report.add("Sign in to Microsoft Entra ID", True, "A token was issued for the environment.")
            raise StepFailed(check_step_for_error("Reach the Dataverse environment (WhoAmI)", error)) from None
        if not guid_or_none(who.get("UserId")):
            raise StepFailed(CheckStep(
                "Reach the Dataverse environment (WhoAmI)", False,
                "The URL accepted the token but did not answer WhoAmI like Dataverse does.", layer="environment",
                fix="The URL is not a Dataverse environment: enter the environment URL (https://<org>.crm.dynamics.com)."))
        report.add("Sign in to Microsoft Entra ID", True, "A token was issued for the environment.")
        read["integration_user_id"] = guid_or_none(who["UserId"])
        return f"Dataverse answered WhoAmI: user {who['UserId']}, organization {who.get('OrganizationId', '')}."

    def run_sign_in() -> bool:
        before = len(report.steps)
        passed = run_check(report, "Reach the Dataverse environment (WhoAmI)", sign_in)
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
            raise StepFailed(CheckStep("Dataverse version", False, f"Version {value} is not supported.",
                                        layer="environment", fix="Use a Dataverse environment of version 9 or later."))
        read["server_version"] = value
        return f"Version {value}."

    if not run_check(report, "Dataverse version", version):
        return _finish_test(connection, report, read, user, save)

    def requirements() -> str:
        problems = integration_user_requirements(client=client, user_id=read["integration_user_id"],
                                                 require_roles=check_roles)
        if problems:
            raise StepFailed(CheckStep("Integration user requirements", False, " ".join(problems),
                                        layer="integration user", details=problems,
                                        fix="Correct the integration user in Dataverse, then test again."))
        return "The integration user is enabled, is not a System Administrator and has the integration roles."

    # A problem with the integration user does not hide the remaining checks (all problems at once).
    run_check(report, "Integration user requirements", requirements)

    def privileges() -> str:
        problems = missing_table_privileges(client=client, user_id=read["integration_user_id"],
                                            required=required_privileges or {})
        if problems:
            raise StepFailed(CheckStep(
                "Integration user privileges", False,
                "The integration user lacks privileges the integration table mappings need: " + " ".join(problems),
                layer="privilege", details=problems,
                fix="Assign the integration roles to the integration user (Redeploy Integration Solution), or add "
                    "the missing privileges to one of its security roles (Power Platform admin center > "
                    "Environment > Settings > Security roles), then test again."))
        return f"The integration user holds the privileges the mappings need on {len(required_privileges or {})} " \
               "table(s)."

    if required_privileges:
        run_check(report, "Integration user privileges", privileges)

    def organization() -> str:
        solutions = list(client.iter_rows("solutions", select=["uniquename", "version"],
                                          filter=f"uniquename eq '{SOLUTION_UNIQUE_NAME}'"))
        read["is_solution_installed"] = bool(solutions)
        read["solution_version"] = solutions[0].get("version", "") if solutions else ""
        org = next(iter(client.iter_rows("organizations", select=["basecurrencyid", "basecurrencysymbol",
                                                                      "currencydecimalprecision"])), {})
        currency_id = guid_or_none(org.get("_basecurrencyid_value"))
        read["base_currency_id"] = currency_id
        read["base_currency_precision"] = org.get("currencydecimalprecision")
        if currency_id:
            currency = client.retrieve("transactioncurrencies", currency_id, select=["isocurrencycode"])
            read["base_currency_code"] = currency.get("isocurrencycode", "")
        solution = f"integration solution {read['solution_version']}" if solutions else \
            "integration solution not installed"
        return f"Base currency {read.get('base_currency_code') or '(none)'}; {solution}."

    if not run_check(report, "Organization settings", organization):
        return _finish_test(connection, report, read, user, save)

    if not connection.bc_api_url:
        report.add("Business Central company", None, "No Business Central API URL is set; skipped.")
        return _finish_test(connection, report, read, user, save)

    bc_currency: dict[str, str | None] = {}

    def business_central() -> str:
        check_outbound_url(connection.bc_api_url)
        bc = business_central_client(connection, timeout=timeout)
        companies = bc.companies()
        company = pick_company(connection, companies)
        read["bc_company_id"] = guid_or_none(company.get("id"))
        read["bc_company_name"] = company.get("name") or company.get("displayName") or ""
        bc_currency["code"] = _bc_local_currency(connection, read["bc_company_id"], timeout)
        return f"Company {read['bc_company_name']} ({read['bc_company_id']})."

    if not run_check(report, "Business Central company", business_central):
        failed = report.steps[-1]
        failed.layer = failed.layer if failed.layer in ("dns", "connection", "tls", "timeout", "auth", "outbound",
                                                        "privilege") else "business central"
        return _finish_test(connection, report, read, user, save)

    def local_currency() -> str:
        # BC (table 5330 CRM Connection Setup, EnableCRMConnection): General Ledger Setup "LCY Code" must be
        # non-empty and exist as an ISO currency code in Dataverse (transactioncurrency.isocurrencycode).
        code = bc_currency.get("code")
        if code is None:
            return "Business Central's company information is not available; the local currency was not checked."
        if not code:
            raise StepFailed(CheckStep(
                "Local currency in Dataverse", False, "Business Central has no local currency code (LCY Code).",
                layer="currency", fix="Fill in LCY Code in Business Central's General Ledger Setup with the ISO "
                "code of the company's currency, then test again."))
        quoted = code.replace("'", "''")
        rows = list(client.iter_rows("transactioncurrencies", select=["isocurrencycode"],
                                     filter=f"isocurrencycode eq '{quoted}'"))
        if not rows:
            raise StepFailed(CheckStep(
                "Local currency in Dataverse", False,
                f"The local currency {code} of Business Central is not present in Dataverse.", layer="currency",
                fix=f"Add the currency {code} in Dynamics 365 Sales (Settings > Business Management > Currencies, "
                f"ISO currency code {code}), then test again."))
        return f"Local currency {code} exists in Dataverse."

    run_check(report, "Local currency in Dataverse", local_currency)
    _business_central_requirements(connection, report, read, bc_endpoints or (), timeout)
    return _finish_test(connection, report, read, user, save)


def _business_central_requirements(connection: ConnectionSetup, report: CheckReport, read: dict[str, Any],
                                   endpoints: Sequence[BCEndpoint], timeout: float) -> None:
    """The steps "Business Central companion extension" (its ``integrationInfo`` version) and "Business Central API
    pages and fields" (each endpoint the mappings use, ``connections.bc_requirements``): each failure names the page
    or field and the fix (install or update the extension, or assign its permission set)."""
    probe = copy.copy(connection)  # in memory only: the company id read is saved with the report
    probe.bc_company_id = read.get("bc_company_id")
    bc = business_central_client(probe, timeout=timeout)
    installed: dict[str, bool] = {}

    def failed(name: str, problems: list[BCProblem]) -> StepFailed:
        fixes = list(dict.fromkeys(problem.fix for problem in problems))
        layer = "privilege" if any(problem.layer == "privilege" for problem in problems) else "business central"
        return StepFailed(CheckStep(name, False, " ".join(problem.message for problem in problems), fix=" ".join(fixes),
                                    layer=layer, details=[problem.message for problem in problems]))

    def extension() -> str:
        version, problems = extension_check(bc)
        installed["extension"] = bool(version)
        if problems:
            raise failed("Business Central companion extension", problems)
        return f"Version {version} is installed (this portal calls {REQUIRED_EXTENSION_VERSION.split('.')[0]}.x)."

    run_check(report, "Business Central companion extension", extension)
    if not endpoints:
        return

    def pages() -> str:
        extension_installed = installed.get("extension", False)
        problems = endpoints_probe(bc, endpoints, extension_installed=extension_installed)
        if problems:
            raise failed("Business Central API pages and fields", problems)
        probed = [e for e in endpoints if extension_installed or e.api != CUSTOM_API]
        fields = sum(len(endpoint.properties) for endpoint in probed)
        unchecked = len(endpoints) - len(probed)
        skipped = f" {unchecked} pages of the companion extension were not checked: it is not installed." \
            if unchecked else ""
        return f"{len(probed)} API pages and {fields} fields the mappings use answer.{skipped}"

    run_check(report, "Business Central API pages and fields", pages)


def _relabel_sign_in(report: CheckReport) -> None:
    """Network failures before a token is issued belong to the sign-in step (the first remote call)."""
    step = report.failed_step
    if step and step.name == "Reach the Dataverse environment (WhoAmI)" and not any(
        s.name == "Sign in to Microsoft Entra ID" for s in report.steps
    ):
        step.name = "Sign in to Microsoft Entra ID"


def pick_company(connection: ConnectionSetup, companies: list[dict[str, Any]]) -> dict[str, Any]:
    if connection.bc_company_id:
        found = [c for c in companies if guid_or_none(c.get("id")) == connection.bc_company_id]
    elif connection.bc_company_name:
        wanted = connection.bc_company_name.lower()
        found = [c for c in companies
                 if wanted in ((c.get("name") or "").lower(), (c.get("displayName") or "").lower())]
    else:
        found = companies if len(companies) == 1 else []
    if not found:
        names = ", ".join(f"{c.get('name')} ({c.get('id')})" for c in companies) or "none"
        raise StepFailed(CheckStep("Business Central company", False,
                                    f"The company is not found or not chosen. Companies: {names}.",
                                    layer="business central", fix="Enter one of the listed company IDs or names."))
    return found[0]


def _bc_local_currency(connection: ConnectionSetup, company_id: uuid.UUID | None, timeout: float) -> str | None:
    """BC's local currency code (General Ledger Setup "LCY Code"), read from ``companyInformation.currencyCode``
    (Microsoft Learn: "Business Central API (v2.0)"). ``""`` when BC reports none; None when the company information
    cannot be read (404)."""
    probe = copy.copy(connection)  # in memory only: the company id read is saved with the report
    probe.bc_company_id = company_id
    try:
        rows = list(business_central_client(probe, timeout=timeout).iter_rows("companyInformation"))
    except NotFoundError:
        return None
    return (rows[0].get("currencyCode") or "").strip() if rows else None


def _finish_test(connection: ConnectionSetup, report: CheckReport, read: dict[str, Any], user: User,
                 save: bool) -> CheckReport:
    if save and connection.pk:
        values = {k: v for k, v in read.items() if v is not None}
        with transaction.atomic():
            connection_changes_apply(connection, user, values)
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

