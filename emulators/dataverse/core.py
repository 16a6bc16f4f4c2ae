"""What every part of the Dataverse emulator shares: the error type, request preferences and context, and
:class:`DataverseBase` (the organization state, locks, caches and the small helpers the mixins call).

Sources: Microsoft Learn "Use the Microsoft Dataverse Web API", "Compose HTTP requests and handle errors" (the
error envelope ``{"error": {"code", "message"}}``, ``Prefer`` preferences) and "Web service error codes".
"""

from __future__ import annotations

import json
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..httpcore import Headers, Response, json_response
from ..odata import ODataError
from .schema import Col, Table, build_schema
from .store import OrgState, Store, Txn

API_PREFIX = "/api/data/v9.2/"
VERSION = "9.2.25093.00191"
#: Unbound actions that change a local option set.
OPTION_ACTIONS = ("InsertOptionValue", "UpdateOptionValue", "DeleteOptionValue")
#: CustomizationOptionValuePrefix of a fresh org's default publisher: new option values start at prefix * 10000.
OPTION_VALUE_PREFIX = 10000


class DVError(Exception):
    """An error answered with Dataverse's envelope ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def bad(message: str, code: str = "0x80060888") -> DVError:
    """A 400 (``0x80060888`` unless ``code`` says otherwise)."""
    return DVError(400, code, message)


def not_exist(table: str, rid: str) -> DVError:
    """``0x80040217`` ObjectDoesNotExist, 404."""
    return DVError(404, "0x80040217", f"{table} With Id = {rid} Does Not Exist")


def not_found(segment: str) -> DVError:
    """404 ``0x80060888`` for a path segment that names nothing."""
    return DVError(404, "0x80060888", f"Resource not found for the segment '{segment}'.")


def not_supported() -> DVError:
    """405 ``0x80040315`` for a method the resource does not take."""
    return DVError(405, "0x80040315", "This action is not supported.")


def as_dv_error(exc: BaseException) -> DVError:
    """Map any failure inside a request to the Web API error it answers with.

    ``DVError`` passes through; an OData syntax error (bad key literal, bad URL) is 400 ``0x80060888``; anything
    else is 500 ``0x80040216`` (the caller has already rolled back). Non-``Exception`` exits (``KeyboardInterrupt``,
    ``SystemExit``) are re-raised unchanged."""
    if isinstance(exc, DVError):
        return exc
    if isinstance(exc, ODataError):
        return bad(str(exc))
    if not isinstance(exc, Exception):
        raise exc
    traceback.print_exception(exc)
    return DVError(500, "0x80040216", f"An unexpected error occurred: {exc}")


@dataclass
class Prefer:
    """Parsed ``Prefer`` header (``return=representation``, ``odata.maxpagesize``, ``odata.include-annotations``,
    ``odata.track-changes``, ``odata.continue-on-error``)."""

    representation: bool = False
    maxpagesize: int | None = None
    annotations: str | None = None
    track_changes: bool = False
    continue_on_error: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Prefer:
        p = cls()
        for part in (text or "").split(","):
            part = part.strip()
            low = part.lower()
            if low == "return=representation":
                p.representation = True
            elif low.startswith("odata.maxpagesize="):
                try:
                    p.maxpagesize = int(part.split("=", 1)[1])
                except ValueError:
                    raise bad("Invalid odata.maxpagesize preference.") from None
            elif low.startswith("odata.include-annotations="):
                p.annotations = part.split("=", 1)[1].strip('"')
            elif low == "odata.track-changes":
                p.track_changes = True
            elif low == "odata.continue-on-error":
                p.continue_on_error = True
        return p

    def wants(self, annotation: str) -> bool:
        if not self.annotations:
            return False
        for pat in self.annotations.split(","):
            pat = pat.strip()
            if pat == "*" or pat == annotation or (pat.endswith("*") and annotation.startswith(pat[:-1])):
                return True
        return False


@dataclass
class Ctx:
    """Per-request context: the calling systemuser, transaction, preferences, Content-ID map."""

    caller_id: str
    real_caller_id: str | None
    txn: Txn
    prefer: Prefer
    headers: Headers
    content_ids: dict[str, str] = field(default_factory=dict)
    #: the privileges of the caller (and of an impersonated user) by systemuserid, computed once per request
    privileges: dict[str, frozenset[str]] = field(default_factory=dict)


class DataverseBase:
    """State and helpers shared by the mixins that make up :class:`emulators.dataverse.Dataverse`."""

    def __init__(self, state: OrgState, settings: Any) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.origin = ""
        self._metadata_cache: dict[tuple[Any, ...], bytes] = {}
        self._render_pairs: dict[int, tuple[list[Col], list[tuple[str, str]]]] = {}
        self.load(state)

    def load(self, state: OrgState) -> None:
        """Replace the organization state (used at start and by the control endpoint's reset)."""
        with self.lock:
            self.state = state
            self.refresh_schema()
            self.store = Store(state)
            self._qcache = OrderedDict()

    def refresh_schema(self) -> None:
        """Rebuild the organization's tables from the standard ones and its imported solutions' components
        (``state.components``), with the lookup index :attr:`refs` and per-table row stores."""
        if not hasattr(self.state, "components"):  # state persisted before solutions were imported by content
            self.state.components = {}
        self.tables: dict[str, Table] = build_schema(list(self.state.components.values()))
        self.by_set: dict[str, Table] = {t.entity_set: t for t in self.tables.values()}
        #: table -> [(referencing table, lookup column)]
        self.refs: dict[str, list[tuple[str, Col]]] = {}
        for t in self.tables.values():
            self.state.rows.setdefault(t.logical, {})
            self.state.tombstones.setdefault(t.logical, {})
            for c in t.columns.values():
                for target in c.targets:
                    self.refs.setdefault(target, []).append((t.logical, c))
        self._metadata_cache.clear()
        self._render_pairs.clear()
        self._role_privilege_cache: dict[str, frozenset[str]] = {}

    @property
    def base(self) -> str:
        return self.origin + API_PREFIX

    def entity_url(self, table: Table, rid: str) -> str:
        return f"{self.base}{table.entity_set}({rid})"

    # ------------------------------------------------------------------ the organization's tables
    def table_by_set(self, name: str) -> Table:
        """The table of an entity set name (404 when the organization has no such table)."""
        t = self.by_set.get(name)
        if t is None:
            raise not_found(name)
        return t

    # ------------------------------------------------------------------ helpers
    def _row(self, table: str, rid: str | None) -> dict[str, Any] | None:
        return self.state.rows[table].get(rid) if rid else None

    def _json(self, body: bytes) -> Any:
        if not body:
            return {}
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad(f"Invalid JSON. {exc}", "0x80040203") from None

    def error_response(self, e: DVError) -> Response:
        return json_response(e.status, {"error": {"code": e.code, "message": e.message}},
                             [("OData-Version", "4.0"), *e.headers])
