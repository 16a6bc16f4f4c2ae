"""pytest plugin loaded with ``-p portal.testing.pytest_plugin`` (see pyproject.toml), before Django's settings.

It gives the test run production-like settings (DEBUG off) with test keys, and, when REDIS_URL is unset, starts
the embedded Redis server on a free loopback port for this run only (so tests never touch a demo's queues).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# A fixed Fernet key for tests only; production keys come from the environment.
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLTEyMzQ1Njc="


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    defaults = {
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
    # Static files are collected once per test process, as in production (manifest storage needs them).
    static_root = tempfile.mkdtemp(prefix="portal-static-")
    atexit.register(shutil.rmtree, static_root, True)
    os.environ["STATIC_ROOT"] = static_root
    if not os.environ.get("REDIS_URL"):
        from portal import embedded_redis

        url = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
        process = embedded_redis.start(url)
        atexit.register(process.terminate)
        os.environ["REDIS_URL"] = url


@pytest.fixture(scope="session", autouse=True)
def _collected_static_files() -> None:
    """Run collectstatic into this process's STATIC_ROOT so pages render with hashed static names."""
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)
