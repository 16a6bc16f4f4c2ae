"""The cron schedule of the dispatcher: every minute on the minute, or every N seconds when configured."""
from __future__ import annotations

from syncjobs.cron import schedule


def test_every_minute_by_default(settings) -> None:
    settings.JOB_QUEUE_DISPATCH_INTERVAL = 0
    assert schedule() == {"cron": "* * * * *"}


def test_a_configured_pace_in_seconds(settings) -> None:
    settings.JOB_QUEUE_DISPATCH_INTERVAL = 5
    assert schedule() == {"interval": 5}
