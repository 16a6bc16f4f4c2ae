"""What Test Connection checks in Business Central beyond the company: the companion extension (its version, read
from the ``integrationInfo`` API page) and every API page and field the integration table mappings read and write.

The extension ships as AL source (``bc-extension/``, API pages on ``api/bcportal/integration/v1.0``; Microsoft
Learn: "Developing a custom API"); a tenant without it answers 404 on that whole route, a tenant with an older
version 404 on a page it lacks or 400 ``BadRequest_NotFound`` "Could not find a property named 'x' on type
'Microsoft.NAV.<entity>'" on a field it lacks (Microsoft Learn: "Troubleshooting REST API/OData calls"). A
principal without the permission set answers 401 ``Authentication_InvalidCredentials`` (not registered on the
"Microsoft Entra Applications" page) or 403 (``Authorization_InsufficientPermissions``, or ``Internal_ServerError``
"Sorry, the current permissions prevented the action. (TableData …)"; Microsoft Learn: "Business Central error
codes").

The endpoints are probed with one ``$batch`` per API route, one ``GET <set>?$top=1&$select=<fields>`` operation
each (Microsoft Learn: "Using OData transactional $batch requests"): a few requests however many mappings there are.
The callers above the mappings say which endpoints (:class:`BCEndpoint`); this module does not import them.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from connections.clients import BusinessCentralClient
from connections.clients.businesscentral import (
    CUSTOM_API,
    REQUIRED_EXTENSION_VERSION,
    extension_version_problem,
)
from connections.clients.errors import AccessDeniedError, AuthenticationError, ClientError, NotFoundError

#: The AL permission set of the extension (``bc-extension/src/BCPortalIntegration.PermissionSet.al``).
PERMISSION_SET = "BCPORTAL INTEGRATION"
MAJOR = REQUIRED_EXTENSION_VERSION.split(".", 1)[0]
INSTALL_FIX = f"Install the companion extension {MAJOR}.x (README, Business Central extension) in this environment."
UPDATE_FIX = f"Update the companion extension to {MAJOR}.x (README, Business Central extension)."
PERMISSION_FIX = (f"Permission missing: assign the permission set {PERMISSION_SET} to the Entra application on the "
                  "Microsoft Entra Applications page in Business Central.")

_MISSING_PROPERTY = re.compile(r"Could not find a property named '([^']+)'")


@dataclass(frozen=True)
class BCEndpoint:
    """One BC API entity set the mappings use: ``api`` is ``"v2.0"`` or ``"custom"`` (the extension's route),
    ``entity_set`` is relative to ``companies({id})``, ``properties`` the API properties read or written,
    ``used_by`` the mapping names (for the message)."""

    api: str
    entity_set: str
    properties: tuple[str, ...]
    used_by: tuple[str, ...] = ()


#: The page the Customer Statistics job reads (the extension's "BCP Customer Statistics"; BC: codeunit 5350 "CRM
#: Statistics Job" reads the same figures of table 18 Customer). The job queue entry exists on every connection.
CUSTOMER_STATISTICS_ENDPOINT = BCEndpoint(
    api=CUSTOM_API, entity_set="customerStatistics",
    properties=("id", "number", "displayName", "balanceLCY", "outstandingOrdersLCY", "shippedNotInvoicedLCY",
                "outstandingInvoicesLCY", "totalAmountLCY", "creditLimitLCY", "overdueAmountLCY", "salesLCY",
                "invoicedPrepaymentAmountLCY"),
    used_by=("Customer Statistics job",))


@dataclass(frozen=True)
class BCProblem:
    """One thing Business Central lacks: what (``message``), what to do (``fix``), and the ``layer``
    ("business central" for a missing extension, page or field; "privilege" for a missing permission)."""

    message: str
    fix: str
    layer: str = "business central"


def _permission_problem(what: str, error: ClientError) -> BCProblem:
    return BCProblem(f"Business Central refused {what}: {error.message} ({error.code or 'HTTP'} {error.status}).",
                     PERMISSION_FIX, layer="privilege")


def extension_check(client: BusinessCentralClient) -> tuple[str, list[BCProblem]]:
    """Read the extension's ``integrationInfo`` page (one request) and compare its ``extensionVersion`` with
    :data:`REQUIRED_EXTENSION_VERSION` (same major version, installed minor ≥ required). Returns (installed version
    or "", problems; empty = fine). Raises ClientError for failures other than 401/403/404."""
    try:
        rows = list(client.iter_rows("integrationInfo", api=CUSTOM_API, top=1,
                                     select=["extensionName", "extensionVersion"]))
    except NotFoundError as error:
        return "", [BCProblem(
            f"The Business Central companion extension is not installed: the API route "
            f"{client.api_url(CUSTOM_API)} answered 404 ({error.code or 'not found'}) for its page `integrationInfo`.",
            INSTALL_FIX)]
    except (AuthenticationError, AccessDeniedError) as error:
        return "", [_permission_problem("the companion extension's page `integrationInfo`", error)]
    if not rows:
        return "", [BCProblem("The companion extension's page `integrationInfo` returned no row for this company.",
                              UPDATE_FIX)]
    version = str(rows[0].get("extensionVersion") or "")
    problem = extension_version_problem(version)
    if problem:
        return version, [BCProblem(f"The Business Central companion extension does not fit this portal: {problem}.",
                                   UPDATE_FIX)]
    return version, []


def _used_by(endpoint: BCEndpoint) -> str:
    return f" (used by {', '.join(endpoint.used_by)})" if endpoint.used_by else ""


def _endpoint_problem(endpoint: BCEndpoint, error: ClientError, *, extension_installed: bool) -> BCProblem:
    custom = endpoint.api == CUSTOM_API
    if isinstance(error, AuthenticationError | AccessDeniedError) or error.status in (401, 403):
        return _permission_problem(f"the API page `{endpoint.entity_set}`{_used_by(endpoint)}", error)
    missing = _MISSING_PROPERTY.search(error.message or "")
    if error.status == 400 and missing:
        fix = UPDATE_FIX if custom else (
            f"API v2.0 does not serve `{missing.group(1)}`: the mapping needs the companion extension's page "
            f"`{endpoint.entity_set}`; {UPDATE_FIX[0].lower()}{UPDATE_FIX[1:]}")
        return BCProblem(f"Field `{missing.group(1)}` not found on `{endpoint.entity_set}`{_used_by(endpoint)}.", fix)
    if error.status == 404:
        where = "Business Central API page" if custom else "Business Central API v2.0 entity set"
        fix = (UPDATE_FIX if extension_installed else INSTALL_FIX) if custom else \
            "Check that the Business Central API URL is the environment's API v2.0 (…/api/v2.0)."
        return BCProblem(f"{where} `{endpoint.entity_set}` not found{_used_by(endpoint)}.", fix)
    return BCProblem(f"Reading `{endpoint.entity_set}`{_used_by(endpoint)} failed: {error}", error.fix or UPDATE_FIX)


def endpoints_probe(client: BusinessCentralClient, endpoints: Iterable[BCEndpoint], *,
                    extension_installed: bool = True) -> list[BCProblem]:
    """Read one row of each endpoint with ``$select`` of its properties, one ``$batch`` per API route (≤ 100
    operations each), and return what is missing (empty = every page, field and permission is there). With
    ``extension_installed`` false the custom route is not probed (its absence is reported once by
    :func:`extension_check`). Raises ClientError for failures other than 401/403/404 of a whole batch."""
    by_api: dict[str, list[BCEndpoint]] = {}
    for endpoint in endpoints:
        by_api.setdefault(endpoint.api, []).append(endpoint)
    problems: list[BCProblem] = []
    for api, group in sorted(by_api.items()):
        if api == CUSTOM_API and not extension_installed:
            continue
        operations = [{"id": str(index), "method": "GET",
                       "url": f"{endpoint.entity_set}?$top=1&$select={','.join(endpoint.properties)}"}
                      for index, endpoint in enumerate(group, start=1)]
        try:
            results = client.batch(operations, api=api)
        except NotFoundError as error:
            if api == CUSTOM_API:
                problems.append(BCProblem(f"The API route {client.api_url(api)} answered 404 "
                                          f"({error.code or 'not found'}).", INSTALL_FIX))
            else:
                problems.append(BCProblem(f"The API route {client.api_url(api)} answered 404.",
                                          "Check the Business Central API URL (…/api/v2.0)."))
            continue
        except (AuthenticationError, AccessDeniedError) as error:
            problems.append(_permission_problem(f"the API route {client.api_url(api)}", error))
            continue
        for endpoint, result in zip(group, results, strict=True):
            if result["error"] is not None:
                problems.append(_endpoint_problem(endpoint, result["error"], extension_installed=extension_installed))
    return problems
