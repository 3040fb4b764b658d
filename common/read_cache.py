"""Version-keyed reads: ``ETag``/``304 Not Modified`` and one shared body cache for the
app's hot GETs (portfolios, holdings, transactions, risk, notifications, market data).

Every one of those reads is a function of a few numbers the writers already keep: the
portfolio's ``ledger_version`` (bumped by every trade, cash movement and split in the same
transaction as the write), its ``updated_at``, the market-data revision (bumped by every
price write), today's date, and for some endpoints a small fingerprint read in one query
(notifications, alerts). The view reads those *versions* (after its owner-filtered lookup,
so another user's object stays a 404 and never reaches the cache), and

* the ``ETag`` is a hash of (endpoint, user, versions, path with query, host, language):
  a client that sends it back as ``If-None-Match`` gets ``304`` without the body being
  computed, serialized or even fetched;
* otherwise the rendered JSON is taken from Django's cache (Redis in production) under the
  same hash, or computed once and stored there.

A write changes a version in its own transaction, so the next read after the commit has a
new key: a stale entry is never served, it is only left to expire (``READ_CACHE_SECONDS``).
The user is part of every key, and no key is built before the view's permission check.

``API_READ_CACHE = False`` (``API_READ_CACHE=0``) turns both off: every read is computed
and answered 200 without ``ETag``, as before (the load benchmark's baseline).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

READ_CACHE_SECONDS = 3600
"""How long an entry may stay: a changed version makes it unreachable at once; this only
bounds the memory left behind."""
KEY_PREFIX = "read:v1:"

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The `ETag` of your last read of this URL: 304 with no body while nothing it shows changed.",
)
NOT_MODIFIED = {304: OpenApiResponse(description="Not modified since the read whose `ETag` was sent.")}
CACHED_READ_EXTENSION = {"x-cached-read": True}
"""``extend_schema(extensions=...)``: ``common.schema`` documents ``ETag`` on the 200."""


def read_cache_enabled() -> bool:
    return bool(getattr(settings, "API_READ_CACHE", True))


def read_etag(request: Request, endpoint: str, version: Iterable[Any], *, per_user: bool = True) -> str:
    """The strong tag of what ``endpoint`` answers this user (or anyone: ``per_user=False``)
    for this URL at ``version``."""
    user = getattr(request.user, "pk", None) if per_user else "*"
    parts = [endpoint, user, request.scheme, request.get_host(), request.get_full_path(),
             translation.get_language(), *version]
    canonical = DjangoJSONEncoder(separators=(",", ":")).encode(parts)
    return f'"{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or tag in tags


def cached_read(
    request: Request, *, endpoint: str, version: Callable[[], Iterable[Any]], compute: Callable[[], Any],
    per_user: bool = True,
) -> HttpResponse:
    """Answer a GET whose body is ``compute()`` (JSON-able data) and depends only on ``version()``.

    ``version()`` must name everything the body is a function of besides the user and the
    URL (a write that changes the body must change one of its items), and raise the view's
    404 for an object the user may not see; it is not called when the cache is off. ``per_user=False`` only
    for bodies that are the same for every user (market data). Returns 304 when
    ``If-None-Match`` carries the current tag, else the body from the cache or computed.
    """
    if not read_cache_enabled():
        return Response(compute())
    tag = read_etag(request, endpoint, version(), per_user=per_user)
    if _matches(request.headers.get("If-None-Match"), tag):
        return HttpResponse(status=304, headers={"ETag": tag})
    key = KEY_PREFIX + tag.strip('"')
    body = cache.get(key)
    if body is None:
        body = JSONRenderer().render(compute())
        cache.set(key, body, READ_CACHE_SECONDS)
    return HttpResponse(body, content_type="application/json", headers={"ETag": tag})
