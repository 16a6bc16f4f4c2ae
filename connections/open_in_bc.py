""""Open in Business Central" from Sales: the connection row in Dataverse that says which BC environment, company
and web client URL the coupled rows open in (BC: table 5330 CRM Connection Setup, field 69 "Dynamics NAV URL",
whose validation writes the CRM-side "CRM NAV Connection" row; page 5330 action "Reset Web Client URL").

The portal's integration solution ships the table as ``bcp_connection`` (dataverse-solution/src/Entities/
bcp_Connection/Entity.xml: ``bcp_name``, ``bcp_environmentname``, ``bcp_companyid``, ``bcp_companyname``,
``bcp_webclienturl``; entity set ``bcp_connections``).
"""
from __future__ import annotations

import uuid
from typing import Any

from connections.clients.errors import ClientError, NotFoundError
from connections.diagnostics import CheckStep, check_step_for_error, dataverse_client
from connections.models import ConnectionSetup

#: Entity set of the connection table of the integration solution.
BC_CONNECTION_SET = "bcp_connections"
#: Name of the report step that writes the row.
STEP_NAME = "Open in Business Central"


def bc_connection_values(connection: ConnectionSetup) -> dict[str, Any]:
    """The columns of the connection's ``bcp_connection`` row: name (the BC company, else the connection's name;
    at most 100 characters), environment, company id (the company's SystemId, or None) and name (at most 30
    characters, BC's Company.Name is Text[30]) and the BC web client URL (at most 250 characters)."""
    company = connection.bc_company_name or ""
    return {
        "bcp_name": (company or connection.name)[:100],
        "bcp_environmentname": (connection.bc_environment or "")[:100] or None,
        "bcp_companyid": str(connection.bc_company_id) if connection.bc_company_id else None,
        "bcp_companyname": company[:30] or None,
        "bcp_webclienturl": (connection.bc_web_client_url or "")[:250] or None,
    }


def bc_connection_row_write(*, connection: ConnectionSetup, timeout: float | None = None) -> uuid.UUID:
    """Create or update the connection's ``bcp_connection`` row and return its id.

    One row per connection: the row's primary key is the connection setup's own id, written with an upsert
    (``PATCH bcp_connections(<id>)``; Microsoft Learn: "Use Upsert to create or update a record"), so repeating the
    write never makes a second row and nothing needs storing on the portal side. Runs as the integration user (the
    solution's "BC Integration Administrator" role grants Create and Write on the table). ``timeout`` in seconds
    (None: the client's default). Raises ClientError (NotFoundError when the table is missing, i.e. the integration
    solution is not imported)."""
    client = dataverse_client(connection, timeout=timeout)
    client.upsert(BC_CONNECTION_SET, connection.pk, bc_connection_values(connection))
    return uuid.UUID(str(connection.pk))


def bc_connection_row_step(*, connection: ConnectionSetup, timeout: float | None = None) -> CheckStep:
    """:func:`bc_connection_row_write` as a report step named :data:`STEP_NAME`: passed with the URL written, or
    failed with the layer and the fix (a missing table names the integration solution). Never raises for remote
    failures."""
    try:
        bc_connection_row_write(connection=connection, timeout=timeout)
    except NotFoundError as error:
        return CheckStep(STEP_NAME, False, f"Dataverse has no table {BC_CONNECTION_SET}: {error.message}",
                         layer="solution", fix="Import the integration solution (Redeploy Integration Solution) "
                         "with a Dataverse administrator's credentials, then try again.")
    except ClientError as error:
        return check_step_for_error(STEP_NAME, error)
    url = connection.bc_web_client_url or "(no web client URL)"
    return CheckStep(STEP_NAME, True, f"Sales opens coupled records in Business Central at {url}.")
