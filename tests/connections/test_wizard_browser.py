"""The assisted setup in a real browser (Playwright + Debian Chromium) against the emulators' demo data: Finish opens
Microsoft's sign-in (the Entra emulator's page) for the Dataverse administrator, then the action's status page, which
follows the checklist without a reload while the RQ jobs run (rq's
SimpleWorker in this process, against the live server's database); the connection ends enabled, the solution
imported, the integration roles assigned to the integration user (read back through the emulator's Dataverse API),
and the default mappings and job queue entries in place — the same state ``setup_connection`` leaves."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import django_rq
import pytest
from rq import SimpleWorker

from connections.models import ConnectionAction, ConnectionSetup
from connections.solution import INTEGRATION_ROLES
from tests.conftest import sign_in
from tests.connections.test_admin_signin_browser import signin_page  # noqa: F401 - the fixture (Entra's HTTPS page)
from tests.connections.test_connection_actions import emptied_default_queue
from tests.connections.test_setup_connection_emulator import setup_state


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    """The emptied RQ ``default`` queue the connection actions are enqueued on."""
    yield from emptied_default_queue()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_wizard_sets_up_the_connection(signin_page: Any, emulator_info: dict[str, Any], admin_user: Any,  # noqa: F811 - the imported fixture
                                       default_queue: Any) -> None:
    page = signin_page
    info = emulator_info
    authority = urlsplit(info["entra_authority"])
    sign_in(page)
    page.goto("/connections/assisted-setup/")

    page.fill("#id_environment-dataverse_url", info["dataverse_url"])
    page.click("#wizard-next")

    page.wait_for_selector("#id_signin-tenant_id")
    page.select_option("#id_signin-authentication_type", "ClientSecret")
    page.fill("#id_signin-tenant_id", info["tenant_id"])
    page.fill("#id_signin-custom_authority_host", f"{authority.scheme}://{authority.netloc}")
    page.fill("#id_signin-client_id", info["client_id"])
    page.fill("#id_signin-client_secret", info["client_secret"])
    page.click("#wizard-next")

    page.wait_for_selector("#id_businesscentral-bc_api_url")
    page.fill("#id_businesscentral-bc_api_url", info["bc_api_url"])
    page.fill("#id_businesscentral-bc_company", info["bc_companies"][0]["id"])
    page.select_option("#id_businesscentral-bc_authentication_type", "OAuth")
    page.click("#wizard-next")

    page.wait_for_selector("#id_options-import_solution")
    assert page.is_checked("#id_options-import_solution") and page.is_checked("#id_options-enable")
    page.click("#wizard-next")

    page.wait_for_selector("#id_ownership-ownership_model_0")
    page.check("input[name='ownership-ownership_model'][value='Team']")
    page.click("#wizard-next")

    page.wait_for_selector("#review")
    assert info["client_secret"] not in page.content()
    page.click("#wizard-next")

    # The solution import needs a Dataverse administrator: Finish sends the browser to Microsoft's sign-in.
    page.wait_for_selector("#accept")
    assert page.url.startswith(info["entra_authority"] + "/oauth2/v2.0/authorize")
    page.fill("#login", info["admin_user"])
    page.fill("#passwd", info["admin_password"])
    page.click("#accept")

    # Finish saved the entries and queued the remote steps: the status page opens at once, waiting for a worker.
    page.wait_for_selector("#action-progress")
    assert "/actions/" in page.url
    assert page.get_attribute("#action-outcome", "data-status") == "Queued"
    assert "Waiting for a worker" in page.inner_text("#action-waiting")
    page.evaluate("window.__sameDocument = true")  # a reload would wipe this out
    assert ConnectionAction.objects.get().status == ConnectionAction.Status.QUEUED

    queue = django_rq.get_queue("default")
    deadline = time.monotonic() + 120
    while page.get_attribute("#action-progress", "data-done") != "true":
        assert time.monotonic() < deadline, page.inner_text("#action-progress")
        SimpleWorker([queue], connection=queue.connection).work(burst=True)  # the RQ worker, in this process
        page.wait_for_timeout(500)
    checklist = page.inner_text("#finish-checklist")
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("#action-outcome") == "Succeeded", checklist
    for step in ("Test connection", "Integration user requirements", "Import the integration solution and assign roles",
                 "Default configuration", "Enable the connection"):
        assert page.get_attribute(f"#finish-checklist li[data-step='{step}']", "data-status") == "ok", checklist
    assert page.is_visible("#action-succeeded") and not page.is_visible("#action-failed")
    assert page.is_visible("#action-succeeded >> text=Open the full synchronization review")
    assert page.is_hidden("#action-waiting")
    assert info["client_secret"] not in page.content() and info["admin_password"] not in page.content()

    connection = ConnectionSetup.objects.get()
    page.goto(f"/connections/{connection.pk}/")
    assert page.inner_text("#is-enabled") == "Yes"
    active, total = page.inner_text("#active-jobs").split(" of ")
    assert int(active) == int(total) > 0
    assert page.inner_text("#solution-installed").startswith("Yes")

    state = setup_state(info)
    assert state["enabled"] and state["solution_installed"]
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= state["roles"]
    assert {"CUSTOMER", "CONTACT", "ITEM-PRODUCT"} <= {name for name, _ in state["mappings"]}
    assert state["jobs"]
