"""Helpers for tests and the demo: start the emulators as a subprocess and drive the control endpoint.

Example::

    with start_emulators(tmp_path) as emu:
        emu.info["dataverse_url"]          # the JSON line printed by ``serve``
        emu.control(rate_429=0.5)          # POST /_emulator/faults
        emu.reset()                        # POST /_emulator/reset (fresh demo data, start-up settings)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import msal
import requests


class EmulatorSession(requests.Session):
    """A ``requests.Session`` that trusts the emulators' CA and keeps the authority's port for msal.

    * ``trust_env = False``: with it, ``REQUESTS_CA_BUNDLE`` would silently override ``verify`` (requests quirk).
    * msal's username/password grant first calls ``https://<host>/common/userrealm/<upn>`` with the
      authority's host name but NOT its port (msal ``Authority.user_realm_discovery``).
      This session sends such calls to ``https://<host>:<port>/common/userrealm/...`` of ``authority``,
      the same fix as the portal's ``connections.clients.transport.TimeoutSession``; pass it as msal's
      ``http_client``.  The emulators' own port-443 listener is therefore off unless ``--realm-443``.
    """

    def __init__(self, ca_bundle: str, authority: str | None = None) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = ca_bundle
        self._realm_fix: tuple[str, str] | None = None
        if authority:
            parts = urllib.parse.urlsplit(authority)
            if parts.port and parts.hostname:
                self._realm_fix = (f"https://{parts.hostname}/common/userrealm/",
                                   f"https://{parts.netloc}/common/userrealm/")

    @classmethod
    def for_info(cls, info: dict[str, Any]) -> EmulatorSession:
        """A session for the emulators described by ``info`` (the JSON line of ``serve``)."""
        return cls(info["ca_bundle"], info["entra_authority"])

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self._realm_fix and isinstance(url, str) and url.lower().startswith(self._realm_fix[0]):
            url = self._realm_fix[1] + url[len(self._realm_fix[0]):]
        return super().request(method, url, *args, **kwargs)


def client_token(info: dict[str, Any], scope: str | None = None, *, session: requests.Session | None = None) -> str:
    """An access token for the emulators' client (msal's client credentials flow: Microsoft Learn "Microsoft
    identity platform and OAuth 2.0 client credentials flow").

    ``scope`` defaults to the Dataverse environment (``{dataverse_url}/.default``); ``session`` is the msal
    ``http_client`` (an :class:`EmulatorSession` for ``info`` when omitted). Raises RuntimeError with msal's error
    when no token is issued.
    """
    app = msal.ConfidentialClientApplication(
        info["client_id"], client_credential=info["client_secret"], authority=info["entra_authority"],
        instance_discovery=False, http_client=session or EmulatorSession.for_info(info),
    )
    result = app.acquire_token_for_client([scope or info["dataverse_url"] + "/.default"])
    if "access_token" not in result:
        raise RuntimeError(f"the emulators issued no token: {result.get('error')}: {result.get('error_description')}")
    return result["access_token"]


class EmulatorStartError(RuntimeError):
    """``serve`` exited or printed nothing within the timeout; the message carries its stderr."""


class RunningEmulators:
    """A running ``python -m emulators serve`` process; ``info`` is its JSON line (dict); ``session`` is an
    :class:`EmulatorSession` for it (usable as msal's ``http_client``)."""

    def __init__(self, process: subprocess.Popen[str], info: dict[str, Any]) -> None:
        self.process = process
        self.info = info
        self.session = EmulatorSession.for_info(info)

    @property
    def control_url(self) -> str:
        return self.info["control_url"]

    def control(self, **settings: Any) -> dict[str, Any]:
        """Change faults/limits at run time (``POST /_emulator/faults``); returns the new settings.

        Raises ``requests.HTTPError`` for unknown setting names or bad values (HTTP 400)."""
        r = self.session.post(f"{self.control_url}/faults", json=settings, timeout=30)
        r.raise_for_status()
        return r.json()["settings"]

    def privileges(self, role: str, *, revoke: Sequence[str] = (), grant: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Revoke privileges from (or grant them back to) a Dataverse security role by id or name
        (``POST /_emulator/privileges``); returns ``[{"roleid", "name", "revoked"}]``. A reset restores the roles.
        Raises ``requests.HTTPError`` for an unknown role (404) or privilege name (400)."""
        r = self.session.post(f"{self.control_url}/privileges",
                              json={"role": role, "revoke": list(revoke), "grant": list(grant)}, timeout=30)
        r.raise_for_status()
        return r.json()["roles"]

    def bulk_messages(self, table: str, *, remove: Sequence[str] = (), restore: Sequence[str] = ()) -> list[str]:
        """Take a Dataverse table's CreateMultiple/UpdateMultiple ``sdkmessagefilters`` away (or give them back)
        (``POST /_emulator/bulk-messages``); returns the bulk messages the table still offers. A reset restores
        them. Raises ``requests.HTTPError`` for an unknown table (404) or message (400)."""
        r = self.session.post(f"{self.control_url}/bulk-messages",
                              json={"table": table, "remove": list(remove), "restore": list(restore)}, timeout=30)
        r.raise_for_status()
        return r.json()["available"]

    def local_currency(self, currency_code: str, company: str | None = None) -> list[dict[str, Any]]:
        """Set BC's local currency (``companyInformation.currencyCode``, BC's LCY Code) of one company (id or name)
        or of all (``POST /_emulator/local-currency``); returns the companies changed. A reset restores USD."""
        r = self.session.post(f"{self.control_url}/local-currency",
                              json={"currency_code": currency_code, "company": company}, timeout=30)
        r.raise_for_status()
        return r.json()["companies"]

    def reset(self) -> dict[str, Any]:
        """Restore the freshly seeded data and the start-up settings (``POST /_emulator/reset``)."""
        r = self.session.post(f"{self.control_url}/reset", timeout=60)
        r.raise_for_status()
        return r.json()

    def bc_requests(self) -> list[dict[str, Any]]:
        """``GET /_emulator/bc-requests``: the BC operations answered since the last reset, each
        ``{"method", "api" ("v2.0"|"custom"), "path" (below the API root), "select", "body" (keys)}``."""
        r = self.session.get(f"{self.control_url}/bc-requests", timeout=30)
        r.raise_for_status()
        return r.json()["requests"]

    def state(self) -> dict[str, Any]:
        """``GET /_emulator/state``: settings, info, row counts and request counts per service."""
        r = self.session.get(f"{self.control_url}/state", timeout=30)
        r.raise_for_status()
        return r.json()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process (it persists its state) and wait; kills it after ``timeout`` seconds."""
        self.session.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> RunningEmulators:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_emulators(data_dir: Path, *, seed: str = "demo", scale: int = 0, port: int = 0,
                    extra_args: Sequence[str] = (), timeout: float = 120.0,
                    bc_extension: bool = True) -> RunningEmulators:
    """Start ``python -m emulators serve`` and wait (at most ``timeout`` seconds) for its JSON line.

    ``bc_extension=False`` starts BC as a tenant without the companion extension (``--bc-extension absent``).

    ``port=0`` picks a free port.  Raises :class:`EmulatorStartError` when the process exits early or
    prints no JSON line in time."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "emulators", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--seed", seed, "--scale", str(scale),
           "--bc-extension", "installed" if bc_extension else "absent", *extra_args]
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(root), env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0].strip():
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise EmulatorStartError(f"emulators did not start within {timeout}s: {err[-4000:]}")
    info = json.loads(lines[0])
    # drain stderr so the child never blocks on a full pipe
    threading.Thread(target=lambda: proc.stderr and proc.stderr.read(), daemon=True).start()
    started = time.monotonic()
    emu = RunningEmulators(proc, info)
    while time.monotonic() - started < 10:
        try:
            emu.state()
            break
        except requests.RequestException:
            time.sleep(0.1)
    return emu
