"""Optimistic concurrency for the app's edits: ``ETag`` on reads, ``If-Match`` on writes.

Two phones editing the same targets used to overwrite each other silently. A GET of a
portfolio, its targets or its autonomy settings carries ``ETag`` (a hash of the state a
PUT/PATCH replaces, not of figures that move with prices, such as the portfolio's value);
a PUT/PATCH with ``If-Match`` is applied only if that tag is still current, else 412 and
nothing changes. The check runs under the row lock the write takes, so two writers that
read the same tag cannot both pass. Without ``If-Match`` the write goes through (the
header is optional) unless ``API_REQUIRE_IF_MATCH`` is on, then 428.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from common.errors import PreconditionFailed, PreconditionRequired

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The `ETag` of your last read: the edit applies only if nobody changed it since (else 412). "
    "Optional unless the server requires it (then 428 without it).",
)
ETAG_EXTENSION = {"x-etag": True}
"""``extend_schema(extensions=ETAG_EXTENSION)``: ``common.schema`` documents the header."""


def etag_of(state: Any) -> str:
    """A strong entity tag of ``state`` (JSON-able: serializer data, dicts of primitives)."""
    canonical = json.dumps(state, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return f'"{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"'


def if_match_check(request: Request, current: str) -> None:
    """Raise 412 when ``If-Match`` names another version than ``current`` (428 if required)."""
    header = request.headers.get("If-Match")
    if header is None:
        if getattr(settings, "API_REQUIRE_IF_MATCH", False):
            raise PreconditionRequired(
                "send If-Match with the ETag of your last read", field="If-Match"
            )
        return
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(
        "this was changed since you read it; read it again and redo your edit",
        field="If-Match",
        extra={"current_etag": current},
    )


def with_etag(response: Response, state: Any) -> Response:
    response["ETag"] = etag_of(state)
    return response
