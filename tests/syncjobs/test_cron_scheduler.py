"""The cron scheduler keeps running across a Redis restart (with its data lost) and dispatches afterwards."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.cron import CronScheduler

from portal import embedded_redis
from syncjobs.cron_scheduler import ResilientCronScheduler
from syncjobs.tasks import dispatch_due_job_queue_entries


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # noqa: BLE001 - Redis may be down while we poll
            pass
        time.sleep(0.1)
    return False


def test_scheduler_survives_a_redis_restart_and_dispatches_afterwards(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
    server = embedded_redis.start(url)
    stop = threading.Event()
    sleeps: list[float] = []

    def short_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(min(seconds, 0.2))

    scheduler = ResilientCronScheduler(connection=Redis.from_url(url, socket_timeout=2), sleep=short_sleep,
                                       should_stop=stop.is_set, max_backoff=0.4)
    # The plain RQ registration with this scheduler's own connection (the django_rq one reads RQ_QUEUES).
    CronScheduler.register(scheduler, dispatch_due_job_queue_entries, "default", interval=1)
    queue = Queue("default", connection=Redis.from_url(url))
    thread = threading.Thread(target=scheduler.start, daemon=True)
    caplog.set_level(logging.WARNING, logger="syncjobs.cron_scheduler")
    try:
        thread.start()
        assert _wait_for(lambda: queue.count >= 1), "the scheduler never dispatched"
        server.terminate()
        server.wait(10)
        assert _wait_for(lambda: scheduler.outages == 1)
        time.sleep(1.5)  # several reconnection attempts while Redis is down
        assert thread.is_alive()
        server = embedded_redis.start(url)  # back, empty
        assert _wait_for(lambda: queue.count >= 1), "no dispatch after Redis came back"
        assert thread.is_alive()
        assert scheduler.outages == 1
        warnings = [r.getMessage() for r in caplog.records]
        assert sum("Redis is unreachable" in m for m in warnings) == 1  # logged once, not once per retry
        assert any("Redis is back after" in m for m in warnings)
        assert 0.4 in sleeps  # the backoff grew to its cap
    finally:
        stop.set()
        thread.join(10)
        server.terminate()
        server.wait(10)
    assert not thread.is_alive()


def test_run_cron_loads_the_portal_schedule(settings: Any) -> None:
    scheduler = ResilientCronScheduler()
    scheduler.load_config_from_file("syncjobs.cron")
    names = {job.name for job in scheduler.get_jobs()}
    assert names == {"job-queue-dispatcher", "connection-action-recovery"}
