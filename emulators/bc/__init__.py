"""Business Central API emulator.

Routes (``{bc}`` = ``{origin}/v2.0/{tenant}/{environment}``; the tenant segment may be omitted as in
``/v2.0/{environment}/api/...``):

* ``{bc}/api/v2.0/companies`` and ``{bc}/api/v2.0/companies({id})/{entitySet}[({id})[/{lines}]]`` for
  the standard entity sets of Microsoft Learn "Business Central API (v2.0)" (items, itemCategories, unitsOfMeasure,
  customers, vendors, contacts, currencies, salespeoplePurchasers, paymentTerms, shipmentMethods, opportunities,
  salesQuotes, salesQuoteLines, salesOrders, salesOrderLines, salesInvoices, salesInvoiceLines) and
  ``companyInformation`` (API v2.0 "companyInformation": one row, ``currencyCode`` = LCY) and the read-only
  ``contactsInformation`` (Contact Business Relation: contactId, contactNumber, contactName, contactType,
  relatedId, relatedType);
  ``{entitySet}/$count`` answers the plain number (OData v4);
* ``{bc}/api/bcportal/integration/v1.0/companies({id})/{entitySet}`` - the custom API pages of the
  portal's companion extension for what v2.0 lacks (Microsoft Learn "Developing a custom API"):
  ``resources``, ``resourceUnitsOfMeasure``, ``itemUnitsOfMeasure``, ``customerPriceGroups``,
  ``salesPrices``, ``salesHeaderArchives``, ``shippingAgents``, ``unitGroups`` (derived from items and
  resources), and the standard tables of :data:`.schema.EXTENSION_FIELDS` re-exposed with the fields v2.0 lacks
  (same rows, SystemId and ``lastModifiedDateTime`` as on v2.0);
* ``{bc}/api/v2.0/$batch`` and ``{bc}/api/bcportal/integration/v1.0/$batch`` - JSON batch,
  at most 100 operations, ``Isolation: snapshot`` makes it atomic.

Behaviour: ``lastModifiedDateTime`` on every row (UTC, milliseconds), ``$filter``/``$select``/
``$orderby``/``$top``/``$skip``/``$count``/``$expand`` (single level), server-driven paging at 20,000
rows or ``Prefer: odata.maxpagesize``, ``@odata.etag`` with ``If-Match`` required on PATCH and
DELETE, stale ETag -> 409 ``Request_EntityChanged``, errors ``{"error": {"code", "message"}}``
with a ``CorrelationId`` suffix.  Sign-in: Entra bearer token for
``https://api.businesscentral.dynamics.com`` from a registered application or user, or HTTP Basic
with the user name and web service access key (on-premises style).

Modules: :mod:`.routing` (URL maps, entry point), :mod:`.query` (reads, paging), :mod:`.writes` (create, update,
delete, bound actions), :mod:`.batch` (JSON batch), :mod:`.schema` (API pages), :mod:`.state` (companies and rows,
ETags, errors), :mod:`.core` (shared helpers), :mod:`.service` (the :class:`BusinessCentral` class).
"""

from __future__ import annotations

from .schema import (
    BOOL,
    CUSTOM_API,
    CUSTOM_EXTENDED,
    DATE,
    DATETIME,
    DEC,
    ENTITIES,
    EXTENSION_FIELDS,
    GUID,
    INT,
    LINES_OF,
    NAV_SINGLE,
    READ_ONLY_SETS,
    STR,
    Entity,
    entity_for,
    routable,
)
from .service import BusinessCentral
from .state import BC_JSON, BCError, BCState, etag, now_bc, stable_id

__all__ = ["BC_JSON", "BOOL", "CUSTOM_API", "CUSTOM_EXTENDED", "DATE", "DATETIME", "DEC", "ENTITIES",
           "EXTENSION_FIELDS", "GUID", "INT", "LINES_OF", "NAV_SINGLE", "READ_ONLY_SETS", "STR", "BCError", "BCState",
           "BusinessCentral", "Entity", "entity_for", "etag", "now_bc", "routable", "stable_id"]
