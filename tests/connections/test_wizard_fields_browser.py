"""The assisted setup in a real browser (Playwright + Debian Chromium) against the emulators: the sign-in step shows
only the chosen authentication type's inputs and switches them live (static/connections/wizard.js, no inline
script), and in the Person ownership model a warning step lists the salespersons left uncoupled with their
customers, contacts and opportunities that will fail."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_only_the_chosen_types_inputs_and_the_person_model_warning(browser_page: Any, admin_user: Any,
                                                                    emulator_info: dict[str, Any]) -> None:
    info = emulator_info
    authority = urlsplit(info["entra_authority"])
    page = browser_page
    sign_in(page)
    page.goto("/connections/assisted-setup/")
    page.fill("#id_environment-dataverse_url", info["dataverse_url"])
    page.click("#wizard-next")

    page.wait_for_selector("#id_signin-tenant_id")
    assert page.is_visible("#id_signin-client_secret")
    for hidden in ("#id_signin-certificate", "#id_signin-certificate_thumbprint", "#id_signin-username",
                   "#id_signin-password"):
        assert not page.is_visible(hidden), hidden
    assert "Leave blank to keep" not in page.inner_text("main")  # first setup: nothing stored to keep

    page.select_option("#id_signin-authentication_type", "Certificate")
    assert page.is_visible("#id_signin-certificate") and page.is_visible("#id_signin-certificate_thumbprint")
    assert not page.is_visible("#id_signin-client_secret") and not page.is_visible("#id_signin-username")
    page.select_option("#id_signin-authentication_type", "OAuth")
    assert page.is_visible("#id_signin-username") and page.is_visible("#id_signin-password")
    assert not page.is_visible("#id_signin-certificate")
    page.select_option("#id_signin-authentication_type", "ClientSecret")
    assert page.is_visible("#id_signin-client_secret") and not page.is_visible("#id_signin-password")

    page.fill("#id_signin-tenant_id", info["tenant_id"])
    page.fill("#id_signin-custom_authority_host", f"{authority.scheme}://{authority.netloc}")
    page.fill("#id_signin-client_id", info["client_id"])
    page.fill("#id_signin-client_secret", info["client_secret"])
    page.click("#wizard-next")

    page.wait_for_selector("#id_businesscentral-bc_api_url")
    assert "BC authentication type" in page.inner_text("main")
    assert not page.is_visible("#id_businesscentral-bc_access_key")
    page.fill("#id_businesscentral-bc_api_url", info["bc_api_url"])
    page.fill("#id_businesscentral-bc_company", info["bc_companies"][0]["id"])
    page.click("#wizard-next")

    page.wait_for_selector("#id_options-import_solution")
    page.click("#wizard-next")
    page.wait_for_selector("#id_ownership-ownership_model_0")
    page.check("input[name='ownership-ownership_model'][value='Person']")
    page.click("#wizard-next")

    page.wait_for_selector("#salespersons-intro")
    page.click("#wizard-next")  # the e-mail matches are pre-selected; the others stay uncoupled

    page.wait_for_selector("#person-warning")
    warning = page.inner_text("#person-warning")
    assert "will stay uncoupled" in warning and "fail to synchronize" in warning
    rows = page.locator("#uncoupled-salespersons tbody tr")
    assert rows.count() >= 1
    assert "not counted" not in page.inner_text("#uncoupled-salespersons")
    page.click("#wizard-next")  # without the acknowledgement: refused
    page.wait_for_selector("#person-warning")
    page.check("#id_personwarning-acknowledge")
    page.click("#wizard-next")
    page.wait_for_selector("#review")
