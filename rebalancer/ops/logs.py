"""Structured logs with a request id that follows a request into the tasks it enqueues.

* :class:`RequestIdMiddleware` takes the caller's ``X-Request-ID`` (letters, digits,
  ``._-``, at most 64) or makes one, keeps it in a context variable until the response
  is closed and returns it in the response's ``X-Request-ID``.
* :class:`RequestIdFilter` puts ``request_id``, ``task_id`` and ``task_name`` on every log
  record; settings format records as JSON (``python-json-logger``; ``LOG_FORMAT=plain``
  for a terminal).
* Celery: ``before_task_publish`` copies the current request id into the message's
  headers; ``task_prerun`` makes it the worker's current request id for that task (and
  ``task_postrun`` clears it). A task enqueued with ``transaction.on_commit`` publishes
  while the request still runs, so it carries the id too. ``task_failure`` counts
  failures per task in the cache (shared by every process with Redis), for ``/metrics``.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from django.core.cache import cache

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
task_var: ContextVar[tuple[str, str] | None] = ContextVar("task", default=None)
HEADER = "request_id"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TASK_FAILURES_NAMES = "ops:task_failures:names"


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id (the caller's, when well-formed) and echo it back."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _VALID.match(given) else request_id_new()
        request.request_id = request_id
        # kept until the response is closed (``request_finished``), so Django's own
        # request log lines, written after the middleware returns, carry it too
        request_id_var.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def on_request_finished(sender=None, **_) -> None:
    request_id_var.set(None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id``, ``task_id`` and ``task_name`` to each record ("" when none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or ""
        task = task_var.get()
        record.task_id, record.task_name = task if task else ("", "")
        return True


# --- Celery --------------------------------------------------------------------------------

_tokens: dict[str, tuple] = {}


def on_before_publish(sender=None, headers=None, **_) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None and HEADER not in headers:
        headers[HEADER] = request_id


def _header_of(task) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    value = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return value if isinstance(value, str) and _VALID.match(value) else None


def on_task_prerun(sender=None, task_id=None, task=None, **_) -> None:
    request_id = _header_of(task) or request_id_var.get()
    _tokens[task_id] = (request_id_var.set(request_id), task_var.set((task_id or "", getattr(task, "name", ""))))


def on_task_postrun(sender=None, task_id=None, **_) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        request_token, task_token = tokens
        task_var.reset(task_token)
        request_id_var.reset(request_token)


def task_failure_count(name: str) -> None:
    """Count one failure of task ``name`` (cache keys shared by every worker with Redis)."""
    names = cache.get(TASK_FAILURES_NAMES) or []
    if name not in names:
        cache.set(TASK_FAILURES_NAMES, sorted({*names, name}), None)
    key = f"ops:task_failures:{name}"
    cache.add(key, 0, None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, None)


def task_failures_get() -> dict[str, int]:
    names = cache.get(TASK_FAILURES_NAMES) or []
    values = cache.get_many([f"ops:task_failures:{n}" for n in names])
    return {n: int(values.get(f"ops:task_failures:{n}", 0)) for n in names}


def on_task_failure(sender=None, **_) -> None:
    task_failure_count(getattr(sender, "name", None) or str(sender))


def celery_signals_connect() -> None:
    from celery import signals
    from django.core.signals import request_finished

    request_finished.connect(on_request_finished, weak=False, dispatch_uid="ops_request_id_finished")
    signals.before_task_publish.connect(on_before_publish, weak=False, dispatch_uid="ops_request_id_publish")
    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="ops_request_id_prerun")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="ops_request_id_postrun")
    signals.task_failure.connect(on_task_failure, weak=False, dispatch_uid="ops_task_failure")
