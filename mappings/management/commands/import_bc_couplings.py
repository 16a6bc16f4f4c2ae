"""``python manage.py import_bc_couplings <connection> [--dry-run]``: import the couplings and table mapping filters of
Business Central's own Dynamics 365 Sales integration (BC: table 5331 CRM Integration Record, table 5335 Integration
Table Mapping) into the portal (``mappings.bc_import``).

Prints the preview (per BC table: couplings to import, already coupled, conflicts, missing records; each filter and
its conversion), then imports in one transaction; ``--dry-run`` prints the preview only. Exits non-zero when BC or
Dataverse cannot be read or the import fails (nothing is then written).
"""
from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.bc_import import BCImportPreview, bc_import_apply, bc_import_preview


def preview_lines(preview: BCImportPreview) -> list[str]:
    """The preview as text lines: counts per table, the couplings left out and why, the filters."""
    lines = ["Couplings per Business Central table:"]
    for table, counts in preview.counts().items():
        lines.append(f"  {table}: " + ", ".join(f"{n} {outcome}" for outcome, n in counts.items()))
    if not preview.couplings:
        lines.append("  (Business Central has no couplings)")
    for line in preview.problems:
        lines.append(f"  not imported: {line.bc_table or line.table_id} {line.bc_id} ⇄ {line.dataverse_id}: "
                     f"{line.reason}")
    lines.append("Filters of Business Central's table mappings:")
    for item in preview.filters:
        target = f"{item.mapping.name if item.mapping else item.bc_mapping} {item.side_label}"
        if item.odata is not None and item.mapping is not None:
            lines.append(f"  {target}: {item.bc_text} → {item.odata or '(none)'}")
        else:
            lines.append(f"  {target}: {item.bc_text} — not converted: {item.problem}")
    return lines


class Command(BaseCommand):
    help = ("Import the couplings (with their Skipped flags) and table mapping filters of Business Central's own "
            "Dynamics 365 Sales integration into the portal, after printing a preview.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection", help="the connection setup's name or id")
        parser.add_argument("--dry-run", action="store_true", help="print the preview only; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = _connection(options["connection"])
        try:
            if options["dry_run"]:
                preview = bc_import_preview(connection=connection)
            else:
                result = bc_import_apply(connection=connection)
                preview = result.preview
        except ClientError as error:
            raise CommandError(f"Nothing was imported: {error}") from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        for line in preview_lines(preview):
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {len(preview.to_import)} coupling(s) and {len(preview.filters_converted)} "
                              "filter(s) would be imported; nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Imported {result.coupled} coupling(s) ({result.skipped} skipped) and {len(result.filters_set)} "
                "filter(s)."))


def _connection(value: str) -> ConnectionSetup:
    """The connection setup named ``value`` or with the id ``value``; CommandError naming the known ones."""
    try:
        found = ConnectionSetup.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        found = None
    found = found or ConnectionSetup.objects.filter(name=value).first()
    if found is None:
        names = ", ".join(ConnectionSetup.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"No connection setup is named {value!r}. Connection setups: {names}.")
    return found
