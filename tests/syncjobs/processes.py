"""Run the portal as separate processes for the tests that need real RQ workers: its own SQLite file and Redis
database, `manage.py` commands, RQ workers and the RQ cron scheduler started and killed by process group."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from tests.connections.admin_signin import run_approving

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (psutil), deepest first."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)][::-1]
    except psutil.NoSuchProcess:
        return []


class Portal:
    """One portal installation in ``directory`` (database file), using Redis database ``redis_db`` of the test
    run's Redis and trusting the emulators' CA."""

    def __init__(self, directory: Path, emulator_info: dict[str, Any], *, redis_db: int = 7) -> None:
        self.directory = directory
        self.info_file = directory / "emulators.json"
        self.info_file.write_text(json.dumps(emulator_info))
        redis_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{redis_db}"
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=f"sqlite:///{directory / 'portal.sqlite3'}",
            REDIS_URL=redis_url,
            OUTBOUND_CA_BUNDLE=emulator_info["ca_bundle"],
            PYTHONUNBUFFERED="1",
        )
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.processes: list[subprocess.Popen[bytes]] = []
        import redis

        self.redis = redis.Redis.from_url(redis_url)
        self.redis.flushdb()

    def manage(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``python manage.py ARGS`` and return the completed process (raises on failure when ``check``)."""
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result

    def python(self, code: str) -> Any:
        """Run ``code`` in ``manage.py shell`` of this portal; it must print one JSON value, which is returned."""
        result = self.manage("shell", "-c", code)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        """Start ``python manage.py ARGS`` in its own process group, logging to ``<log_name>.log``."""
        log = open(self.directory / f"{log_name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        """An RQ worker on the ``sync`` and ``default`` queues, as `make demo` starts them."""
        return self.start("rqworker", "sync", "default", "--name", name, log_name=name)

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and all its descendants (RQ's work horse runs in a session of its own): a machine
        lost mid-run leaves no cleanup."""
        for pid in [*_descendants(process.pid), process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(process)
        self.redis.flushdb()

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
                         for path in sorted(self.directory.glob("*.log")))


@contextmanager
def portal(directory: Path, emulator_info: dict[str, Any], *setup_options: str) -> Iterator[Portal]:
    """A migrated portal with the connection set up from the emulators (solution imported, enabled);
    ``setup_options`` are extra options of ``setup_connection``."""
    installation = Portal(directory, emulator_info)
    try:
        installation.manage("migrate", "--noinput", "-v", "0")
        # --import-solution signs the administrator in with a device code: approve it on the emulator's page.
        setup = run_approving([sys.executable, "manage.py", "setup_connection", "--from-emulator",
                               str(installation.info_file), "--import-solution", "--enable", *setup_options],
                              emulator_info, cwd=ROOT, env=installation.env, timeout=600)
        assert setup.returncode == 0, f"setup_connection exited {setup.returncode}:\n{setup.stdout}\n{setup.stderr}"
        yield installation
    finally:
        installation.stop_all()


def wait_for(condition: Callable[[], Any], *, timeout: float, interval: float = 1.0, message: str = "") -> Any:
    """Poll ``condition`` until it returns a truthy value (returned) or ``timeout`` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not met in time")
        time.sleep(interval)


def emulator_clients(info: dict[str, Any], *, username: str | None = None, password: str | None = None,
                     company_name: str = "CRONUS") -> tuple[Any, Any]:
    """(BusinessCentralClient, DataverseClient) on the emulators, built by the portal's own factories from an
    unsaved connection setup; with ``username``/``password`` the Dataverse side signs in as that user (so its edits
    are not the integration user's). The caller must trust ``info["ca_bundle"]`` (settings.OUTBOUND_CA_BUNDLE)."""
    from urllib.parse import urlsplit

    from connections.clients import business_central_client_for, dataverse_client_for
    from connections.models import ConnectionSetup

    company = next((c for c in info["bc_companies"] if company_name in c["name"]), info["bc_companies"][0])
    authority = urlsplit(info["entra_authority"])
    connection = ConnectionSetup(
        dataverse_url=info["dataverse_url"], tenant_id=info["tenant_id"],
        authority_host=f"{authority.scheme}://{authority.netloc}", client_id=info["client_id"],
        client_secret=info["client_secret"], bc_api_url=info["bc_api_url"], bc_company_id=company["id"],
    )
    if username:
        connection.authentication_type = ConnectionSetup.AuthenticationType.OAUTH
        connection.username = username
        connection.password = password or ""
    return business_central_client_for(connection), dataverse_client_for(connection)
