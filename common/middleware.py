"""Middleware of the edge: request limits before anything parses, and response headers.

:class:`RequestLimitsMiddleware` answers, before authentication, throttling or any
parser runs (so unauthenticated callers of ``auth/token`` get the same answers):

* 413 when ``Content-Length`` exceeds ``API_MAX_BODY_BYTES`` (default 1 MiB; the body is
  not read);
* 414 when path plus query string exceed ``API_MAX_URL_CHARS`` (default 4,096; gunicorn's
  own line limit is raised above it so this, in the error shape, answers first);
* 400 ``json_too_deep`` when a JSON body nests arrays/objects deeper than
  ``API_MAX_JSON_DEPTH`` (default 32). Python's parser recurses per level and a body of
  ``[[[[...`` a few thousand deep raised ``RecursionError``, a 500.

Responses under ``/api/`` use the one error shape; elsewhere (the admin) a plain text.

:class:`SecurityHeadersMiddleware` adds what Django's ``SecurityMiddleware`` and
django-csp leave out: ``Permissions-Policy`` (no camera, microphone, geolocation,
payment...), and ``Cache-Control: no-store`` on API responses that did not set their
own (they carry tokens and balances).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_URL_CHARS = 4096
DEFAULT_MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text (brackets inside strings ignored).

    Works on invalid JSON too (the parser reports that afterwards); linear time: the
    strings are cut out by one regular expression, the brackets summed by numpy.
    """
    if b"[" not in body and b"{" not in body:
        return 0
    stripped = _STRING.sub(b"", body) if b'"' in body else body
    steps = _DEPTH_STEP[np.frombuffer(stripped, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _error(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        error_type = "validation_error" if status == 400 else "client_error"
        body = {"type": error_type, "errors": [{"code": code, "detail": detail, "attr": None}]}
        response: HttpResponse = JsonResponse(body, status=status)
    else:
        response = HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
    if status == 413:
        response["Connection"] = "close"  # the unread body must not be parsed as a next request
    return response


class RequestLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.refuse(request) or self.get_response(request)

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        max_url = _limit("API_MAX_URL_CHARS", DEFAULT_MAX_URL_CHARS)
        url_length = len(request.path) + len(request.META.get("QUERY_STRING", ""))
        if url_length > max_url:
            return _error(request, 414, "uri_too_long", f"The URL is longer than {max_url} characters.")
        max_body = _limit("API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(request, 400, "bad_request", "Content-Length is not a number.")
        if length > max_body:
            return _error(
                request, 413, "request_too_large", f"The request body is larger than {max_body} bytes."
            )
        content_type = request.META.get("CONTENT_TYPE", "")
        if length and "json" in content_type:
            max_depth = _limit("API_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)
            if json_depth(request.body) > max_depth:
                return _error(
                    request, 400, "json_too_deep", f"The JSON body nests deeper than {max_depth} levels."
                )
        return None


PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
            response["Cache-Control"] = "no-store"
        return response
