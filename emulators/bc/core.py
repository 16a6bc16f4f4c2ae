"""Shared part of the Business Central emulator: :class:`BusinessCentralBase` holds the state, the lock, the error
response and the small helpers every mixin uses.
"""

from __future__ import annotations

import collections
import json
import threading
import uuid
from typing import Any

from ..httpcore import Response, json_response
from .apis import STORAGE
from .schema import CUSTOM_API
from .state import BC_JSON, BCError, BCState, now_bc

MAX_RECORDED = 50_000


class BusinessCentralBase:
    """State and helpers shared by the mixins that make up :class:`emulators.bc.BusinessCentral`."""

    def __init__(self, state: BCState, settings: Any, *, extension_installed: bool = True) -> None:
        self.settings = settings
        #: Whether the tenant has the companion extension: without it the custom route answers 404 throughout.
        self.extension_installed = extension_installed
        #: The operations answered since start or the last reset (method, api, path, ``$select``, body keys), for
        #: tests that check what a client asks of BC; at most :data:`MAX_RECORDED` (the oldest are dropped).
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_RECORDED)
        self.lock = threading.RLock()
        self.origin = ""
        self.tenant_id = ""
        self.tenant_domain = ""
        self.load(state)

    def load(self, state: BCState) -> None:
        with self.lock:
            self.state = state

    # ------------------------------------------------------------------ helpers
    def err(self, e: BCError) -> Response:
        corr = str(uuid.uuid4())
        return json_response(e.status, {"error": {"code": e.code, "message": f"{e.message}  CorrelationId:  {corr}."}},
                             [("OData-Version", "4.0"), ("request-id", corr)],
                             content_type=BC_JSON)

    def base_url(self, env: str, api: str) -> str:
        path = "api/v2.0" if api == "v2.0" else "api/" + "/".join(CUSTOM_API)
        return f"{self.origin}/v2.0/{self.tenant_id}/{env}/{path}/"

    def table(self, company: str, entity: str) -> dict[str, dict[str, Any]]:
        return self.state.companies[company]["tables"].setdefault(entity, {})

    def next_version(self) -> int:
        self.state.version += 1
        return self.state.version

    def insert_seed(self, company: str, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        """Insert a seeded row (fills defaults, derived fields, version and timestamps)."""
        ent = STORAGE[entity]
        full = {f: None for f in ent.fields if f not in ent.constants}
        full.update(ent.defaults)
        full.update(row)
        full["id"] = full.get("id") or str(uuid.uuid4())
        if "lastModifiedDateTime" in ent.fields and not full.get("lastModifiedDateTime"):
            full["lastModifiedDateTime"] = now_bc()
        full["@v"] = self.next_version()
        self.table(company, entity)[full["id"]] = full
        return full

    def _json(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            raise BCError(400, "BadRequest", "Invalid Request Body") from None
        if not isinstance(data, dict):
            raise BCError(400, "BadRequest", "Invalid Request Body")
        return data
