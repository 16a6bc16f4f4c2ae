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
  portal's companion extension (Microsoft Learn "Developing a custom API"), served exactly as the AL pages of
  ``bc-extension/src`` declare them (:mod:`.al` reads them, :mod:`.custom` builds the entity sets): the tables v2.0
  lacks (resources, unit groups, price lists, ...), standard tables re-exposed with the fields v2.0 lacks (same
  rows, SystemId and ``lastModifiedDateTime`` as on v2.0), their ``[ServiceEnabled]`` bound actions, and nothing
  else; without the extension (``extension_installed=False``) the whole route answers 404;
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
delete, bound actions), :mod:`.batch` (JSON batch), :mod:`.schema` (API v2.0 pages), :mod:`.al` (AL reader),
:mod:`.custom` (the extension's pages), :mod:`.apis` (what each route serves), :mod:`.seed` (BC demo data beyond
the datasets' own tables), :mod:`.state` (companies and rows, ETags, errors), :mod:`.core` (shared helpers),
:mod:`.service` (the :class:`BusinessCentral` class).
"""

from __future__ import annotations

from .al import ALPage, app_manifest, read_pages
from .apis import STORAGE, entity_for, routable
from .custom import CUSTOM, PAGES
from .schema import (
    BOOL,
    CUSTOM_API,
    DATE,
    DATETIME,
    DEC,
    ENTITIES,
    GUID,
    INT,
    LINES_OF,
    NAV_SINGLE,
    READ_ONLY_SETS,
    STR,
    Entity,
)
from .service import BusinessCentral
from .state import BC_JSON, BCError, BCState, etag, now_bc, stable_id

__all__ = ["BC_JSON", "BOOL", "CUSTOM", "CUSTOM_API", "DATE", "DATETIME", "DEC", "ENTITIES", "GUID", "INT", "LINES_OF",
           "NAV_SINGLE", "PAGES", "READ_ONLY_SETS", "STORAGE", "STR", "ALPage", "BCError", "BCState", "BusinessCentral",
           "Entity", "app_manifest", "entity_for", "etag", "now_bc", "read_pages", "routable", "stable_id"]
