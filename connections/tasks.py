"""RQ tasks of the connection setup (queue "default"): thin entry points that take ids and call
:mod:`connections.actions.runner` and :mod:`connections.actions.queue`.

Tasks take the :class:`connections.models.ConnectionAction`'s id only; the administrator's credentials travel in the
action's row (password encrypted) and are blanked there as soon as the runner has read them, so Redis never holds a
secret.
"""
from __future__ import annotations

from django.db import close_old_connections

from connections.actions.queue import connection_actions_recover_lost
from connections.actions.runner import connection_action_run


def run_connection_action(action_id: str) -> str:
    """RQ task: run the connection action ``action_id`` (:func:`connections.actions.runner.connection_action_run`).
    Returns the final status, or "not claimed"."""
    close_old_connections()
    return connection_action_run(action_id=action_id)


def recover_lost_connection_actions() -> int:
    """RQ cron task (every minute, ``syncjobs.cron``): mark Queued or Running actions whose RQ job is lost as Failed
    (:func:`connections.actions.queue.connection_actions_recover_lost`). Returns how many were marked."""
    close_old_connections()
    return connection_actions_recover_lost()
