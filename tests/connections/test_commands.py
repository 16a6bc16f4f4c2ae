"""Management commands: rotate_encryption_key, and setup_connection's input handling (no secret on the command line;
secrets from files or the environment; refusals exit non-zero with the reason)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db

from connections.models import ConnectionSetup
from tests.connections.conftest import BC_ACCESS_KEY, CLIENT_SECRET

pytestmark = pytest.mark.django_db


def _stored_secret(pk: Any) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM connections_connectionsetup WHERE id = %s", [pk.hex])
        return cursor.fetchone()[0]


def test_rotate_encryption_key_re_encrypts_with_the_first_key(connection: ConnectionSetup, settings: Any) -> None:
    old_key = settings.PORTAL_ENCRYPTION_KEY
    before = _stored_secret(connection.pk)
    new_key = Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEY = f"{new_key},{old_key}"
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted the secrets of 1 rows" in out.getvalue()
    after = _stored_secret(connection.pk)
    assert after != before
    assert Fernet(new_key.encode()).decrypt(after.encode()).decode() == CLIENT_SECRET
    settings.PORTAL_ENCRYPTION_KEY = new_key  # the old key can go now
    reloaded = ConnectionSetup.objects.get(pk=connection.pk)
    assert (reloaded.client_secret, reloaded.bc_access_key) == (CLIENT_SECRET, BC_ACCESS_KEY)


def test_rotate_refuses_a_secret_no_key_can_read(connection: ConnectionSetup, settings: Any) -> None:
    settings.PORTAL_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_key", stdout=io.StringIO())


def test_setup_connection_has_no_secret_options() -> None:
    from connections.management.commands.setup_connection import Command

    parser = Command().create_parser("manage.py", "setup_connection")
    options = {option for action in parser._actions for option in action.option_strings}
    assert "--client-secret" not in options and "--admin-client-secret" not in options
    assert {"--client-secret-file", "--admin-client-secret-file", "--from-emulator"} <= options


def test_setup_connection_refuses_both_sales_order_modes(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="exclude each other"):
        call_command("setup_connection", "--dataverse-url", "https://contoso.crm.dynamics.com",
                     "--legacy-sales-orders", "--bidirectional-sales-orders", stdout=io.StringIO())
    assert not ConnectionSetup.objects.exists()


def test_setup_connection_reads_secrets_from_files_and_environment_and_fails_clearly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("file-secret-6a6a\n")
    monkeypatch.setenv("PORTAL_SETUP_BC_ACCESS_KEY", "env-access-key-7b7b")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Setup failed at “Test connection”"):
        call_command("setup_connection", "--dataverse-url", "https://nonexistent.invalid", "--tenant-id", "contoso",
                     "--authority-host", "https://nonexistent.invalid", "--client-id", "app",
                     "--client-secret-file", str(secret_file), "--bc-authentication-type", "Basic",
                     "--bc-username", "WS", "--bc-api-url", "https://nonexistent.invalid/api/v2.0", "--timeout", "5",
                     stdout=out)
    printed = out.getvalue()
    assert "[FAIL] Test connection" in printed and "fix:" in printed
    assert "file-secret-6a6a" not in printed + capsys.readouterr().out
    connection = ConnectionSetup.objects.get()
    assert connection.client_secret == "file-secret-6a6a"
    assert connection.bc_access_key == "env-access-key-7b7b"
    assert not connection.is_enabled


def test_integration_administrator_group_exists_with_the_permission() -> None:
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="Integration Administrator")
    assert group.permissions.filter(codename="administer_connectionsetup").exists()
