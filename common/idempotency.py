"""``Idempotency-Key``: safe retries of state-changing POSTs, one decorator per view method.

A client that sends ``Idempotency-Key: <key>`` (1-255 visible ASCII characters, e.g. a
UUID) with a POST may resend the very same request after a timeout or a dropped
connection without doing the work twice:

* the **first** request with the key runs; its response (any status below 500) is stored
  in the **same transaction** as the work it did, so either both are committed or
  neither is — a response is never lost after its work committed;
* the **same key with the same request** (method, path with query string, and body —
  JSON compared after normalisation) replays the stored response: same status, same
  body, with ``Idempotent-Replayed: true``; nothing runs again;
* the same key with a **different** request is a 422 (``idempotency_key_reused``);
* a duplicate while the first is still running is a 409
  (``idempotency_request_in_flight``, ``Retry-After: 1``);
* keys belong to the authenticated user (another user's key of the same text is a
  different key) and expire after :data:`KEY_TTL` (24 h); the beat task
  ``common.idempotency_keys_purge_task`` deletes expired ones;
* a 5xx or a crash stores nothing: the key is released and the retry runs afresh. A key
  whose request died without releasing it (the process was killed) is taken over by a
  retry after :data:`TAKEOVER_AFTER` seconds; on PostgreSQL the running request holds a
  row lock on its key, so a key still being worked on is never taken over.

Adopt it on an ``APIView`` POST with one line, above its ``@extend_schema``::

    @idempotent
    @extend_schema(...)
    def post(self, request, ...): ...

The schema then documents the optional ``Idempotency-Key`` header and the 409/422
responses. The decorated method also runs in one transaction without a key, and an
application error it raises is answered inside that transaction (what the services
committed before raising, e.g. a proposal marked expired, stays committed).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from common.errors import ApplicationError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)
TAKEOVER_AFTER = 30
"""Seconds after which an unfinished key whose request holds no lock is taken over."""
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional. A unique key (e.g. a UUID, at most 255 visible ASCII characters) that makes the "
    "request safe to retry for 24 hours: the same key with the same request replays the first response "
    "(header `Idempotent-Replayed: true`); with a different request it is a 422; while the first is still "
    "running, a 409.",
)


def _error(status: int, code: str, detail: str, attr: str | None = HEADER) -> Response:
    error_type = "validation_error" if status == 400 else "client_error"
    return Response({"type": error_type, "errors": [{"code": code, "detail": detail, "attr": attr}]}, status=status)


def request_fingerprint(request) -> str:
    """SHA-256 of the method, the full path and the body (JSON normalised: key order and
    whitespace do not matter)."""
    body = request.body or b""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), canonical):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _run(view, handler: Callable, request, args, kwargs) -> Response:
    """The handler's response; an error it raises becomes its error response (same transaction)."""
    try:
        return handler(view, request, *args, **kwargs)
    except (ApplicationError, exceptions.APIException, Http404) as exc:
        return view.handle_exception(exc)


def _replay(row) -> Response:
    response = Response(json.loads(row.response_body) if row.response_body else None, status=row.response_status)
    response[REPLAYED_HEADER] = "true"
    return response


def _claim(request, key: str, fingerprint: str, token: str):
    """Our key row (created, or taken over), or the response to answer instead."""
    from common.models import IdempotencyKey

    now = timezone.now()
    user = request.user
    for _ in range(2):  # a second try when an expired row was deleted under us
        IdempotencyKey.objects.filter(user=user, key=key, expires_at__lte=now).delete()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user, key=key, method=request.method, path=request.get_full_path()[:2048],
                    fingerprint=fingerprint, owner=token, created_at=now, updated_at=now, expires_at=now + KEY_TTL,
                ), None
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is not None:
            break
    else:  # pragma: no cover - deleted twice in a row by concurrent requests
        return None, _error(409, "idempotency_request_in_flight", "the key is in use; retry in a moment")
    if existing.fingerprint != fingerprint:
        return None, _error(
            422, "idempotency_key_reused",
            f"this {HEADER} was used for a different request ({existing.method} {existing.path}); use a new key",
        )
    if existing.status == IdempotencyKey.Status.COMPLETED:
        return None, _replay(existing)
    in_flight = _error(409, "idempotency_request_in_flight", "the first request with this key is still running; retry")
    in_flight["Retry-After"] = "1"
    if (now - existing.updated_at).total_seconds() < TAKEOVER_AFTER:
        return None, in_flight
    with transaction.atomic():
        # A live request holds a row lock on its key (PostgreSQL): skip it, answer 409.
        abandoned = (
            IdempotencyKey.objects.select_for_update(skip_locked=True)
            .filter(pk=existing.pk, status=IdempotencyKey.Status.IN_FLIGHT, owner=existing.owner)
            .first()
        )
        if abandoned is None:
            return None, in_flight
        abandoned.owner, abandoned.updated_at = token, now
        abandoned.save(update_fields=["owner", "updated_at"])
    return abandoned, None


def idempotent(handler: Callable) -> Callable:
    """Make an APIView method (a POST) safe to retry with ``Idempotency-Key``; see the module."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        from common.models import IdempotencyKey

        key = request.headers.get(HEADER)
        if key is None:
            with transaction.atomic():
                return _run(view, handler, request, args, kwargs)
        if not KEY_PATTERN.match(key):
            return _error(400, "invalid_idempotency_key", f"{HEADER} must be 1 to 255 visible ASCII characters")
        token = uuid.uuid4().hex
        row, answer = _claim(request, key, request_fingerprint(request), token)
        if answer is not None:
            return answer
        try:
            with transaction.atomic():
                locked = IdempotencyKey.objects.select_for_update().filter(pk=row.pk, owner=token).first()
                if locked is None:  # taken over while we were slow: the other request answers
                    return _error(409, "idempotency_request_in_flight", "another request took this key over; retry")
                response = _run(view, handler, request, args, kwargs)
                if response.status_code >= 500:
                    locked.delete()
                    return response
                locked.status = IdempotencyKey.Status.COMPLETED
                locked.response_status = response.status_code
                locked.response_body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
                locked.response_content_type = "application/json"
                locked.updated_at = timezone.now()
                locked.save(update_fields=[
                    "status", "response_status", "response_body", "response_content_type", "updated_at",
                ])
                return response
        except BaseException:
            # Nothing of the work was committed: release the key so that a retry runs afresh.
            IdempotencyKey.objects.filter(pk=row.pk, owner=token, status=IdempotencyKey.Status.IN_FLIGHT).delete()
            raise

    base = getattr(handler, "kwargs", {}).get("schema") or api_settings.DEFAULT_SCHEMA_CLASS
    if not isinstance(base, type):
        base = type(base)

    class IdempotentSchema(base):  # documents the header and the 409/422 the mechanism answers
        def get_override_parameters(self):
            return [*super().get_override_parameters(), IDEMPOTENCY_KEY_PARAMETER]

        def get_response_serializers(self):
            from common.api import error_responses

            responses = super().get_response_serializers()
            if isinstance(responses, dict):
                responses = {**error_responses(409, 422), **responses}
            return responses

    wrapper.kwargs = {**getattr(handler, "kwargs", {}), "schema": IdempotentSchema}
    return wrapper


def idempotency_keys_purge(*, now=None) -> int:
    """Delete expired keys; returns how many."""
    from common.models import IdempotencyKey

    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


__all__ = [
    "HEADER",
    "IDEMPOTENCY_KEY_PARAMETER",
    "KEY_TTL",
    "REPLAYED_HEADER",
    "idempotency_keys_purge",
    "idempotent",
    "request_fingerprint",
]

