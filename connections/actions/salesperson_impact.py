"""What fails in the Person ownership model when salespersons stay uncoupled: the BC customers, contacts and
opportunities whose Salesperson Code names them (BC: codeunit 7204 CDS Setup Defaults, Person ownership; the
owner of a synchronized row is the Dataverse user coupled to the record's salesperson, and a record whose
salesperson has no coupled user fails with "The salesperson ... is not coupled to a user").

Read with the credentials the assisted setup has so far (saved or not), the short Test Connection timeout, from the
companion extension's API pages, which carry ``salespersonCode`` for all three tables (bc-extension:
Customers.Page.al, Contacts.Page.al, Opportunities.Page.al; API v2.0 ``contacts`` lacks it)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

from connections.clients.errors import ClientError
from connections.diagnostics import TEST_TIMEOUT, StepFailed, business_central_client, guid_or_none, pick_company
from connections.models import ConnectionSetup
from mappings.catalogue import CUSTOM_API

#: (what the page calls them, the extension's entity set) of the records that carry a salesperson code.
RECORD_SETS: tuple[tuple[str, str], ...] = (("customers", "customers"), ("contacts", "contacts"),
                                            ("opportunities", "opportunities"))


@dataclass(frozen=True)
class UncoupledSalesperson:
    """One salesperson left without a Dataverse user, with the number of its BC records (``counts``: customers,
    contacts, opportunities) that fail to synchronize in the Person model."""

    code: str
    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Records of this salesperson that will fail."""
        return sum(self.counts.values())


class SalespersonImpactUnavailable(Exception):
    """The records of the uncoupled salespersons could not be counted; the message names the service error."""


def _filter(codes: list[str]) -> str:
    return " or ".join("salespersonCode eq '{}'".format(code.replace("'", "''")) for code in codes)


def uncoupled_salespersons_impact(*, connection: ConnectionSetup, salespersons: list[tuple[str, str]],
                                  timeout: float = TEST_TIMEOUT) -> list[UncoupledSalesperson]:
    """Count, per uncoupled salesperson (``salespersons``: ``[(code, name)]``), the BC customers, contacts and
    opportunities with that Salesperson Code (``$filter=salespersonCode eq '…' or …``, ``$select=salespersonCode``,
    paged). Returns them in the given order. Raises :class:`SalespersonImpactUnavailable` on any remote failure."""
    if not salespersons:
        return []
    codes = [code for code, _name in salespersons]
    counts: dict[str, dict[str, int]] = {code: {label: 0 for label, _set in RECORD_SETS} for code in codes}
    try:
        probe = copy.copy(connection)
        if not probe.bc_company_id:
            companies = business_central_client(probe, timeout=timeout).companies()
            probe.bc_company_id = guid_or_none(pick_company(probe, companies).get("id"))
        bc = business_central_client(probe, timeout=timeout)
        for label, entity_set in RECORD_SETS:
            for row in bc.iter_rows(entity_set, filter=_filter(codes), select=["salespersonCode"], api=CUSTOM_API):
                code = str(row.get("salespersonCode") or "")
                if code in counts:
                    counts[code][label] += 1
    except ClientError as error:
        raise SalespersonImpactUnavailable(f"The records of the uncoupled salespersons could not be counted: "
                                           f"{error}") from None
    except StepFailed as failed:  # no company matches what was typed
        raise SalespersonImpactUnavailable(f"{failed.step.message} {failed.step.fix}".strip()) from None
    return [UncoupledSalesperson(code, name, counts[code]) for code, name in salespersons]

