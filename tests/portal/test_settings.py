"""Settings helpers reject bad values with a message that names the variable and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from base import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return monkeypatch


@pytest.mark.parametrize("value,expected", [("1", True), ("yes", True), ("ON", True), ("0", False), ("false", False)])
def test_envbool_accepts_the_usual_spellings(environ: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    environ.setenv("FLAG", value)
    assert env.envbool("FLAG") is expected


def test_envbool_rejects_other_words(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"FLAG='maybe' is not a boolean"):
        env.envbool("FLAG")


def test_envint_rejects_non_numbers_and_out_of_range(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="N='ten' is not a whole number"):
        env.envint("N", 1)
    environ.setenv("N", "-1")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 0"):
        env.envint("N", 1, minimum=0)
    environ.setenv("N", "7")
    assert env.envint("N", 1, minimum=0) == 7


def test_database_url_postgres_uses_psycopg_backend(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("DB", "postgres://portal:secret@db.example.com:5433/portal")
    config = env.database_config("DB", default_sqlite_path=Path("/tmp/x.sqlite3"))
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.example.com",
        5433,
        "portal",
        "portal",
    )


def test_database_url_sqlite_and_default(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environ.setenv("DB", f"sqlite:///{tmp_path}/p.sqlite3")
    assert env.database_config("DB", default_sqlite_path=tmp_path / "d")["NAME"] == f"{tmp_path}/p.sqlite3"
    environ.delenv("DB")
    config = env.database_config("DB", default_sqlite_path=tmp_path / "d.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3" and config["NAME"] == str(tmp_path / "d.sqlite3")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgres://host", "not a url"])
def test_database_url_rejects_unsupported_or_incomplete(environ: pytest.MonkeyPatch, url: str) -> None:
    environ.setenv("DB", url)
    with pytest.raises(ImproperlyConfigured, match="DB"):
        env.database_config("DB", default_sqlite_path=Path("/tmp/x"))


@pytest.mark.parametrize(
    "url,message",
    [
        ("http://h:6379", "must start with redis://"),
        ("redis://:6379", "has no host"),
        ("redis://h:port/0", "invalid port"),
    ],
)
def test_redis_url_rejects_bad_values(environ: pytest.MonkeyPatch, url: str, message: str) -> None:
    environ.setenv("R", url)
    with pytest.raises(ImproperlyConfigured, match=message):
        env.redis_url("R", "redis://127.0.0.1:6390/0")


def test_redis_url_default() -> None:
    assert env.redis_url("UNSET_REDIS_URL_FOR_TEST", "redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/0"


def _check(extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    unset = {"SECRET_KEY", "PORTAL_ENCRYPTION_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "PORTAL_ENV_FILE"}
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_secret_key_and_encryption_key_required_without_debug(tmp_path: Path) -> None:
    result = _check({"DEBUG": "0", "PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY and PORTAL_ENCRYPTION_KEY must be set when DEBUG is off" in result.stderr


def test_bad_encryption_key_is_named(tmp_path: Path) -> None:
    result = _check(
        {"DEBUG": "0", "SECRET_KEY": "x" * 60, "PORTAL_ENCRYPTION_KEY": "short", "PORTAL_VAR_DIR": str(tmp_path)}
    )
    assert (
        result.returncode != 0
        and "PORTAL_ENCRYPTION_KEY must be one or more comma-separated Fernet keys" in result.stderr
    )


def test_check_deploy_passes_with_production_settings(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    result = _check(
        {
            "DEBUG": "0",
            "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "portal.example.com",
            "SECURE_SSL_REDIRECT": "1",
            "SESSION_COOKIE_SECURE": "1",
            "CSRF_COOKIE_SECURE": "1",
            "SECURE_HSTS_SECONDS": "31536000",
            "PORTAL_VAR_DIR": str(tmp_path),
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_env_file_fills_unset_variables_only(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "portal.env"
    path.write_text("# comment\n\nPORTAL_TEST_A=from-file\nPORTAL_TEST_B = from-file\n")
    environ.setenv("PORTAL_TEST_B", "from-environment")
    environ.delenv("PORTAL_TEST_A", raising=False)
    assert env.load_env_file(path) == ["PORTAL_TEST_A"]
    assert os.environ["PORTAL_TEST_A"] == "from-file" and os.environ["PORTAL_TEST_B"] == "from-environment"
    environ.delenv("PORTAL_TEST_A")
    assert env.load_env_file(tmp_path / "missing.env") == []


def test_env_file_rejects_a_line_without_equals(tmp_path: Path) -> None:
    path = tmp_path / "portal.env"
    path.write_text("SECRET_KEY\n")
    with pytest.raises(ImproperlyConfigured, match=r"portal.env, line 1: expected NAME=value"):
        env.load_env_file(path)


def test_manage_py_beside_the_demo_uses_its_env_file(tmp_path: Path) -> None:
    """`python manage.py ...` run beside `make demo` (no variables set) takes the demo's keys from var/portal.env."""
    from cryptography.fernet import Fernet

    (tmp_path / "portal.env").write_text(
        f"SECRET_KEY={'k' * 60}\nPORTAL_ENCRYPTION_KEY={Fernet.generate_key().decode()}\nDEBUG=0\n"
        "ALLOWED_HOSTS=127.0.0.1\n"
    )
    result = _check({"PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
