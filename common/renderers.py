"""Binary renderers for API views that answer with a file, and the rule that their errors stay JSON.

A chart or statement view lists ``PNGRenderer`` (or its own text renderer) before
``JSONRenderer``; mixing in ``JsonErrors`` renders every 4xx/5xx as the one JSON error
shape whatever the client's ``Accept`` header or ``?format=`` asked for.
"""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response


class PNGRenderer(BaseRenderer):
    """Passes through the PNG bytes a view built; anything else (never a body of ours) renders empty."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return data if isinstance(data, bytes) else b""


class JsonErrors:
    """APIView mixin: error responses are JSON whichever renderer the request negotiated."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
