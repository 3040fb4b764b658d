"""Django-level error views: API paths get the one JSON error shape, the rest Django's pages.

DRF renders errors raised inside API views; these cover what never reaches a view, such
as a URL that matches no route (``/api/v1/portfolios/abc``) or a crash in middleware.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from common.faults import dependency_down, retry_after_s


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(status: int, code: str, detail: str, error_type: str = "client_error") -> JsonResponse:
    body = {"type": error_type, "errors": [{"code": code, "detail": detail, "attr": None}]}
    return JsonResponse(body, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Called while Django handles the exception: a dependency down is a 503, not a bug.
    exc = sys.exc_info()[1]
    if exc is not None and dependency_down(exc) is not None:
        return unavailable(request)
    if _is_api(request):
        return _error(500, "error", "A server error occurred.", "server_error")
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _error(400, "bad_request", "Bad request.", "client_error")
    return defaults.bad_request(request, exception)


def unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON error shape under /api/, plain text elsewhere (the admin)."""
    detail = "A dependency is temporarily unavailable; retry after a few seconds."
    if _is_api(request):
        response: HttpResponse = _error(503, "service_unavailable", detail, "server_error")
    else:
        response = HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after_s())
    return response


@csrf_exempt  # a JSON 404 for any method, not Django's HTML 403 for an unsafe one
def api_route_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """The last route under ``/api/``: the JSON 404 whatever ``DEBUG`` says.

    Django's handler404 only serves when ``DEBUG`` is off; the demo runs with it on and
    answered an HTML page to ``/api/v1/portfolios/``. A path that differs from a route
    only by its trailing slash says which one was meant.
    """
    detail = "Not found."
    alternative = request.path[:-1] if request.path.endswith("/") else f"{request.path}/"
    try:
        match = resolve(alternative)
    except Resolver404:
        match = None
    if match is not None and match.func is not api_route_not_found:
        detail = f"Not found. Did you mean {alternative}?"
    return _error(404, "not_found", detail)
