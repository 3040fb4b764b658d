"""Celery tasks of the infrastructure app, and enqueueing a task after commit without making
the request wait in the demo.

With a broker, ``task.delay`` after commit hands the work to a worker. Without one (the
demo, ``CELERY_TASK_ALWAYS_EAGER``), ``delay`` runs the task right there, inside the
request: ``POST backtests`` answered its "202 queued" after the backtest had finished
(23-57 s; a phone's HTTP timeout fails first). :func:`task_enqueue_on_commit` runs such a
task on a background thread of the process instead (``TASKS_EAGER_IN_BACKGROUND``, on by
default; the fast tests turn it off to assert results inline), one at a time, each with
its own database connection, closed afterwards.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def background_pool() -> ThreadPoolExecutor:
    """The process's thread for in-process tasks (one: SQLite has one writer anyway)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.TASKS_BACKGROUND_THREADS, thread_name_prefix="task")
        return _pool


def _run(task: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return task.apply(kwargs=kwargs).get(propagate=True)
    finally:
        connections.close_all()  # this thread's connections; the request's are untouched


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        logger.error("background task failed", exc_info=future.exception())


def runs_in_background() -> bool:
    """Do in-process tasks run on the background thread (no broker, the demo's default)?"""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER and settings.TASKS_EAGER_IN_BACKGROUND)


def task_enqueue_on_commit(task: Any, **kwargs: Any) -> None:
    """``task.delay(**kwargs)`` once the transaction commits; in the background when eager."""
    if runs_in_background():
        transaction.on_commit(lambda: background_pool().submit(_run, task, kwargs).add_done_callback(_log_failure))
    else:
        transaction.on_commit(lambda: task.delay(**kwargs))


@shared_task(name="common.idempotency_keys_purge_task", acks_late=True)
def idempotency_keys_purge_task() -> int:
    """Delete Idempotency-Keys older than 24 hours; returns how many. Safe to rerun."""
    from common.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
