"""``python manage.py run_cron``: the cron scheduler of :mod:`syncjobs.cron` that survives Redis outages
(:class:`syncjobs.cron_scheduler.ResilientCronScheduler`)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from syncjobs.cron_scheduler import ResilientCronScheduler


class Command(BaseCommand):
    help = "Run the cron scheduler (job queue dispatcher, connection action recovery); survives Redis outages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--max-backoff", type=float, default=30.0,
                            help="longest wait between reconnection attempts while Redis is down (seconds)")

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = ResilientCronScheduler(max_backoff=options["max_backoff"])
        scheduler.load_config_from_file("syncjobs.cron")
        self.stdout.write(f"Cron scheduler with {len(scheduler.get_jobs())} jobs; Ctrl-C stops it.")
        scheduler.start()
