"""Every portal page needs sign-in; /healthz reports each dependency; whitenoise serves static files."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import django_rq
import pytest
from django.test import Client
from django.urls import reverse

PORTAL_PAGES = ["portal:dashboard", "connections:index", "mappings:index", "syncjobs:index"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_anonymous_request_redirects_to_sign_in(client: Client, name: str) -> None:
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_signed_in_user_sees_pages(admin_client: Client, name: str) -> None:
    response = admin_client.get(reverse(name))
    assert response.status_code == 200
    assert b"Sign out" in response.content


@pytest.mark.django_db
def test_sign_in_page_and_admin_site(client: Client, admin_user: Any) -> None:
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "admin", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_healthz_without_workers_is_503(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "ok", "workers": 0}


@pytest.mark.django_db(transaction=True)
def test_healthz_counts_live_workers(client: Client) -> None:
    from django.conf import settings

    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "sync", "--with-scheduler"],
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        from rq import Worker

        connection = django_rq.get_connection("default")
        import time

        deadline = time.monotonic() + 60
        while Worker.count(connection=connection) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"database": "ok", "redis": "ok", "workers": 2}
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


@pytest.mark.django_db
def test_healthz_reports_redis_down(client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal import embedded_redis

    dead = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
    monkeypatch.setattr(django_rq, "get_connection", lambda name: __import__("redis").Redis.from_url(dead))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["redis"].startswith("error: ") and body["workers"] == 0


def test_static_files_served_by_whitenoise_with_debug_off(tmp_path: Any, settings: Any) -> None:
    """After collectstatic, the portal itself (debug server off) serves the hashed, compressed stylesheet."""
    import json

    from django.core.management import call_command

    from portal import settings as production

    assert settings.DEBUG is False
    settings.STORAGES = production.STORAGES  # whitenoise's compressed manifest storage, as in production
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--noinput", verbosity=0)
    hashed = json.loads((settings.STATIC_ROOT / "staticfiles.json").read_text())["paths"]["portal/portal.css"]
    assert hashed != "portal/portal.css" and (settings.STATIC_ROOT / (hashed + ".gz")).exists()

    response = Client().get(f"/static/{hashed}", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    assert b"".join(response.streaming_content)


@pytest.mark.django_db
def test_healthz_counts_workers_by_heartbeat_after_redis_lost_its_registry(client: Client) -> None:
    """After Redis restarts empty, a running worker is no longer in RQ's registry set, but its next heartbeat writes
    its hash again: /healthz counts it."""
    from rq import Worker

    connection = django_rq.get_connection("default")
    survivor = Worker(["default"], connection=connection, name="survivor-of-a-redis-restart")
    survivor.heartbeat()  # what the worker's loop does; its birth registration was lost with Redis' data
    try:
        assert Worker.count(connection=connection) == 0
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["workers"] == 1
    finally:
        connection.delete(survivor.key)
    assert client.get("/healthz").json()["workers"] == 0
