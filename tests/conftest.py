"""Shared fixtures: a small named world and the emulators of Entra ID, Dataverse and BC over loopback HTTPS."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One emulator process for the whole test session, seeded with the demo data.

    Yields ``emulators.testing.RunningEmulators``; ``.info`` is the JSON line the emulator printed (URLs, tenant,
    client id and secret, CA bundle). Tests that change emulator data use the ``emulator`` fixture, which resets it.
    """
    from emulators.testing import start_emulators

    data_dir: Path = tmp_path_factory.mktemp("emulators")
    running = start_emulators(data_dir, seed="demo")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def emulator(emulators: Any) -> Iterator[Any]:
    """The session's emulators, reset to the freshly seeded state (and no faults) before the test."""
    emulators.reset()
    yield emulators


@pytest.fixture
def admin_user(django_user_model: Any) -> Any:
    """A superuser named ``admin``."""
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "correct horse battery staple")


@pytest.fixture
def admin_client(client: Any, admin_user: Any) -> Any:
    """A test client signed in as ``admin``."""
    client.force_login(admin_user)
    return client
