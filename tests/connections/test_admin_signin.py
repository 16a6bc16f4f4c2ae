"""The Dataverse administrator's sign-in for the integration solution import, through the portal's pages and the
emulators: "Sign in with Microsoft" sends the browser to Entra's authorization endpoint (authorization code flow with
PKCE, the flow kept encrypted in the session), the callback redeems the code and starts the import on a worker with
that token, used once. Cancelled consent, a state mismatch, an expired or already used sign-in end on a page that
says what happened (HTTP 400), never an error page. No code path but the legacy OAuth connection string signs in
with a password."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from connections.models import ConnectionAction
from connections.views import ADMIN_SIGNIN_SESSION_KEY
from emulators.testing import EmulatorSession
from tests.connections.admin_signin import HOST, emulator_sign_in
from tests.connections.test_connection_actions import emptied_default_queue, work
from tests.connections.test_connection_actions_emulator import raw_action_row, redis_text

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    yield from emptied_default_queue()


@pytest.fixture
def localhost(settings: Any) -> None:
    settings.ALLOWED_HOSTS = [HOST, "testserver"]


def _start(admin_client: Any, connection: Any) -> str:
    response = admin_client.post(reverse("connections:connection-redeploy-solution", args=[connection.pk]),
                                 HTTP_HOST=HOST)
    assert response.status_code == 302, response.content.decode()
    return str(response["Location"])


def _callback(admin_client: Any, url: str) -> Any:
    parts = urlsplit(url)
    assert parts.path == reverse("connections:admin-signin-callback")
    return admin_client.get(f"{parts.path}?{parts.query}", HTTP_HOST=HOST)


def test_the_redeploy_page_offers_microsoft_sign_in_and_no_password(admin_client: Any, emulated_connection: Any
                                                                    ) -> None:
    page = admin_client.get(reverse("connections:connection-redeploy-solution", args=[emulated_connection.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="signin-microsoft"' in body and "Sign in with Microsoft" in body
    assert 'type="password"' not in body and "admin_password" not in body


def test_sign_in_with_microsoft_imports_the_solution(admin_client: Any, emulated_connection: Any, localhost: None,
                                                     emulator_info: dict[str, Any], default_queue: Any) -> None:
    info = emulator_info
    auth_uri = _start(admin_client, emulated_connection)
    assert auth_uri.startswith(info["entra_authority"] + "/oauth2/v2.0/authorize?")
    assert "code_challenge_method=S256" in auth_uri and "redirect_uri=http%3A%2F%2Flocalhost%2Fconnections" in auth_uri
    pending = admin_client.session[ADMIN_SIGNIN_SESSION_KEY]
    assert "code_verifier" not in str(pending)  # the flow is kept encrypted

    response = _callback(admin_client, emulator_sign_in(info, auth_uri))
    action = ConnectionAction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:connectionaction-detail",
                                           args=[emulated_connection.pk, action.pk])
    assert action.kind == ConnectionAction.Kind.REDEPLOY and action.admin_username == info["admin_user"]
    token = action.admin_password
    assert token.count(".") == 2 and token not in raw_action_row(action)  # encrypted at rest
    assert ADMIN_SIGNIN_SESSION_KEY not in admin_client.session

    work(default_queue)
    action.refresh_from_db()
    assert action.status == ConnectionAction.Status.SUCCEEDED, action.report
    assert [s["name"] for s in action.report["steps"]][:2] == ["Administrator sign-in",
                                                               "Import the integration solution"]
    assert action.admin_username == "" and action.admin_password == ""
    assert token.encode() not in redis_text(default_queue.connection)
    emulated_connection.refresh_from_db()
    assert emulated_connection.is_solution_installed and emulated_connection.solution_version
    # The same callback again finds no sign-in waiting: the token was used once.
    again = _callback(admin_client, f"http://{HOST}{response.wsgi_request.get_full_path()}")
    assert again.status_code == 400 and "No sign-in is waiting" in again.content.decode()


def test_declined_consent_says_so(admin_client: Any, emulated_connection: Any, localhost: None,
                                  emulator_info: dict[str, Any], default_queue: Any) -> None:
    auth_uri = _start(admin_client, emulated_connection)
    response = _callback(admin_client, emulator_sign_in(emulator_info, auth_uri, consent="cancel"))
    body = response.content.decode()
    assert response.status_code == 400 and 'id="signin-failed"' in body
    assert "AADSTS65004" in body and "accept the permissions" in body
    assert not ConnectionAction.objects.exists() and len(default_queue) == 0


def test_state_mismatch_is_refused(admin_client: Any, emulated_connection: Any, localhost: None,
                                   emulator_info: dict[str, Any], default_queue: Any) -> None:
    auth_uri = _start(admin_client, emulated_connection)
    answer = emulator_sign_in(emulator_info, auth_uri)
    forged = re.sub(r"state=[^&]+", "state=forged", answer)
    response = _callback(admin_client, forged)
    assert response.status_code == 400 and "state mismatch" in response.content.decode()
    assert not ConnectionAction.objects.exists()


def test_an_expired_sign_in_is_refused(admin_client: Any, emulated_connection: Any, localhost: None,
                                       emulator_info: dict[str, Any], default_queue: Any) -> None:
    auth_uri = _start(admin_client, emulated_connection)
    session = admin_client.session
    session[ADMIN_SIGNIN_SESSION_KEY] = {**session[ADMIN_SIGNIN_SESSION_KEY], "started": 0}
    session.save()
    response = _callback(admin_client, emulator_sign_in(emulator_info, auth_uri))
    assert response.status_code == 400 and "has expired" in response.content.decode()
    assert not ConnectionAction.objects.exists()


def test_a_callback_without_a_sign_in_is_a_clear_error(admin_client: Any, localhost: None) -> None:
    response = admin_client.get(reverse("connections:admin-signin-callback") + "?code=abc&state=def", HTTP_HOST=HOST)
    assert response.status_code == 400 and "No sign-in is waiting" in response.content.decode()


def test_viewers_cannot_sign_in_or_call_back(client: Any, viewer: Any, emulated_connection: Any) -> None:
    client.force_login(viewer)
    assert client.post(reverse("connections:connection-redeploy-solution",
                               args=[emulated_connection.pk])).status_code == 403
    assert client.get(reverse("connections:admin-signin-callback")).status_code == 403


def test_an_unregistered_callback_is_shown_by_entra(admin_client: Any, emulated_connection: Any,
                                                    emulator_info: dict[str, Any]) -> None:
    """A portal whose callback is not a redirect URI of the app registration: Entra shows AADSTS50011 itself."""
    auth_uri = _start_as(admin_client, emulated_connection, "portal.contoso.com")
    page = EmulatorSession.for_info(emulator_info).get(auth_uri, timeout=30)
    assert page.status_code == 400 and "AADSTS50011" in page.text


def _start_as(admin_client: Any, connection: Any, host: str) -> str:
    from django.test import override_settings

    with override_settings(ALLOWED_HOSTS=[host]):
        response = admin_client.post(reverse("connections:connection-redeploy-solution", args=[connection.pk]),
                                     HTTP_HOST=host)
    assert response.status_code == 302
    return str(response["Location"])


SOURCE_PACKAGES = ("base", "connections", "mappings", "syncjobs", "portal")


def test_only_the_legacy_oauth_connection_string_signs_in_with_a_password() -> None:
    """ROPC (``acquire_token_by_username_password``) fails for every account with multi-factor authentication: it
    stays only in TokenProvider's user name + password branch, which only ``dataverse_token_provider`` builds, for
    the OAuth authentication type (the legacy OAuth connection string of older on-premises versions)."""
    root = Path(__file__).resolve().parents[2]
    calls, providers = [], []
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            relative = path.relative_to(root).as_posix()
            calls += [relative for line in text.splitlines()
                      if "acquire_token_by_username_password(" in line and not line.lstrip().startswith("#")]
            providers += [relative for _ in re.finditer(r"TokenProvider\([^)]*\bpassword=", text, re.S)]
    assert calls == ["connections/clients/entra.py"]
    assert providers == ["connections/clients/__init__.py"]

    source = (root / "connections/clients/entra.py").read_text()
    body = source[source.index("    def token(self, scope: str) -> str:"):source.index("    def invalidate(self)")]
    assert "if self._password and self.username:" in body and "acquire_token_by_username_password" in body
    factory = (root / "connections/clients/__init__.py").read_text()
    branch = factory[factory.index("if connection.authentication_type == kind.OAUTH:"):]
    assert branch.index("password=connection.password") < branch.index("return TokenProvider(**common, client_secret")

