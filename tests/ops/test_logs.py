"""Structured JSON logs with a request id that follows the request into its tasks."""

from __future__ import annotations

import json
import logging

import pytest
from celery import shared_task
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from rebalancer.ops import logs

pytestmark = pytest.mark.django_db
seen: list[dict] = []


@shared_task(name="tests.ops.log_something_task")
def log_something_task() -> None:
    logging.getLogger("tests.ops").warning("inside the task")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(logs.RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_request_id():
    logs.request_id_var.set(None)
    yield
    logs.request_id_var.set(None)


@pytest.fixture
def captured():
    handler = Capture()
    logger = logging.getLogger("tests.ops")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_a_request_gets_an_id_echoed_in_the_response(client):
    response = client.get("/api/v1/health/")
    assert len(response["X-Request-ID"]) == 32
    given = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="abc-123.X")
    assert given["X-Request-ID"] == "abc-123.X"
    forged = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="bad id\nInjected: yes")
    assert forged["X-Request-ID"] != "bad id\nInjected: yes" and len(forged["X-Request-ID"]) == 32


def test_the_request_id_follows_the_request_into_a_task_it_enqueues(captured, django_capture_on_commit_callbacks):
    # given a view that enqueues a task on commit (tasks run in process in the tests)
    def view(request):
        transaction.on_commit(lambda: log_something_task.delay())
        logging.getLogger("tests.ops").warning("in the view")
        return HttpResponse("ok")

    middleware = logs.RequestIdMiddleware(view)
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-42")
    # when the request runs and its transaction commits
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        middleware(request)
    # then both log lines carry the request id, the task's also its task name
    by_message = {r.getMessage(): r for r in captured.records}
    assert by_message["in the view"].request_id == "req-42"
    assert by_message["inside the task"].request_id == "req-42"
    assert by_message["inside the task"].task_name == "tests.ops.log_something_task"


def test_publishing_puts_the_request_id_in_the_headers_and_the_worker_takes_it(captured):
    # given a request id in the web process
    token = logs.request_id_var.set("web-7")
    headers: dict = {}
    logs.on_before_publish(sender="x", headers=headers)
    logs.request_id_var.reset(token)
    assert headers == {"request_id": "web-7"}

    # when a worker (another process: no request id of its own) runs the task with those headers
    class Request:
        request_id = headers["request_id"]

    class Task:
        name = "autopilot.cycle_run_task"
        request = Request()

    logs.on_task_prerun(task_id="t-1", task=Task())
    logging.getLogger("tests.ops").warning("worker line")
    logs.on_task_postrun(task_id="t-1")
    logging.getLogger("tests.ops").warning("after the task")
    # then its log lines carry the id, and it is cleared after the task
    by_message = {r.getMessage(): r for r in captured.records}
    assert (by_message["worker line"].request_id, by_message["worker line"].task_id) == ("web-7", "t-1")
    assert (by_message["after the task"].request_id, by_message["after the task"].task_id) == ("", "")


def test_records_are_formatted_as_json_with_the_request_id():
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    spec = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(spec["format"], rename_fields=spec["rename_fields"])
    record = logging.LogRecord("rebalancer", logging.INFO, __file__, 1, "cycle done", None, None)
    token = logs.request_id_var.set("r-9")
    logs.RequestIdFilter().filter(record)
    logs.request_id_var.reset(token)
    line = json.loads(formatter.format(record))
    assert (line["message"], line["level"], line["logger"], line["request_id"]) == (
        "cycle done", "INFO", "rebalancer", "r-9")
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["request_id"]
