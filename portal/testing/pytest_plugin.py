"""pytest plugin loaded with ``-p portal.testing.pytest_plugin`` (see pyproject.toml), before Django's settings.

It gives the test run production-like settings (DEBUG off) with test keys, and, when REDIS_URL is unset, starts
the embedded Redis server on a free loopback port for this run only (so tests never touch a demo's queues).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import override_settings

from portal import embedded_redis

# A fixed Fernet key for tests only; production keys come from the environment.
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLTEyMzQ1Njc="


def allow_outbound_origin(url: str) -> list[str]:
    """Allow the portal's outbound requests to the host and port of ``url`` (an emulator on a loopback port), in
    the settings of this process and in the environment its subprocesses (workers) inherit; returns the entries
    added (``connections.clients.outbound``: a bare host only allows the default port)."""
    port = urlsplit(url).port
    added = [f"127.0.0.1:{port}", f"localhost:{port}"]
    current = list(getattr(settings, "OUTBOUND_ALLOWED_HOSTS", []) or [])
    settings.OUTBOUND_ALLOWED_HOSTS = current + [entry for entry in added if entry not in current]
    env = [e for e in os.environ.get("OUTBOUND_ALLOWED_HOSTS", "").split(",") if e]
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = ",".join(env + [entry for entry in added if entry not in env])
    return added


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    defaults = {
        "PORTAL_ENV_FILE": "",  # a demo's var/portal.env never leaks into the tests
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz",
        "PORTAL_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    # A private STATIC_ROOT per test process, so a test that runs collectstatic never touches the checkout's.
    static_root = tempfile.mkdtemp(prefix="portal-static-")
    atexit.register(shutil.rmtree, static_root, True)
    os.environ["STATIC_ROOT"] = static_root
    if not os.environ.get("REDIS_URL"):
        url = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
        process = embedded_redis.start(url)
        atexit.register(process.terminate)
        os.environ["REDIS_URL"] = url


@pytest.fixture(scope="session", autouse=True)
def _plain_static_storage() -> Iterator[None]:
    """Serve static files under their plain names during tests.

    Production uses whitenoise's compressed manifest storage (hashed names after collectstatic, tested on its own in
    tests/portal); pytest-django's live server, though, finds static files by their plain names through the
    staticfiles finders, so browser tests need pages that ask for plain names.
    """
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        yield
