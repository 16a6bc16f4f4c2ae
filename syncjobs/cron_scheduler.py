"""The cron scheduler process (``python manage.py run_cron``): RQ's cron scheduler that rides out Redis outages.

RQ's own loop (``rq.cron.CronScheduler.start``) ends at the first Redis connection error, and then nothing is
dispatched until someone restarts it. This scheduler runs the same ticks (enqueue due cron jobs, save, heartbeat),
and on a Redis connection or timeout error logs the outage once, retries with exponential backoff (1 s doubling to
``max_backoff`` seconds), and when Redis answers again registers itself anew and catches up: a cron job whose time
passed during the outage is enqueued once on the first tick (``CronJob.should_run``), not once per missed minute.
The schedule itself is :mod:`syncjobs.cron`. Under the demo and under systemd (``deploy/``) the process is also
restarted if it exits.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django_rq.cron import DjangoCronScheduler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.cron import StopRequested

logger = logging.getLogger(__name__)

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class ResilientCronScheduler(DjangoCronScheduler):
    """A :class:`django_rq.cron.DjangoCronScheduler` whose loop survives Redis outages (see the module doc).

    ``sleep`` waits between ticks and retries (seconds; tests pass a short one), ``should_stop`` is polled each
    tick (tests stop the loop with it; signals stop it too, as in RQ).
    """

    def __init__(self, *, max_backoff: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 should_stop: Callable[[], bool] = lambda: False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._should_stop = should_stop
        self.outages = 0

    def tick(self) -> float:
        """One round of RQ's loop: enqueue due jobs, save, heartbeat; returns the seconds until the next round."""
        if self.enqueue_jobs():
            self.save()
        self.heartbeat()
        return self.calculate_sleep_interval()

    def start(self) -> None:
        """Run until stopped (signal, KeyboardInterrupt or ``should_stop``); never ends on a Redis error."""
        self.log.info("CronScheduler %s: starting (survives Redis outages)", self.name)
        if threading.current_thread() is threading.main_thread():  # signal handlers only exist there
            self._install_signal_handlers()
        registered = False
        outage_since: float | None = None
        backoff = 1.0
        try:
            while not self._should_stop():
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    wait = self.tick()
                except REDIS_ERRORS as error:
                    if outage_since is None:
                        outage_since = time.monotonic()
                        self.outages += 1
                        logger.warning("Redis is unreachable (%s); the cron scheduler retries with backoff and "
                                       "catches up the due jobs when it returns.", error)
                    registered = False
                    self._sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if outage_since is not None:
                    logger.warning("Redis is back after %.0f s; the cron scheduler goes on.",
                                   time.monotonic() - outage_since)
                    outage_since, backoff = None, 1.0
                if wait > 0:
                    self._sleep(wait)
        except (KeyboardInterrupt, StopRequested):
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            try:
                self.register_death()
            except REDIS_ERRORS:
                pass
