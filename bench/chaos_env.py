"""The services of one ``bench/chaos.py`` trial: a fresh PostgreSQL database, a fresh Redis server, the emulators, and
a supervisor that keeps the RQ workers and the cron scheduler running as real child processes.

The supervisor restarts an exited worker or scheduler after one second, as systemd's ``Restart=always`` with
``RestartSec=1`` would (``deploy/``); every child runs in its own process group so a fault can kill one process
(the worker's main process, its work-horse) or the whole group at clean-up.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url_for(base_url: str, name: str) -> str:
    """``base_url`` (postgres://user:password@host:port/db) with the database name replaced by ``name``."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def require_postgresql(url: str | None) -> str:
    """Return ``url`` when it is a PostgreSQL URL; raise ValueError naming the fix otherwise (the chaos run needs
    ``pg_terminate_backend``, which SQLite does not have)."""
    if not url:
        raise ValueError("No database: pass --database-url postgres://user:password@host:5432/db or set DATABASE_URL "
                         "(the chaos run needs PostgreSQL).")
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql", "pgsql"):
        raise ValueError(f"The chaos run needs PostgreSQL (one of its faults is pg_terminate_backend of the worker's "
                         f"connection), not {scheme or 'a URL without a scheme'}: pass --database-url "
                         "postgres://user:password@host:5432/db.")
    return url


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection to ``url`` (application_name ``chaos-monkey``)."""
    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True,
                           application_name="chaos-monkey", **kwargs)


def create_database(base_url: str, name: str) -> str:
    """Drop database ``name`` if it exists and create it afresh through ``base_url``; returns its URL."""
    with connect(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url_for(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    """Drop database ``name`` (its remaining sessions are ended first)."""
    with connect(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RedisServer:
    """A ``redis-server`` on 127.0.0.1:``port`` without persistence (``--save "" --appendonly no``), so a kill -9 and
    a restart lose every key, as a Redis without a disk would."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait (10 s at most) until it accepts connections; raises RuntimeError otherwise."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start on port {self.port} (see {self.log})")

    def kill(self) -> None:
        """kill -9 the server (its data is lost)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Child:
    """A supervised child: its name, command, environment and current process."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    groups: set[int] = field(default_factory=set)


class Supervisor:
    """Starts children in their own process groups, logs their output to ``log_dir/<name>.log``, and restarts any
    that exits (after ``restart_delay`` seconds) until :meth:`stop`."""

    def __init__(self, cwd: Path, log_dir: Path, *, restart_delay: float = 1.0) -> None:
        self.cwd = cwd
        self.log_dir = log_dir
        self.restart_delay = restart_delay
        self.children: dict[str, Child] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def add(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        child = Child(name, command, env)
        with self._lock:
            self.children[name] = child
            self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        with (self.log_dir / f"{child.name}.log").open("ab") as out:
            child.process = subprocess.Popen(child.command, cwd=self.cwd, env=child.env, stdout=out,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        child.groups.add(child.process.pid)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                exited = [c for c in self.children.values() if c.process is not None and c.process.poll() is not None]
            for child in exited:
                if self._stop.wait(self.restart_delay):
                    return
                with self._lock:
                    child.restarts += 1
                    self._spawn(child)

    def pid(self, name: str) -> int | None:
        """The process id of child ``name`` while it runs, else None."""
        child = self.children.get(name)
        if child is None or child.process is None or child.process.poll() is not None:
            return None
        return child.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """Stop supervising, SIGTERM every process group the children ever had, SIGKILL what is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        groups = {g for c in self.children.values() for g in c.groups}
        for group in groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            if child.process is not None:
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for group in groups:
            _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def children_of(pid: int) -> list[int]:
    """The live (not zombie) child process ids of ``pid`` (psutil); [] when ``pid`` is gone."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found
