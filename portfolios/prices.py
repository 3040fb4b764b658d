"""Closing prices as the ledger needs them (read-only helpers over ``marketdata``).

Fills and valuations use the **close** (not the adjusted close): the ledger records
what was paid. ``closes_on`` is strict (a bar on that very date, as the paper broker
requires); ``latest_closes`` takes each symbol's last bar on or before a date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max

from marketdata.models import PriceBar


def closes_on(*, symbols: Iterable[str], on: date) -> dict[str, Decimal]:
    """Close of each symbol with a bar dated exactly ``on`` (others are absent)."""
    rows = PriceBar.objects.filter(asset__symbol__in=list(symbols), date=on).values_list(
        "asset__symbol", "close"
    )
    return {symbol: close for symbol, close in rows}


RECENT_WINDOW = timedelta(days=10)
"""Bars are looked for in the last 10 days first: a MAX over a short index range instead of
a symbol's whole history (a 10-year panel made the two lookups of a statement ~0.3 s)."""


def latest_closes(*, symbols: Iterable[str], as_of: date | None = None) -> dict[str, tuple[Decimal, date]]:
    """(close, date) of each symbol's last bar on or before ``as_of`` (all bars if None)."""
    symbols = list(symbols)
    if not symbols:
        return {}
    if as_of is not None:
        recent = _latest_closes(symbols, as_of, since=as_of - RECENT_WINDOW)
        missing = [s for s in symbols if s not in recent]
        return {**recent, **(_latest_closes(missing, as_of) if missing else {})}
    return _latest_closes(symbols, None)


def _latest_closes(symbols: list[str], as_of: date | None, since: date | None = None) -> dict[str, tuple[Decimal, date]]:
    bars = PriceBar.objects.filter(asset__symbol__in=symbols)
    if as_of is not None:
        bars = bars.filter(date__lte=as_of)
    if since is not None:
        bars = bars.filter(date__gte=since)
    last = bars.values("asset_id").annotate(last=Max("date"))
    wanted = {(row["asset_id"], row["last"]) for row in last}
    if not wanted:
        return {}
    rows = PriceBar.objects.filter(
        asset_id__in={a for a, _ in wanted}, date__in={d for _, d in wanted}
    ).order_by().values_list("asset_id", "asset__symbol", "date", "close")
    return {symbol: (close, d) for asset_id, symbol, d, close in rows if (asset_id, d) in wanted}


def trading_days_between(*, symbols: Iterable[str], after: date, through: date) -> list[date]:
    """Distinct bar dates of ``symbols`` in (after, through], ascending.

    ``order_by()`` clears PriceBar's default ordering (asset, date): ordered by asset,
    ``SELECT DISTINCT`` would include the asset column and return each date once per
    symbol, so a proposal over six symbols looked six trading days old the next day.
    """
    return list(
        PriceBar.objects.filter(asset__symbol__in=list(symbols), date__gt=after, date__lte=through)
        .order_by("date")
        .values_list("date", flat=True)
        .distinct()
    )
