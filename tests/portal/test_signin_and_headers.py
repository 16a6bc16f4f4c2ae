"""Sign-in throttling (django-axes), the Content-Security-Policy, and ``Cache-Control: no-store`` on signed-in pages."""
from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

PASSWORD = "correct horse battery staple"


def _sign_in(client: Client, password: str, username: str = "admin") -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


def test_six_failed_sign_ins_lock_out_further_tries(client: Client, admin_user: Any) -> None:
    for attempt in range(5):
        response = _sign_in(client, f"wrong-{attempt}")
        assert response.status_code == 200, attempt  # the form again, with its error
        assert "Please enter a correct" in response.content.decode()
    locked = _sign_in(client, "wrong-5")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Even the right password is refused while locked out.
    still = _sign_in(client, PASSWORD)
    assert still.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_successful_sign_in_resets_the_count(client: Client, admin_user: Any) -> None:
    for attempt in range(5):
        _sign_in(client, f"wrong-{attempt}")
    assert _sign_in(client, PASSWORD).status_code == 302
    client.logout()
    for attempt in range(5):
        assert _sign_in(client, f"again-{attempt}").status_code == 200
    assert _sign_in(client, PASSWORD).status_code == 302


def test_lockout_is_per_user_name(client: Client, admin_user: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_user("viewer", password=PASSWORD)
    for attempt in range(6):
        _sign_in(client, f"wrong-{attempt}")
    assert _sign_in(client, PASSWORD, username="viewer").status_code == 302


def test_pages_carry_a_strict_content_security_policy(admin_client: Client) -> None:
    response = admin_client.get(reverse("portal:dashboard"))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_signed_in_pages_are_not_stored(admin_client: Client, client: Client) -> None:
    response = admin_client.get(reverse("connections:index"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "no-store" in client.get(reverse("login"))["Cache-Control"]
