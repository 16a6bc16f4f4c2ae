"""Shared fixtures: a small named world and the emulators of Entra ID, Dataverse and BC over loopback HTTPS."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def chromium_page(live_server: Any, monkeypatch: pytest.MonkeyPatch, *, timeout_ms: int = 20_000,
                  **context_options: Any) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium (/usr/bin/chromium) on the portal at ``live_server.url``;
    ``context_options`` go to ``browser.new_context`` (e.g. ``bypass_csp``, ``ignore_https_errors``).

    The flags keep Chromium off the network (this machine has none). Playwright's sync API runs an event loop in the
    test's thread, so Django's ORM must be told that its calls from this thread are safe for the duration of the test
    (and only then).
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        context = browser.new_context(base_url=live_server.url, **context_options)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def browser_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium (:func:`chromium_page`); tests marked ``browser`` use it."""
    with chromium_page(live_server, monkeypatch) as page:
        yield page


@pytest.fixture
def emulator_connection(emulator: Any, settings: Any, db: Any) -> Any:
    """An enabled connection setup on the (freshly reset) emulators with the default configuration applied."""
    from urllib.parse import urlsplit

    from connections.models import ConnectionSetup
    from syncjobs.defaults import default_configuration_reset

    info = emulator.info
    settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
    company = next((c for c in info["bc_companies"] if "CRONUS" in c["name"]), info["bc_companies"][0])
    authority = urlsplit(info["entra_authority"])
    connection = ConnectionSetup.objects.create(
        name="CRONUS", dataverse_url=info["dataverse_url"], tenant_id=info["tenant_id"],
        authority_host=f"{authority.scheme}://{authority.netloc}", client_id=info["client_id"],
        client_secret=info["client_secret"], bc_api_url=info["bc_api_url"], bc_company_id=company["id"],
        bc_company_name=company["name"], is_enabled=True,
    )
    default_configuration_reset(connection=connection)
    return connection


def sign_in(page: Any, username: str = "admin", password: str = "correct horse battery staple") -> None:
    """Sign in through the portal's sign-in page (the user must exist)."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
