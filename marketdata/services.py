"""Writes of market data: asset upserts, idempotent bar upserts, CSV imports, provider
pulls and the demo market.

Every write of bars goes through :func:`prices_upsert`, which compares with what is
stored (so a re-import or re-pull changes nothing and says so), writes in batches, and
bumps :class:`~marketdata.models.PriceDataRevision` in the same transaction, which
invalidates cached return panels.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from common.errors import NotFound, ValidationFailed
from marketdata.models import (
    Asset,
    AssetClass,
    CorporateAction,
    DataPull,
    PriceBar,
    PriceDataRevision,
)
from marketdata.providers.base import (
    PRICE_COLUMNS,
    TIDY_COLUMNS,
    PriceProvider,
    ProviderError,
    UnknownSymbolsError,
    provider_get,
)
from marketdata.providers.csvfile import ActionRow, CsvRowError, prices_csv_parse
from marketdata.providers.synthetic import SyntheticAsset, SyntheticProvider

logger = logging.getLogger(__name__)

UPSERT_BATCH_SIZE = 2_000
"""Rows per INSERT statement: large enough to amortise round trips, small enough for
SQLite's bound-parameter limit (8 columns × 2,000 < 32,766)."""
PULL_OVERLAP_DAYS = 5
"""A pull re-reads this many days before each asset's last bar, to pick up revisions."""

Progress = Callable[[int, int], None]
"""``progress(done, total)`` — rows written so far out of the total to write."""


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int = 0


@dataclass(frozen=True)
class ImportResult:
    rows: int
    """Bars in the file."""
    inserted: int
    updated: int
    unchanged: int
    assets_created: list[str]
    pull: DataPull


@dataclass(frozen=True)
class DemoMarketResult:
    assets_created: int
    inserted: int
    updated: int
    unchanged: int
    start: dt.date
    end: dt.date


# --- assets -------------------------------------------------------------------------


def asset_upsert(
    *,
    symbol: str,
    name: str = "",
    asset_class: str = AssetClass.EQUITY,
    sector: str = "",
    currency: str = "USD",
    esg_score: float | None = None,
    esg_flags: Sequence[str] = (),
) -> tuple[Asset, bool]:
    """Create the asset or bring its metadata up to date; returns (asset, created)."""
    if asset_class not in AssetClass.values:
        raise ValidationFailed(f"Unknown asset class {asset_class!r}.", field="asset_class")
    fields = {"name": name, "asset_class": asset_class, "sector": sector, "currency": currency,
              "esg_score": esg_score, "esg_flags": list(esg_flags)}
    with transaction.atomic():
        before = Asset.objects.filter(symbol=symbol).values(*fields).first()
        asset, created = Asset.objects.update_or_create(symbol=symbol, defaults=fields)
        if before != fields:
            # what the API shows of an asset (name, currency...) is market data too: the
            # revision keys the API's cached reads (common.read_cache) as well as the panels
            _revision_bump()
    return asset, created


def _synthetic_asset_upsert(asset: SyntheticAsset) -> tuple[Asset, bool]:
    return asset_upsert(
        symbol=asset.symbol,
        name=asset.name,
        asset_class=asset.asset_class,
        sector=asset.sector,
        currency=asset.currency,
        esg_score=asset.esg_score,
        esg_flags=asset.esg_flags,
    )


# --- bars -----------------------------------------------------------------------------


def _frame_check(frame: pd.DataFrame) -> None:
    """Reject a frame that cannot be stored as it is (nothing is repaired)."""
    missing = [c for c in TIDY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationFailed(f"Price frame lacks columns {missing}.", code="invalid_prices", field="frame")
    prices = frame.loc[:, list(PRICE_COLUMNS)].to_numpy(dtype=float)
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise ValidationFailed(
            f"{frame['symbol'].iloc[row]} {pd.Timestamp(frame['date'].iloc[row]).date()}: "
            f"{PRICE_COLUMNS[col]} must be a positive number, got {prices[row, col]!r}.",
            code="invalid_prices",
            field=PRICE_COLUMNS[col],
        )
    if (frame["volume"].to_numpy() < 0).any():
        raise ValidationFailed("Volume must not be negative.", code="invalid_prices", field="volume")
    duplicated = frame.duplicated(subset=["symbol", "date"])
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        raise ValidationFailed(
            f"Duplicate bar for {first['symbol']} on {pd.Timestamp(first['date']).date()}.",
            code="duplicate",
            field="date",
        )


def _revision_bump() -> None:
    if not PriceDataRevision.objects.filter(pk=1).update(revision=F("revision") + 1):
        PriceDataRevision.objects.update_or_create(pk=1, defaults={"revision": 1})


@transaction.atomic
def prices_upsert(*, frame: pd.DataFrame, provider: str, progress: Progress | None = None) -> UpsertResult:
    """Insert new bars and update changed ones from a tidy frame, all or nothing.

    Bars equal (to six decimals) to what is stored are left alone, so upserting the
    same frame twice writes nothing the second time. Raises NotFound for symbols that
    are not assets and ValidationFailed for non-positive or missing prices, negative
    volume or duplicate (symbol, date) rows. ``provider`` names the source in logs.
    """
    _frame_check(frame)
    if frame.empty:
        return UpsertResult(0, 0, 0)
    symbols = sorted(frame["symbol"].unique())
    assets = dict(Asset.objects.filter(symbol__in=symbols).values_list("symbol", "id"))
    unknown = [s for s in symbols if s not in assets]
    if unknown:
        raise NotFound(f"Unknown symbols: {', '.join(unknown)}.", code="unknown_symbol", field="symbols")

    # Rows as exact six-decimal strings: what the database stores, compared as text, and
    # written without a Decimal or a model instance per bar.
    asset_ids = frame["symbol"].map(assets).to_numpy(dtype=np.int64).tolist()
    dates = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d").tolist()
    prices = [np.char.mod("%.6f", frame[c].to_numpy(dtype=float)).tolist() for c in PRICE_COLUMNS]
    volumes = frame["volume"].to_numpy(dtype=np.int64).tolist()
    rows = list(zip(asset_ids, dates, *prices, volumes, strict=True))
    stored = {
        (asset_id, day.isoformat()): (*(f"{value:.6f}" for value in values), volume)
        for asset_id, day, *values, volume in PriceBar.objects.filter(
            asset_id__in=set(assets.values()), date__gte=min(dates), date__lte=max(dates)
        ).values_list("asset_id", "date", *PRICE_COLUMNS, "volume")
    }
    new, changed = [], []
    for row in rows:
        current = stored.get(row[:2])
        if current is None:
            new.append(row)
        elif current != row[2:]:
            changed.append(row)

    total = len(new) + len(changed)
    _bars_write(new + changed, progress=progress)
    if total:
        _revision_bump()
    result = UpsertResult(inserted=len(new), updated=len(changed), unchanged=len(rows) - total)
    logger.info("prices_upsert provider=%s %s", provider, result)
    return result


def _bars_write(rows: list[tuple], *, progress: Progress | None) -> None:
    """Insert or overwrite bars: ``INSERT ... ON CONFLICT (asset_id, date) DO UPDATE``.

    PostgreSQL: the rows are streamed with COPY into a temporary table, then merged in
    one statement (multi-row VALUES through Django's client-side binding was 5x slower).
    SQLite: multi-row VALUES statements. Values are exact six-decimal strings.
    """
    if not rows:
        return
    table = PriceBar._meta.db_table
    columns = ("asset_id", "date", *PRICE_COLUMNS, "volume")
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    if connection.vendor == "postgresql":
        _bars_write_postgresql(rows, table=table, columns=columns, updates=updates, progress=progress)
        return
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    done = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_BATCH_SIZE):
            batch = rows[start : start + UPSERT_BATCH_SIZE]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholder] * len(batch))} "
                f"ON CONFLICT (asset_id, date) DO UPDATE SET {updates}",
                [value for row in batch for value in row],
            )
            done += len(batch)
            if progress:
                progress(done, len(rows))


def _bars_write_postgresql(rows: list[tuple], *, table: str, columns: tuple[str, ...], updates: str, progress) -> None:
    staging = "marketdata_bars_staging"
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (asset_id bigint, date date, open numeric, high numeric, "
            f"low numeric, close numeric, adj_close numeric, volume bigint) ON COMMIT DROP"
        )
        cursor.execute(f"TRUNCATE {staging}")
        done = 0
        with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for start in range(0, len(rows), UPSERT_BATCH_SIZE * 10):
                batch = rows[start : start + UPSERT_BATCH_SIZE * 10]
                # symbols never reach this text: only ints, ISO dates and formatted numbers
                copy.write("".join("\t".join(map(str, row)) + "\n" for row in batch))
                done += len(batch)
                if progress:
                    progress(done, len(rows))
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "
            f"ON CONFLICT (asset_id, date) DO UPDATE SET {updates}"
        )
        cursor.execute(f"TRUNCATE {staging}")


# --- CSV import -------------------------------------------------------------------------


@transaction.atomic
def prices_import_csv(*, path: str | os.PathLike[str], fmt: str = "wide", progress: Progress | None = None) -> ImportResult:
    """Import a whole price file (see :mod:`marketdata.providers.csvfile`), all or nothing.

    The file is parsed and validated completely before anything is written; a bad cell
    raises ValidationFailed (code ``invalid_csv``, ``field`` = the column, ``extra``
    line and column) and the database is unchanged. Symbols that are not assets yet are
    created as active USD equities named after their symbol (operators correct class,
    sector and name in the admin). A DataPull records the import.
    """
    if fmt not in ("wide", "long"):
        raise ValidationFailed("format must be 'wide' or 'long'.", field="format")
    try:
        frame = prices_csv_parse(path, fmt=fmt)  # type: ignore[arg-type]
    except CsvRowError as exc:
        raise ValidationFailed(
            f"{os.fspath(path)}: {exc}", code="invalid_csv", field=exc.column or None, extra={"line": exc.line, "column": exc.column}
        ) from exc
    except OSError as exc:
        raise ValidationFailed(f"Cannot read {os.fspath(path)}: {exc.strerror}.", code="unreadable", field="path") from exc
    symbols = sorted(frame["symbol"].unique())
    existing = set(Asset.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    created = [s for s in symbols if s not in existing]
    # A wide file holds adjusted closes only: splits and dividends are already in them, so
    # the ledger must not apply them again (see Asset.price_basis).
    basis = "adjusted" if fmt == "wide" else "raw"
    Asset.objects.bulk_create([Asset(symbol=s, name=s, asset_class=AssetClass.EQUITY, price_basis=basis) for s in created])
    Asset.objects.filter(symbol__in=existing).exclude(price_basis=basis).update(price_basis=basis)
    result = prices_upsert(frame=frame, provider="csv", progress=progress)
    now = timezone.now()
    pull = DataPull.objects.create(
        provider=f"csv:{os.path.basename(os.fspath(path))}",
        symbols=symbols,
        start=frame["date"].min().date() if len(frame) else None,
        end=frame["date"].max().date() if len(frame) else None,
        finished_at=now,
        status=DataPull.Status.SUCCEEDED,
        rows_inserted=result.inserted,
        rows_updated=result.updated,
    )
    return ImportResult(
        rows=len(frame),
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        assets_created=created,
        pull=pull,
    )


# --- provider pulls ---------------------------------------------------------------------


def _provider_build(name: str | None) -> PriceProvider:
    name = name or getattr(settings, "MARKETDATA_PROVIDER", "synthetic")
    options: dict[str, Any] = dict(getattr(settings, "MARKETDATA_PROVIDER_OPTIONS", {}).get(name, {}))
    try:
        return provider_get(name, **options)
    except KeyError as exc:
        raise ValidationFailed(str(exc.args[0]), code="unknown_provider", field="provider") from exc


def _pull_window(ids: list[int], start: dt.date | None, end: dt.date) -> dt.date:
    """Default start: a few days before the earliest 'last bar' of the assets, or a
    history of MARKETDATA_PULL_HISTORY_DAYS for assets without bars."""
    if start is not None:
        return start
    history = dt.timedelta(days=getattr(settings, "MARKETDATA_PULL_HISTORY_DAYS", 365 * 10))
    last = dict(PriceBar.objects.filter(asset_id__in=ids).values("asset_id").annotate(last=Max("date")).values_list("asset_id", "last"))
    starts = [last[i] - dt.timedelta(days=PULL_OVERLAP_DAYS) if i in last else end - history for i in ids]
    return min(starts) if starts else end


def prices_pull(
    *,
    provider: str | None = None,
    symbols: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    provider_instance: PriceProvider | None = None,
) -> DataPull:
    """Pull bars from a provider for ``symbols`` (default: active assets) and upsert them.

    ``provider`` defaults to settings MARKETDATA_PROVIDER ("synthetic"); ``end`` to today
    (UTC); ``start`` to just before each asset's last bar. The DataPull is committed
    first and always finished: ``succeeded``; ``partial`` when the provider did not know
    some symbols (named in ``errors``; the others are stored); ``failed`` when the
    provider or the data failed (nothing stored, the reason in ``errors``).
    """
    source = provider_instance or _provider_build(provider)
    if symbols is None:
        assets = list(Asset.objects.filter(is_active=True).order_by("symbol"))
    else:
        found = {a.symbol: a for a in Asset.objects.filter(symbol__in=list(symbols))}
        unknown = [s for s in symbols if s not in found]
        if unknown:
            raise NotFound(f"Unknown symbols: {', '.join(unknown)}.", code="unknown_symbol", field="symbols")
        assets = [found[s] for s in symbols]
    end = end or timezone.now().date()
    start = _pull_window([a.pk for a in assets], start, end)
    if end < start:
        raise ValidationFailed("end is before start.", code="inverted_range", field="end")
    wanted = [a.symbol for a in assets]
    pull = DataPull.objects.create(provider=source.name, symbols=wanted, start=start, end=end)
    errors: list[str] = []
    try:
        try:
            frame = source.fetch(wanted, start, end)
        except UnknownSymbolsError as exc:
            errors.append(f"provider does not know: {', '.join(exc.symbols)}")
            known = [s for s in wanted if s not in set(exc.symbols)]
            frame = source.fetch(known, start, end) if known else None
        result = prices_upsert(frame=frame, provider=source.name) if frame is not None else UpsertResult(0, 0)
        if frame is not None and len(frame) and getattr(source, "price_basis", "raw") == "raw":
            Asset.objects.filter(symbol__in=set(frame["symbol"])).exclude(price_basis="raw").update(price_basis="raw")
        corporate_actions_record(actions=getattr(source, "actions", None))
    except (ProviderError, ValidationFailed, NotFound) as exc:
        logger.warning("prices_pull %s failed: %s", source.name, exc)
        pull.status = DataPull.Status.FAILED
        pull.errors = [*errors, getattr(exc, "message", str(exc))]
    else:
        pull.status = DataPull.Status.PARTIAL if errors else DataPull.Status.SUCCEEDED
        pull.errors = errors
        pull.rows_inserted, pull.rows_updated = result.inserted, result.updated
    pull.finished_at = timezone.now()
    pull.save(update_fields=["status", "errors", "rows_inserted", "rows_updated", "finished_at"])
    return pull


def corporate_actions_record(*, actions: pd.DataFrame | None) -> int:
    """Record the corporate actions a provider reported (columns date, symbol, kind,
    ratio, and for splits optionally numerator, denominator); existing ones are kept.
    Returns how many were new. Recorded actions explain large moves on their dates in the
    data-health checks, and the portfolios app applies splits and dividends to holders."""
    if actions is None or actions.empty:
        return 0
    assets = dict(Asset.objects.filter(symbol__in=set(actions["symbol"])).values_list("symbol", "id"))
    created = 0
    columns = set(actions.columns)
    for row in actions.itertuples(index=False):
        if row.symbol not in assets:
            continue
        defaults = {"ratio": Decimal(f"{row.ratio:.8f}"), "note": "reported by the price provider"}
        if row.kind == CorporateAction.Kind.SPLIT:
            if {"numerator", "denominator"} <= columns and row.numerator and row.denominator:
                defaults["numerator"] = Decimal(f"{row.numerator:.8f}")
                defaults["denominator"] = Decimal(f"{row.denominator:.8f}")
            else:
                defaults["numerator"], defaults["denominator"] = defaults["ratio"], Decimal(1)
        _, was_created = CorporateAction.objects.get_or_create(
            asset_id=assets[row.symbol],
            date=pd.Timestamp(row.date).date(),
            kind=row.kind,
            defaults=defaults,
        )
        created += was_created
    return created


@dataclass(frozen=True)
class ActionsUpsertResult:
    created: int
    updated: int
    unchanged: int
    actions: list[CorporateAction]
    """The recorded action of every row, in row order."""


def _action_fields(row: ActionRow) -> dict[str, Any]:
    if row.kind == CorporateAction.Kind.SPLIT:
        return {"ratio": (row.numerator / row.denominator).quantize(Decimal("0.00000001")),
                "numerator": row.numerator, "denominator": row.denominator, "pay_date": None, "qualified": None}
    return {"ratio": row.amount, "numerator": None, "denominator": None, "pay_date": row.pay_date,
            "qualified": row.qualified}


@transaction.atomic
def corporate_actions_upsert(*, rows: Sequence[ActionRow], source: str) -> ActionsUpsertResult:
    """Record parsed action rows (:func:`~marketdata.providers.csvfile.actions_csv_parse`),
    all or nothing: unknown symbols raise NotFound naming the first row's line; an action
    already recorded with the same terms is unchanged, with other terms updated."""
    symbols = sorted({r.symbol for r in rows})
    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    for row in rows:
        if row.symbol not in assets:
            raise NotFound(
                f"line {row.line}, column 'symbol': unknown symbol {row.symbol!r}; import its prices first.",
                code="unknown_symbol", field="symbol", extra={"line": row.line, "column": "symbol"},
            )
    existing = {
        (a.asset_id, a.date, a.kind): a
        for a in CorporateAction.objects.filter(asset__in=assets.values(), kind__in=["split", "dividend"])
    }
    created = updated = unchanged = 0
    out = []
    for row in rows:
        asset = assets[row.symbol]
        fields = {**_action_fields(row), "note": row.note or f"imported from {source}"}
        action = existing.get((asset.pk, row.date, row.kind))
        if action is None:
            action = CorporateAction.objects.create(asset=asset, date=row.date, kind=row.kind, **fields)
            created += 1
        elif any(getattr(action, k) != v for k, v in fields.items() if k != "note"):
            for k, v in fields.items():
                setattr(action, k, v)
            action.save()
            updated += 1
        else:
            unchanged += 1
        out.append(action)
    return ActionsUpsertResult(created, updated, unchanged, out)


# --- demo ---------------------------------------------------------------------------------


def _last_business_day_before(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


@transaction.atomic
def demo_market_load(
    *,
    seed: int = 7,
    years: int = 12,
    end: dt.date | None = None,
    progress: Progress | None = None,
) -> DemoMarketResult:
    """Load the synthetic market (DEFAULT_UNIVERSE, 26 assets in every class) for the
    ``years`` up to ``end`` (default: the last business day before today). Idempotent:
    the path depends only on the seed (simulated from a fixed epoch), so running it again
    writes only days that were not there."""
    if years < 1:
        raise ValidationFailed("years must be at least 1.", field="years")
    end = end or _last_business_day_before(timezone.now().date())
    start = max(dt.date(end.year - years, end.month, min(end.day, 28)), SyntheticProvider.EPOCH)
    provider = SyntheticProvider(seed=seed)
    created = sum(_synthetic_asset_upsert(asset)[1] for asset in provider.assets)
    frame = provider.fetch([a.symbol for a in provider.assets], start, end)
    result = prices_upsert(frame=frame, provider=provider.name, progress=progress)
    DataPull.objects.create(
        provider=f"synthetic:seed={seed}",
        symbols=[a.symbol for a in provider.assets],
        start=start,
        end=end,
        finished_at=timezone.now(),
        status=DataPull.Status.SUCCEEDED,
        rows_inserted=result.inserted,
        rows_updated=result.updated,
    )
    return DemoMarketResult(
        assets_created=created,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        start=start,
        end=end,
    )
