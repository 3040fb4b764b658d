"""Small display filters of the console's templates."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def ops_age(value: dt.timedelta | None) -> str:
    """A duration as the largest sensible unit: "45 s", "12 min", "5 h", "3 d"."""
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
