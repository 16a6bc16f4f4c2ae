"""Shared fixtures: a small named world and the emulators of Entra ID, Dataverse and BC over loopback HTTPS."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.testing.pytest_plugin import allow_outbound_origin


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One emulator process for the whole test session, seeded with the demo data.

    Yields ``emulators.testing.RunningEmulators``; ``.info`` is the JSON line the emulator printed (URLs, tenant,
    client id and secret, CA bundle). Tests that change emulator data use the ``emulator`` fixture, which resets it.
    """
    from emulators.testing import start_emulators

    data_dir: Path = tmp_path_factory.mktemp("emulators")
    running = start_emulators(data_dir, seed="demo")
    allow_outbound_origin(running.info["dataverse_url"])
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


@pytest.fixture
def browser_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium (/usr/bin/chromium); tests marked ``browser`` use it.

    ``live_server.url`` is the portal's address. The flags keep Chromium off the network (this machine has none).
    Playwright's sync API runs an event loop in the test's thread, so Django's ORM must be told that its calls from
    this thread are safe for the duration of the test (and only then).
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def sign_in(page: Any, username: str = "admin", password: str = "correct horse battery staple") -> None:
    """Sign in through the portal's sign-in page (the user must exist)."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
