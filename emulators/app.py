"""Wiring of the three emulators on one HTTPS origin: routing, authentication, limits, faults,
persistence and the control endpoint.

URL layout (one host:port, e.g. ``https://127.0.0.1:8443``):

* Entra ID: ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token``,
  ``/{tenant}/discovery/v2.0/keys``, ``/common/userrealm/{upn}``;
* Dataverse: ``/api/data/v9.2/...`` (environment URL = the bare origin);
* Business Central: ``/v2.0/{tenant}/{environment}/api/v2.0/...`` and
  ``/v2.0/{tenant}/{environment}/api/bcportal/integration/v1.0/...``;
* control: ``GET /_emulator/state``, ``POST /_emulator/faults``, ``POST /_emulator/reset``,
  ``POST /_emulator/certificates``, ``POST /_emulator/persist``, ``GET|POST /_emulator/privileges`` (Dataverse
  security roles), ``POST /_emulator/bulk-messages`` (Dataverse bulk operation messages of a table),
  ``POST /_emulator/local-currency`` (BC's LCY), ``GET /_emulator/bc-requests`` (the BC operations answered since the
  last reset) (loopback only, no token).

The split between the services is a werkzeug URL map (:func:`_routes`); each service routes its own paths.

State is kept in memory and written to ``<data-dir>/state.pickle`` at most every 2 seconds after a
write and at shutdown (SIGTERM/SIGINT); the freshly seeded state is kept in ``seed.pickle`` and in
memory for ``/_emulator/reset``.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.routing import Rule

from . import seed as seeding
from .bc import BCState, BusinessCentral, now_bc
from .certs import TlsFiles, certificate_thumbprints
from .dataverse import API_PREFIX, Dataverse, OrgState
from .entra import BC_RESOURCE, AuthError, Entra, EntraApp, EntraUser, Principal
from .httpcore import Request, Response, json_response
from .limits import Limiter, Settings, Throttled
from .urls import Router, one_of

STATE_FORMAT = 10  # 4: shipping agents, vendors, company information, extension fields, seeded roles;
#                  5: option-set changes (InsertOptionValue), accounts matching CRONUS customers;
#                  6: contactsInformation (Contact Business Relation) rows; 7: sales users for CRONUS salespeople;
#                  8: the state classes live in emulators.dataverse.store and emulators.bc.state (older pickles
#                     name modules that no longer exist: they are re-seeded);
#                  9: BC price lists, stored unit groups, BC couplings and integration table mappings


@dataclass
class Identity:
    """Secrets and ids generated once per data directory (``identity.json``)."""

    tenant_id: str
    tenant_domain: str
    client_id: str
    client_secret: str
    admin_user: str
    admin_password: str
    integration_user: str
    integration_password: str
    bc_user: str
    bc_web_service_access_key: str
    organization_id: str
    signing_key_pem: str
    #: A second app registration whose application user is a System Administrator in Dataverse (an unattended
    #: solution import with client credentials, ``setup_connection --admin-app-from-emulator``).
    admin_client_id: str = ""
    admin_client_secret: str = ""

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Identity:
        path = data_dir / "identity.json"
        if path.exists():
            ident = cls(**json.loads(path.read_text()))
            if ident.admin_client_id:
                return ident
            ident.admin_client_id, ident.admin_client_secret = str(uuid.uuid4()), "emu~" + secrets.token_urlsafe(30)
            path.write_text(json.dumps(ident.__dict__, indent=2))
            return ident
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        domain = "cronusdemo.onmicrosoft.com"
        ident = cls(tenant_id=str(uuid.uuid4()), tenant_domain=domain, client_id=str(uuid.uuid4()),
                    client_secret="emu~" + secrets.token_urlsafe(30), admin_user=f"admin@{domain}",
                    admin_password="Adm1n!" + secrets.token_urlsafe(12), integration_user=f"integration@{domain}",
                    integration_password="Int3g!" + secrets.token_urlsafe(12), bc_user="BCINTEGRATION",
                    bc_web_service_access_key=base64.b64encode(secrets.token_bytes(33)).decode(),
                    organization_id=str(uuid.uuid4()), signing_key_pem=pem, admin_client_id=str(uuid.uuid4()),
                    admin_client_secret="emu~" + secrets.token_urlsafe(30))
        path.write_text(json.dumps(ident.__dict__, indent=2))
        path.chmod(0o600)
        return ident

    def user_oid(self, upn: str) -> str:
        return str(uuid.uuid5(uuid.UUID(self.tenant_id), "user:" + upn.lower()))

    def app_oid(self, client_id: str | None = None) -> str:
        """The object id of an app's service principal (the portal's app by default)."""
        return str(uuid.uuid5(uuid.UUID(self.tenant_id), "sp:" + (client_id or self.client_id)))


class EmulatorApp:
    """The request handler behind :class:`emulators.httpcore.EmulatorHTTPServer`."""

    def __init__(self, data_dir: Path, tls: TlsFiles, *, seed: str, scale: int, settings: Settings,
                 environment: str = "production", bc_extension: bool = True) -> None:
        self.data_dir = data_dir
        self.tls = tls
        self.seed_name = seed
        self.scale = scale
        self.settings = settings
        self.initial_settings = Settings(**settings.as_dict())
        self.limiter = Limiter(settings)
        #: Requests received per service since start or the last reset (``GET /_emulator/state`` "requests").
        self.request_counts = {"dataverse": 0, "businesscentral": 0, "entra": 0}
        #: Seconds spent answering each service's requests (``GET /_emulator/state`` "request_seconds"): the pure
        #: transfer time a benchmark compares its wall time with. Entra token requests are also counted on their own.
        self.request_seconds = dict.fromkeys(self.request_counts, 0.0)
        self.entra_token_requests = 0
        self._count_lock = threading.Lock()
        self.ident = Identity.load_or_create(data_dir)
        self.environment = environment
        self.origin = ""
        client_pem = tls.client_cert.read_text()
        sha1, sha256 = certificate_thumbprints(client_pem.encode())
        app = EntraApp(self.ident.client_id, "BC Sales portal integration", [self.ident.client_secret],
                       {sha1: client_pem, sha256: client_pem})
        users = [EntraUser(self.ident.admin_user, self.ident.admin_password, self.ident.user_oid(self.ident.admin_user),
                           "System Administrator"),
                 EntraUser(self.ident.integration_user, self.ident.integration_password,
                           self.ident.user_oid(self.ident.integration_user), "Integration User")]
        self.entra = Entra(tenant_id=self.ident.tenant_id, tenant_domain=self.ident.tenant_domain,
                           signing_key_pem=self.ident.signing_key_pem.encode(),
                           apps=[app, EntraApp(self.ident.admin_client_id, "BC Sales portal setup (administrator)",
                                               [self.ident.admin_client_secret], {})], users=users,
                           resources={BC_RESOURCE: "bc"}, settings=settings)
        self.client_cert_thumbprint = sha1
        self._dirty = 0
        self._persisted = 0
        self._persist_lock = threading.Lock()
        dv_state, bc_state, self.seed_blob = self._load_or_seed()
        self.dv = Dataverse(dv_state, settings)
        #: Whether the BC tenant has the companion extension (``--bc-extension installed|absent``).
        self.bc_extension = bc_extension
        self.bc = BusinessCentral(bc_state, settings, extension_installed=bc_extension)
        self.bc.tenant_id = self.ident.tenant_id
        self.bc.tenant_domain = self.ident.tenant_domain
        self.routes = _routes(self.ident)

    # ------------------------------------------------------------------ state
    def _meta(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "seed": self.seed_name, "scale": self.scale,
                "client_id": self.ident.client_id}

    def _load_or_seed(self) -> tuple[OrgState, BCState, bytes]:
        state_path, seed_path = self.data_dir / "state.pickle", self.data_dir / "seed.pickle"
        if state_path.exists() and seed_path.exists():
            try:
                meta, dv_state, bc_state = pickle.loads(state_path.read_bytes())
                smeta, blob = pickle.loads(seed_path.read_bytes())
                if meta == self._meta() and smeta == self._meta():
                    return dv_state, bc_state, blob
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError):
                pass
        dv_state, bc_state = seeding.build(self.ident, seed=self.seed_name, scale=self.scale)
        blob = pickle.dumps((dv_state, bc_state), protocol=pickle.HIGHEST_PROTOCOL)
        _atomic_write(seed_path, pickle.dumps((self._meta(), blob), protocol=pickle.HIGHEST_PROTOCOL))
        _atomic_write(state_path, pickle.dumps((self._meta(), dv_state, bc_state), protocol=pickle.HIGHEST_PROTOCOL))
        return dv_state, bc_state, blob

    def persist(self, force: bool = False) -> bool:
        """Write ``state.pickle`` if anything changed since the last write (or when ``force``)."""
        with self._persist_lock:
            dirty = self._dirty
            if not force and dirty == self._persisted:
                return False
            with self.dv.lock, self.bc.lock:
                blob = pickle.dumps((self._meta(), self.dv.state, self.bc.state), protocol=pickle.HIGHEST_PROTOCOL)
            _atomic_write(self.data_dir / "state.pickle", blob)
            self._persisted = dirty
            return True

    def persist_loop(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Persist every ``interval`` seconds while anything changed, yet spend at most about a tenth of the time
        pickling: a pickle holds both services' locks (and the GIL), and at 100,000 items (over a second each) a fixed
        2 s period kept the emulators blocked 40 % of the time. Stopping persists anyway (``serve``)."""
        wait = interval
        while not stop.wait(wait):
            started = time.monotonic()
            self.persist()
            wait = max(interval, 10 * (time.monotonic() - started))

    def reset(self) -> None:
        """Back to the freshly seeded data (and the start-up settings); well under a second for demo data."""
        dv_state, bc_state = pickle.loads(self.seed_blob)
        with self.dv.lock, self.bc.lock:
            self.dv.load(dv_state)
            self.dv._metadata_cache.clear()
            self.bc.load(bc_state)
            self.bc.requests.clear()
        self.settings.update(self.initial_settings.as_dict())
        self.limiter.reset()
        with self._count_lock:
            self.request_counts = dict.fromkeys(self.request_counts, 0)
            self.request_seconds = dict.fromkeys(self.request_counts, 0.0)
            self.entra_token_requests = 0
        self._dirty += 1

    # ------------------------------------------------------------------ info
    def set_origin(self, origin: str) -> None:
        self.origin = origin
        self.entra.origin = origin
        self.dv.origin = origin
        self.bc.origin = origin
        host_port = origin.split("://", 1)[1]
        port = host_port.rsplit(":", 1)[1]
        for alias in (origin, f"https://127.0.0.1:{port}", f"https://localhost:{port}"):
            self.entra.resources[alias] = "dataverse"
        self.dv_audiences = {a.lower() for a, s in self.entra.resources.items() if s == "dataverse"}

    def info(self) -> dict[str, Any]:
        """The JSON line printed by ``serve`` (its keys are relied upon by the portal, the tests and the benchmarks)."""
        i = self.ident
        companies = [{"id": cid, "name": c["row"]["name"]} for cid, c in self.bc.state.companies.items()]
        return {
            "entra_authority": f"{self.origin}/{i.tenant_id}",
            "dataverse_url": self.origin,
            "business_central_url": f"{self.origin}/v2.0/{i.tenant_id}/{self.environment}",
            "tenant_id": i.tenant_id, "client_id": i.client_id, "client_secret": i.client_secret,
            "admin_client_id": i.admin_client_id, "admin_client_secret": i.admin_client_secret,
            "integration_user": i.integration_user, "admin_user": i.admin_user, "admin_password": i.admin_password,
            "ca_bundle": str(self.tls.ca),
            "integration_password": i.integration_password, "tenant_domain": i.tenant_domain,
            "dataverse_api_url": f"{self.origin}{API_PREFIX}",
            "dataverse_scope": f"{self.origin}/.default",
            "business_central_scope": f"{BC_RESOURCE}/.default",
            "bc_environment": self.environment, "bc_companies": companies,
            "bc_api_url": f"{self.origin}/v2.0/{i.tenant_id}/{self.environment}/api/v2.0",
            "bc_extension": "installed" if self.bc_extension else "absent",
            "bc_custom_api_url": f"{self.origin}/v2.0/{i.tenant_id}/{self.environment}/api/bcportal/integration/v1.0",
            "bc_user": i.bc_user, "bc_web_service_access_key": i.bc_web_service_access_key,
            "client_certificate": str(self.tls.client_cert), "client_private_key": str(self.tls.client_key),
            "client_certificate_thumbprint": self.client_cert_thumbprint,
            "application_user_id": seeding.APP_USER_ID(i), "organization_id": i.organization_id,
            "control_url": f"{self.origin}/_emulator", "seed": self.seed_name, "scale": self.scale,
            "pid": os.getpid(),
        }

    # ------------------------------------------------------------------ request pipeline
    def __call__(self, req: Request) -> Response:
        route = self.routes.match(req.segments)
        endpoint, values = route if route is not None else ("entra", {})
        if endpoint == "control":
            return self.control(req, values["action"])
        started = time.perf_counter()
        try:
            return self._answer(req, endpoint, values)
        finally:
            service = {"dataverse": "dataverse", "bc": "businesscentral"}.get(endpoint, "entra")
            with self._count_lock:
                self.request_seconds[service] += time.perf_counter() - started
                if service == "entra" and req.path.rstrip("/").endswith("/token"):
                    self.entra_token_requests += 1

    def _answer(self, req: Request, endpoint: str, values: dict[str, Any]) -> Response:
        """Answer one request of a service (counted per service, see :attr:`request_counts`)."""
        if endpoint == "dataverse":
            self._count("dataverse")
            return self._service(req, "dataverse", {})
        if endpoint == "bc":
            self._count("businesscentral")
            return self._service(req, "bc", values)
        self._count("entra")
        if "entra" in self.settings.fault_services:
            self._added_latency("entra")
            fault = self._fault_response("entra")
            if fault is not None:
                return fault
        resp = self.entra.handle(req)
        if resp is not None:
            return resp
        return json_response(404, {"error": {"code": "NotFound", "message": f"No resource at {req.path}."}})

    def _count(self, service: str) -> None:
        """Count one received request (faulted and throttled ones included: the client sent them)."""
        with self._count_lock:
            self.request_counts[service] += 1

    def _added_latency(self, service: str) -> None:
        """Sleep ``latency_ms`` (the "slow service" fault) when it applies to ``service``.

        For the two APIs this runs INSIDE the concurrency gate (after :meth:`Limiter.enter`): a slowed
        request keeps its concurrency slot, as a slow request does on the real services (Microsoft Learn "Service
        protection API limits": concurrent requests count until they finish)."""
        s = self.settings
        if s.latency_ms and service in s.fault_services:
            time.sleep(s.latency_ms / 1000.0)

    def _fault_response(self, service: str) -> Response | None:
        """Roll the random faults (drop / 429 / 500-or-503) for one request; ``None`` = no fault."""
        fault = self.limiter.roll_fault(service)
        if fault is None:
            return None
        if fault == "drop":
            return Response(drop=True)
        if fault == "429":
            return self._throttled(service, Throttled(429, 2, "fault"))
        status = self.limiter.pick([500, 503])
        if service == "dataverse":
            return json_response(status, {"error": {"code": "0x80040216", "message": "An unexpected error occurred."}},
                                 [("Retry-After", "1")] if status == 503 else [])
        if service == "bc":
            code = "Internal_ServerError" if status == 500 else "Internal_ServiceUnavailable"
            return json_response(status, {"error": {"code": code, "message": "The service is temporarily "
                                                    f"unavailable.  CorrelationId:  {uuid.uuid4()}."}},
                                 [("Retry-After", "1")] if status == 503 else [])
        return json_response(status, {"error": "temporarily_unavailable", "error_description":
                                      "AADSTS90033: A transient error has occurred. Please try again."})

    def _throttled(self, service: str, t: Throttled) -> Response:
        s = self.settings
        hdrs = [("Retry-After", str(t.retry_after))]
        if service == "dataverse":
            if t.kind == "concurrency":
                code, msg = "0x80072326", f"Number of concurrent requests exceeded the limit of {s.dv_concurrent}."
            else:
                code, msg = "0x80072322", (f"Number of requests exceeded the limit of {s.dv_requests_per_window} "
                                           f"over time window of {int(s.dv_window_seconds)} seconds.")
            return json_response(429, {"error": {"code": code, "message": msg}}, hdrs)
        if t.status == 503:
            return json_response(503, {"error": {"code": "Internal_ServiceUnavailable", "message": "The request "
                                                 f"timed out in the queue.  CorrelationId:  {uuid.uuid4()}."}},
                                 hdrs)
        return json_response(429, {"error": {"code": "Application_TooManyRequests", "message": "Too many requests "
                                             f"reached. Actual ({s.bc_requests_per_window}). Maximum "
                                             f"({s.bc_requests_per_window}).  CorrelationId:  {uuid.uuid4()}."}}, hdrs)

    def _auth_dataverse(self, req: Request) -> Principal | Response:
        try:
            return self.entra.validate(req.headers.get("authorization"), self.dv_audiences)
        except AuthError as e:
            www = (f'Bearer authorization_uri={self.origin}/{self.ident.tenant_id}/oauth2/authorize, '
                   f'resource_id={self.origin}/')
            return json_response(401, {"error": {"code": "", "message": e.message}},
                                 [("WWW-Authenticate", www), ("OData-Version", "4.0")])

    def _auth_bc(self, req: Request) -> Principal | Response:
        auth = req.headers.get("authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                user, _, key = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user, key = "", ""
            if user.upper() == self.ident.bc_user.upper() and secrets.compare_digest(
                    key, self.ident.bc_web_service_access_key):
                return Principal(self.ident.tenant_id, "basic:" + user.upper(), "basic", upn=user.upper())
            return self._bc_401("The server has rejected the client credentials.")
        try:
            p = self.entra.validate(auth, {BC_RESOURCE})
        except AuthError as e:
            return self._bc_401(e.message)
        if p.kind == "app" and (p.app_id or "").lower() != self.ident.client_id.lower():
            return self._bc_401("The application is not registered in Business Central (Microsoft Entra "
                                "applications).")
        return p

    def _bc_401(self, message: str) -> Response:
        www = (f'Bearer authorization_uri="{self.origin}/{self.ident.tenant_id}/oauth2/authorize", '
               f'resource_id="{BC_RESOURCE}"')
        return json_response(401, {"error": {"code": "Authentication_InvalidCredentials",
                                             "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}},
                             [("WWW-Authenticate", www)])

    def _service(self, req: Request, service: str, values: dict[str, Any]) -> Response:
        fault = self._fault_response(service)
        if fault is not None:
            return fault
        if service == "dataverse":
            if not req.path.startswith(API_PREFIX):
                return json_response(404, {"error": {"code": "0x80060888", "message":
                                                     "Resource not found: only /api/data/v9.2/ is served."}})
            principal = self._auth_dataverse(req)
        else:
            principal = self._auth_bc(req)
        if isinstance(principal, Response):
            return principal
        bc_segs: list[str] = []
        if service == "bc":
            environment = values.get("environment", "")
            if environment.lower() != self.environment.lower():
                return json_response(404, {"error": {"code": "BadRequest_ResourceNotFound", "message":
                                                     f"Environment '{environment}' was not found for "
                                                     f"tenant {self.ident.tenant_id}.  CorrelationId:  "
                                                     f"{uuid.uuid4()}."}})
            bc_segs = [urllib.parse.unquote(s) for s in values.get("rest", "").split("/") if s]
        try:
            self.limiter.enter(service, principal.key)
        except Throttled as t:
            return self._throttled(service, t)
        try:
            self._added_latency(service)
            if req.method != "GET":
                self._dirty += 1
            if service == "dataverse":
                return self.dv.handle(req, principal)
            return self.bc.handle(req, bc_segs, principal)
        finally:
            self.limiter.leave(service, principal.key)

    # ------------------------------------------------------------------ control endpoint
    def _privileges(self, body: Any) -> Response:
        """``POST /_emulator/privileges {"role": id or name, "revoke": [...], "grant": [...]}``: change what a
        Dataverse security role grants (reset restores the seeded roles)."""
        return self._lists_change(
            body, key="role", lists=("revoke", "grant"), usage='{"role": "<role id or name>", "revoke": '
            '["prvReadAccount"], "grant": [...]}', missing="no security role with the id or name {!r}",
            change=lambda role, revoke, grant: {"roles": self.dv.role_privileges_change(role, revoke=revoke,
                                                                                        grant=grant)})

    def _bulk_messages(self, body: Any) -> Response:
        """``POST /_emulator/bulk-messages {"table": "product", "remove": ["CreateMultiple"], "restore": [...]}``:
        take a Dataverse table's CreateMultiple/UpdateMultiple ``sdkmessagefilters`` away or give them back
        (UpsertMultiple goes with either; reset restores the seeded filters)."""
        return self._lists_change(
            body, key="table", lists=("remove", "restore"), usage='{"table": "<logical name>", "remove": '
            '["CreateMultiple"], "restore": [...]}', missing="no Dataverse table with the logical name {!r}",
            change=lambda table, remove, restore: self.dv.bulk_messages_change(table, remove=remove,
                                                                               restore=restore))

    def _lists_change(self, body: Any, *, key: str, lists: tuple[str, str], usage: str, missing: str,
                      change: Callable[[str, list[str], list[str]], Any]) -> Response:
        """A control change of the form ``{key: name, lists[0]: [names], lists[1]: [names]}``: 400 naming the
        expected shape for another body, 404 (``missing`` formatted with the name) when ``change`` raises KeyError,
        400 with the message when it raises ValueError, else 200 with what it returns."""
        if not isinstance(body, dict) or not isinstance(body.get(key), str):
            return json_response(400, {"error": f"expected {usage}"})
        first, second = _names(body.get(lists[0])), _names(body.get(lists[1]))
        if first is None or second is None:
            return json_response(400, {"error": f"{lists[0]} and {lists[1]} are lists of names"})
        try:
            result = change(body[key], first, second)
        except KeyError:
            return json_response(404, {"error": missing.format(body[key])})
        except ValueError as e:
            return json_response(400, {"error": str(e)})
        self._dirty += 1
        return json_response(200, result)

    def _local_currency(self, body: Any) -> Response:
        """``POST /_emulator/local-currency {"currency_code": "EUR", "company": id or name (optional: all)}``: set
        BC's local currency (General Ledger Setup "LCY Code", read through ``companyInformation.currencyCode``);
        ``""`` blanks it."""
        code = body.get("currency_code") if isinstance(body, dict) else None
        if not isinstance(code, str) or len(code.strip()) > 10:
            return json_response(400, {"error": 'expected {"currency_code": "<code of at most 10 characters, or \'\' '
                                                'for none>", "company": "<id or name, optional>"}'})
        code = code.strip().upper() or None  # a company whose General Ledger Setup has no LCY Code yet
        wanted = str(body.get("company") or "").lower()
        with self.bc.lock:
            companies = [(cid, c) for cid, c in self.bc.state.companies.items()
                         if not wanted or wanted in (cid.lower(), str(c["row"].get("name") or "").lower())]
            if not companies:
                return json_response(404, {"error": f"no company with the id or name {body.get('company')!r}"})
            changed = []
            for cid, company in companies:
                for row in self.bc.table(cid, "companyInformation").values():
                    row["currencyCode"] = code
                    row["@v"] = self.bc.next_version()
                    row["lastModifiedDateTime"] = now_bc()
                changed.append({"id": cid, "name": company["row"].get("name"), "currencyCode": code})
        self._dirty += 1
        return json_response(200, {"companies": changed})

    def control(self, req: Request, action: str) -> Response:
        """``/_emulator/<action>``: state, faults and limits, reset, certificates, persist, privileges, bulk messages,
        local currency (:data:`_CONTROL_GET`, :data:`_CONTROL_POST`)."""
        try:
            body = req.json() if req.body else {}
        except ValueError:
            return json_response(400, {"error": "invalid JSON body"})
        handlers = _CONTROL_GET if req.method == "GET" else _CONTROL_POST if req.method == "POST" else {}
        handler = handlers.get(action)
        if handler is None:
            if req.method != "POST":
                return json_response(405, {"error": "use POST"})
            return json_response(404, {"error": f"unknown control action {action!r}"})
        return getattr(self, handler)(body)

    def _state(self, body: Any) -> Response:
        with self.dv.lock, self.bc.lock:
            dv_counts = {t: len(r) for t, r in self.dv.state.rows.items()}
            bc_counts = {c["row"]["name"]: {n: len(t) for n, t in c["tables"].items()}
                         for c in self.bc.state.companies.values()}
        return json_response(200, {"settings": self.settings.as_dict(), "info": self.info(),
                                   "dataverse_rows": dv_counts, "bc_rows": bc_counts,
                                   "solutions": sorted(self.dv.state.components),
                                   "requests": dict(self.request_counts),
                                   "request_seconds": {k: round(v, 6) for k, v in self.request_seconds.items()},
                                   "entra_token_requests": self.entra_token_requests})

    def _bc_requests(self, body: Any) -> Response:
        """``GET /_emulator/bc-requests``: the operations BC answered since start or the last reset (each
        ``$batch`` operation on its own): ``{"requests": [{"method", "api", "path", "select", "body"}]}``."""
        with self.bc.lock:
            return json_response(200, {"requests": list(self.bc.requests)})

    def _revoked_privileges(self, body: Any) -> Response:
        return json_response(200, {"revoked": self.dv.revoked_privileges()})

    def _faults(self, body: Any) -> Response:
        if not isinstance(body, dict):
            return json_response(400, {"error": "expected a JSON object of settings"})
        try:
            self.settings.update(body)
        except KeyError as e:
            return json_response(400, {"error": f"unknown setting {e.args[0]!r}"})
        except (TypeError, ValueError) as e:
            return json_response(400, {"error": str(e)})
        if "fault_seed" in body:
            self.limiter.reset()
        return json_response(200, {"settings": self.settings.as_dict()})

    def _reset(self, body: Any) -> Response:
        started = time.perf_counter()
        self.reset()
        return json_response(200, {"reset": True, "seconds": round(time.perf_counter() - started, 4),
                                   "settings": self.settings.as_dict()})

    def _certificates(self, body: Any) -> Response:
        pem = body.get("certificate_pem") if isinstance(body, dict) else None
        if not isinstance(pem, str) or "BEGIN CERTIFICATE" not in pem:
            return json_response(400, {"error": "certificate_pem (PEM text) is required"})
        app = self.entra.apps.get(str(body.get("client_id") or self.ident.client_id).lower())
        if app is None:
            return json_response(404, {"error": "unknown client_id"})
        sha1, sha256 = certificate_thumbprints(pem.encode())
        app.certificates[sha1] = pem
        app.certificates[sha256] = pem
        return json_response(200, {"client_id": app.client_id, "thumbprint": sha1, "thumbprint_sha256": sha256})

    def _persist(self, body: Any) -> Response:
        self.persist(force=True)
        return json_response(200, {"persisted": True})


#: Control actions: ``GET /_emulator/<action>`` and ``POST /_emulator/<action>`` -> handler method.
_CONTROL_GET = {"state": "_state", "privileges": "_revoked_privileges", "bc-requests": "_bc_requests"}
_CONTROL_POST = {"privileges": "_privileges", "bulk-messages": "_bulk_messages", "local-currency": "_local_currency",
                 "faults": "_faults", "reset": "_reset", "certificates": "_certificates", "persist": "_persist"}


def _routes(ident: Identity) -> Router:
    """The services on the one origin (werkzeug URL map): the control endpoint, the Dataverse Web API and Business
    Central (``/v2.0/[{tenant id or domain}/]{environment}/...``); every other path is Entra's (or 404)."""
    tenant = one_of(ident.tenant_id, ident.tenant_domain)
    return Router([
        Rule("/_emulator", endpoint="control", defaults={"action": "state"}),
        Rule("/_emulator/<segment:action>", endpoint="control"),
        Rule("/_emulator/<segment:action>/<path:rest>", endpoint="control"),
        Rule("/api/data", endpoint="dataverse"),
        Rule("/api/data/<path:rest>", endpoint="dataverse"),
        Rule("/v2.0", endpoint="bc"),
        Rule("/v2.0/<tenant:tenant>", endpoint="bc"),
        Rule("/v2.0/<tenant:tenant>/<segment:environment>", endpoint="bc"),
        Rule("/v2.0/<tenant:tenant>/<segment:environment>/<path:rest>", endpoint="bc"),
        Rule("/v2.0/<segment:environment>", endpoint="bc"),
        Rule("/v2.0/<segment:environment>/<path:rest>", endpoint="bc"),
    ], {"tenant": tenant})

def _names(value: Any) -> list[str] | None:
    """A JSON list of strings (None when it is anything else)."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
