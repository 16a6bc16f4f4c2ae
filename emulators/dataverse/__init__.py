"""Dataverse Web API v9.2 emulator.

Served under ``{origin}/api/data/v9.2/``; the environment URL (token audience) is the bare origin (Microsoft Learn
"Use the Microsoft Dataverse Web API"). Supported: CRUD and upsert with ``If-Match``/``If-None-Match``,
``@odata.bind`` with referential checks, deep insert, ETags and 412 on stale writes; ``$select``/``$filter``/
``$orderby``/``$top``/``$count``/single-level ``$expand``, lambda operators ``any``/``all``, paging with
``Prefer: odata.maxpagesize``; change tracking; ``$batch`` with atomic change sets and ``Content-ID`` references;
``CreateMultiple``/``UpdateMultiple``/``UpsertMultiple``; alternate keys; ``WhoAmI``, ``RetrieveVersion``,
``ImportSolution``; role association via ``$ref``; ``$metadata``, ``EntityDefinitions`` (with picklist
``OptionSet``/``GlobalOptionSet`` expansion) and ``sdkmessagefilters``; ``InsertOptionValue``/``UpdateOptionValue``/
``DeleteOptionValue`` on local option sets, picklist writes validated against the current option set (out of range
= 400 ``0x8004431a``). Not supported (501 ``0x80040219``): ``$apply``, ``fetchXml``, ``sql``.

Callers are enabled systemusers of the organization; each request needs the privileges of
:meth:`Dataverse.required_privileges` from the caller's security roles (403 ``0x80040220`` otherwise).

Modules: :mod:`.routing` (URL map, entry point), :mod:`.security` (callers, roles, privileges), :mod:`.query`
(reads, paging, change tracking), :mod:`.records` (keys, conversion, single-row endpoints), :mod:`.writes` (create,
update, delete), :mod:`.rules` (table business rules), :mod:`.relations` (``$ref``, N:N), :mod:`.bulk`,
:mod:`.batch`, :mod:`.solutions` (ImportSolution, alternate keys), :mod:`.components` (what a solution
defines, read from its customizations.xml), :mod:`.metadata` and :mod:`.csdl`,
:mod:`.optionsets`, :mod:`.schema` (tables), :mod:`.store` (state, indexes, transactions), :mod:`.core` (shared
types), :mod:`.service` (the :class:`Dataverse` class).
"""

from __future__ import annotations

from ..httpcore import JSON_TYPE
from .core import API_PREFIX, OPTION_ACTIONS, OPTION_VALUE_PREFIX, VERSION, Ctx, DVError, Prefer, not_exist
from .security import privilege_name, privilege_rows
from .service import Dataverse
from .store import OrgState, now_iso

__all__ = ["API_PREFIX", "JSON_TYPE", "OPTION_ACTIONS", "OPTION_VALUE_PREFIX", "VERSION", "Ctx", "DVError",
           "Dataverse", "OrgState", "Prefer", "not_exist", "now_iso", "privilege_name", "privilege_rows"]
