"""``python manage.py setup_connection``: the assisted setup from the command line (same service as the wizard).

Secrets never come from the command line (they would show in the process list and shell history): each is read
from a file (``--client-secret-file`` …) or from an environment variable (``PORTAL_SETUP_CLIENT_SECRET`` …), or,
with ``--from-emulator FILE``, from the JSON line ``python -m emulators serve`` printed.

``--import-solution`` needs a Dataverse administrator. By default a person signs in with the device code flow
(Microsoft Learn: "Microsoft identity platform and the OAuth 2.0 device authorization grant flow"): the command
prints where to go and which code to enter on stderr when the import starts, and waits; multi-factor authentication
works, and the connection's app registration must allow public client flows. Or ``--admin-client-id`` with
``--admin-client-secret-file`` / ``--admin-certificate-file`` names an app registration whose application user
holds the System Administrator role (client credentials). User name and password sign-in for the administrator is
gone: it fails for every account with multi-factor authentication.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections.actions.finish import connection_setup_finish
from connections.clients import TokenProvider
from connections.clients.entra import DeviceCodeTokens, authority_url
from connections.clients.errors import ClientError
from connections.environment import normalise_environment_url
from connections.fields import COMMAND_OPTIONS, COMMAND_SECRETS
from connections.models import ConnectionSetup
from connections.setup import connection_from_data
from connections.solution_import import AdminTokens, admin_sign_in
from connections.validation import validate_bc_authentication, validate_sales_order_options

#: Choices of the options that take one (the registry of connection fields gives every other option).
CHOICES = {
    "authentication_type": ConnectionSetup.AuthenticationType.values,
    "ownership_model": ConnectionSetup.OwnershipModel.values,
    "bc_authentication_type": ConnectionSetup.BCAuthenticationType.values,
}

#: Options that were removed, and what replaces them.
REMOVED_OPTIONS = {
    "admin_username": "--admin-username",
    "admin_password_file": "--admin-password-file",
}
REMOVED_TEXT = ("{option} was removed: the administrator no longer signs in with a user name and password (that fails "
                "with multi-factor authentication). Run --import-solution without it to sign in with a device code "
                "(the command prints where to enter it), or give --admin-client-id with --admin-client-secret-file or "
                "--admin-certificate-file for an app registration that holds the System Administrator role.")


def emulator_data(info: dict[str, Any]) -> dict[str, Any]:
    """Translate the emulator's JSON line (entra_authority, dataverse_url, business_central_url, tenant_id,
    client_id, client_secret, ca_bundle …) into connection setup data (the administrator signs in separately)."""
    authority = urlsplit(info.get("entra_authority") or "")
    data: dict[str, Any] = {
        "dataverse_url": info.get("dataverse_url", ""),
        "tenant_id": info.get("tenant_id", ""),
        "authority_host": f"{authority.scheme}://{authority.netloc}" if authority.netloc else "",
        "client_id": info.get("client_id", ""),
        "client_secret": info.get("client_secret", ""),
        "authentication_type": ConnectionSetup.AuthenticationType.CLIENT_SECRET,
        "bc_api_url": info.get("bc_api_url") or (f"{info['business_central_url']}/api/v2.0"
                                                 if info.get("business_central_url") else ""),
        "bc_authentication_type": ConnectionSetup.BCAuthenticationType.OAUTH,
    }
    companies = info.get("bc_companies") or []
    if companies:
        # The demo seed's first company (the emulator lists them in seed order).
        data["bc_company"] = str(companies[0].get("id") or companies[0].get("name") or "")
    if info.get("bc_environment"):
        data["bc_environment"] = info["bc_environment"]
        data["bc_tenant"] = info.get("tenant_id", "")
    return {key: value for key, value in data.items() if value}


class Command(BaseCommand):
    help = ("Set up the connection (Dataverse + Business Central) as the assisted setup does: save, test, import the "
            "integration solution, apply the default configuration, enable. Secrets come from files or environment "
            "variables (PORTAL_SETUP_CLIENT_SECRET, PORTAL_SETUP_ADMIN_PASSWORD, …), never from the command line.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from-emulator", metavar="FILE",
                            help="The JSON line printed by `python -m emulators serve` (URLs, tenant, credentials).")
        for spec in COMMAND_OPTIONS:
            parser.add_argument(spec.option, choices=CHOICES.get(spec.name), help=spec.help_text or spec.label,
                                **({"default": "Dynamics 365 Sales"} if spec.name == "name" else {}))
        for spec in COMMAND_SECRETS:
            parser.add_argument(spec.option, metavar="FILE",
                                help=f"{spec.label}: read from FILE (or set {spec.variable})")
        parser.add_argument("--import-solution", action="store_true",
                            help="import the integration solution: a Dataverse administrator signs in with a device "
                            "code (printed on stderr), unless --admin-client-id is given")
        parser.add_argument("--admin-client-id", metavar="ID",
                            help="with --import-solution: an app registration whose application user is a System "
                            "Administrator (client credentials instead of a person's sign-in)")
        parser.add_argument("--admin-app-from-emulator", action="store_true",
                            help="with --from-emulator and --import-solution: sign in as the emulators' administrator "
                            "app (client credentials; the demo's unattended setup)")
        parser.add_argument("--admin-client-secret-file", metavar="FILE",
                            help="that app's client secret: read from FILE (or set PORTAL_SETUP_ADMIN_CLIENT_SECRET)")
        parser.add_argument("--admin-certificate-file", metavar="FILE",
                            help="that app's certificate: a PEM with the private key and the certificate")
        parser.add_argument("--admin-certificate-thumbprint", metavar="SHA1",
                            help="the SHA-1 thumbprint of --admin-certificate-file as the app registration shows it")
        for name, option in REMOVED_OPTIONS.items():
            parser.add_argument(option, dest=f"removed_{name}", help=argparse.SUPPRESS)
        parser.add_argument("--enable", action="store_true", help="enable the connection when every step succeeds")
        parser.add_argument("--legacy-sales-orders", action="store_true")
        parser.add_argument("--bidirectional-sales-orders", action="store_true")
        parser.add_argument("--auto-create-sales-orders", action="store_true")
        parser.add_argument("--auto-process-sales-quotes", action="store_true")
        parser.add_argument("--item-availability", action="store_true")
        parser.add_argument("--no-unit-group-mapping", action="store_true")
        parser.add_argument("--couple-salespersons-by-email", action="store_true",
                            help="Person ownership model: couple each BC salesperson to the Dataverse user with the "
                            "same e-mail (case-insensitive) when finishing, as the wizard pre-selects them")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds per remote request")

    def handle(self, *args: Any, **options: Any) -> None:
        for name, option in REMOVED_OPTIONS.items():
            if options.get(f"removed_{name}"):
                raise CommandError(REMOVED_TEXT.format(option=option))
        data = self._data(options)
        if data["import_solution"]:
            data["admin_tokens"] = self._admin_tokens(options, data)
        try:
            report = connection_setup_finish(data=data, user=None, timeout=options["timeout"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        for step in report.steps:
            mark = {"ok": "OK  ", "failed": "FAIL", "skipped": "--  "}[step.status]
            self.stdout.write(f"[{mark}] {step.name}: {step.message}")
            if step.ok is False and step.fix:
                self.stdout.write(f"       fix: {step.fix}")
        if not report.ok:
            failed = report.failed_step
            raise CommandError(f"Setup failed at “{failed.name}”: {failed.message}"
                               + (f" Fix: {failed.fix}" if failed.fix else "") if failed else "Setup failed.")
        self.stdout.write(self.style.SUCCESS("The connection is set up."))

    def _admin_tokens(self, options: dict[str, Any], data: dict[str, Any]) -> AdminTokens:
        """The administrator's token source for the solution import: client credentials of ``--admin-client-id``,
        or a person's device code sign-in through the connection's app registration (prompting on stderr when the
        import starts)."""
        probe = connection_from_data(data=data, existing=ConnectionSetup.objects.filter(name=data["name"]).first())
        if options.get("admin_app_from_emulator"):
            if not self._emulator_info.get("admin_client_id"):
                raise CommandError("--admin-app-from-emulator needs --from-emulator with a line that names "
                                   "admin_client_id (python -m emulators serve prints it).")
            options["admin_client_id"] = self._emulator_info["admin_client_id"]
        try:
            if not options.get("admin_client_id"):
                if options.get("admin_client_secret_file") or options.get("admin_certificate_file"):
                    raise CommandError("--admin-client-secret-file and --admin-certificate-file need "
                                       "--admin-client-id.")
                return DeviceCodeTokens(admin_sign_in(probe, timeout=options["timeout"]), prompt=self._prompt)
            certificate = _read(options.get("admin_certificate_file"), "--admin-certificate-file")
            secret = (_read(options.get("admin_client_secret_file"), "--admin-client-secret-file")
                      or os.environ.get("PORTAL_SETUP_ADMIN_CLIENT_SECRET", "")
                      or (self._emulator_info.get("admin_client_secret", "")
                          if options.get("admin_app_from_emulator") else ""))
            if not (certificate or secret):
                raise CommandError("--admin-client-id needs --admin-client-secret-file (or "
                                   "PORTAL_SETUP_ADMIN_CLIENT_SECRET) or --admin-certificate-file.")
            return TokenProvider(
                authority=authority_url(probe.authority_host or "https://login.microsoftonline.com", probe.tenant_id),
                client_id=options["admin_client_id"], client_secret=None if certificate else secret,
                certificate_pem=certificate or None,
                certificate_thumbprint=options.get("admin_certificate_thumbprint") or None, timeout=options["timeout"])
        except ClientError as error:
            raise CommandError(f"Administrator sign-in: {error.message} {error.fix}".strip()) from None

    def _prompt(self, message: str) -> None:
        """Show the device code flow's message (where to sign in, which code) at once, on stderr."""
        self.stderr.write(message)
        self.stderr.flush()

    _emulator_info: dict[str, Any] = {}

    def _data(self, options: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"name": options["name"]}
        if options["from_emulator"]:
            path = Path(options["from_emulator"])
            try:
                line = next(line for line in path.read_text().splitlines() if line.strip().startswith("{"))
                info = json.loads(line)
            except (OSError, StopIteration, ValueError) as error:
                raise CommandError(f"--from-emulator {path}: not the emulator's JSON line ({error}).") from None
            data.update(emulator_data(info))
            self._emulator_info = info
            if info.get("ca_bundle") and not settings.OUTBOUND_CA_BUNDLE:
                # The emulators' test CA is trusted for this command only (export OUTBOUND_CA_BUNDLE for the server).
                settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
        for spec in COMMAND_OPTIONS:
            if spec.name != "name" and options.get(spec.name):
                data[spec.name] = options[spec.name]
        for spec in COMMAND_SECRETS:
            name, option, variable = spec.name, spec.option, spec.variable
            file_option = option.lstrip("-").replace("-", "_")
            if options.get(file_option):
                try:
                    data[name] = Path(options[file_option]).read_text().strip()
                except OSError as error:
                    raise CommandError(f"{option}: cannot read the file ({error.strerror}).") from None
            elif os.environ.get(variable):
                data[name] = os.environ[variable]
        data.update({
            "import_solution": options["import_solution"],
            "enable": options["enable"],
            "legacy_sales_order_integration": options["legacy_sales_orders"],
            "bidirectional_sales_order_integration": options["bidirectional_sales_orders"],
            "auto_create_sales_orders": options["auto_create_sales_orders"],
            "auto_process_sales_quotes": options["auto_process_sales_quotes"],
            "item_availability_enabled": options["item_availability"],
            "unit_group_mapping_enabled": not options["no_unit_group_mapping"],
            "couple_salespersons_by_email": options["couple_salespersons_by_email"],
        })
        data.setdefault("ownership_model", ConnectionSetup.OwnershipModel.TEAM)
        data.setdefault("web_api_version", "9.2")
        data.setdefault("authentication_type", ConnectionSetup.AuthenticationType.CLIENT_SECRET)
        data.setdefault("authority_host", "https://login.microsoftonline.com")
        try:
            if not data.get("dataverse_url"):
                raise ValidationError("--dataverse-url (or --from-emulator) is required.")
            data["dataverse_url"] = normalise_environment_url(data["dataverse_url"], allow_drop_path=False).url
            validate_sales_order_options(legacy=data["legacy_sales_order_integration"],
                                         bidirectional=data["bidirectional_sales_order_integration"],
                                         auto_create=data["auto_create_sales_orders"])
            if data.get("bc_authentication_type"):
                # BC online takes OAuth only (Microsoft Learn: "Web services authentication"); refused before any
                # request. The URL may come from the stored connection: the save refuses that case too.
                validate_bc_authentication(api_url=data.get("bc_api_url", ""),
                                           authentication_type=data["bc_authentication_type"])
            person = data["ownership_model"] == ConnectionSetup.OwnershipModel.PERSON
            if data["couple_salespersons_by_email"] and not person:
                raise ValidationError("--couple-salespersons-by-email needs --ownership-model Person (salespersons are "
                                      "coupled to users in the Person model only).")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        return data


def _read(path: str | None, option: str) -> str:
    """The stripped text of the file ``path`` ("" without one). Raises CommandError naming ``option``."""
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise CommandError(f"{option}: cannot read the file ({error.strerror}).") from None
