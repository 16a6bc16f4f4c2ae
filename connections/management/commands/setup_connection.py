"""``python manage.py setup_connection``: the assisted setup from the command line (same service as the wizard).

Secrets never come from the command line (they would show in the process list and shell history): each is read
from a file (``--client-secret-file`` …) or from an environment variable (``PORTAL_SETUP_CLIENT_SECRET`` …), or,
with ``--from-emulator FILE``, from the JSON line ``python -m emulators serve`` printed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections.actions.finish import connection_setup_finish
from connections.environment import normalise_environment_url
from connections.fields import COMMAND_OPTIONS, COMMAND_SECRETS
from connections.models import ConnectionSetup
from connections.validation import validate_bc_authentication, validate_sales_order_options

#: Choices of the options that take one (the registry of connection fields gives every other option).
CHOICES = {
    "authentication_type": ConnectionSetup.AuthenticationType.values,
    "ownership_model": ConnectionSetup.OwnershipModel.values,
    "bc_authentication_type": ConnectionSetup.BCAuthenticationType.values,
}


def emulator_data(info: dict[str, Any]) -> dict[str, Any]:
    """Translate the emulator's JSON line (entra_authority, dataverse_url, business_central_url, tenant_id,
    client_id, client_secret, admin_user, admin_password, ca_bundle …) into connection setup data."""
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
        "admin_username": info.get("admin_user", ""),
        "admin_password": info.get("admin_password", ""),
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
        parser.add_argument("--import-solution", action="store_true", help="import the integration solution")
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
        data = self._data(options)
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
            raise CommandError(f"Setup failed at “{failed.name}”: {failed.message}" if failed else "Setup failed.")
        self.stdout.write(self.style.SUCCESS("The connection is set up."))

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
