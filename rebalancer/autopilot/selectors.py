"""Reads of the autopilot: the cycle's inputs, loaded in bulk.

:func:`cycle_inputs_load` turns the ledger rows of a chunk of portfolios into the pure
core's :class:`~rebalancer.autopilot.types.HoldingsState` and
:class:`~rebalancer.autopilot.types.AutonomyConfig` with a constant number of queries
(portfolios with settings, targets, positions, lots, recent trades, snapshots),
whatever the chunk size. :func:`market_view_get` loads one
:class:`~rebalancer.autopilot.types.MarketView` for every symbol of a cycle (return
panel, closes, data health: a handful of queries per cycle).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import Q

from marketdata.models import Asset
from portfolios.models import (
    AutonomySettings,
    Portfolio,
    PortfolioSnapshot,
    Position,
    TargetAllocation,
    TaxLot,
    Trade,
)
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.autopilot.types import (
    AssetStatus,
    AutonomyConfig,
    HoldingsState,
    Lot,
    MarketView,
    RiskLimits,
    TaxConfig,
    TradeConfig,
)

LOOKBACK_DAYS = 252
WASH_SALE_DAYS = 30
HISTORY_DAYS = 400  # calendar days of snapshots for the drawdown trigger

# Tighter risk limits for more cautious investors (one-day VaR 95 %, drawdown, position).
TIER_LIMITS = {
    "conservative": {"max_var_95": 0.015, "max_drawdown": 0.15, "max_position": 0.25},
    "moderate": {"max_var_95": 0.02, "max_drawdown": 0.20, "max_position": 0.30},
    "balanced": {"max_var_95": 0.03, "max_drawdown": 0.25, "max_position": 0.35},
    "growth": {"max_var_95": 0.04, "max_drawdown": 0.30, "max_position": 0.40},
    "aggressive": {"max_var_95": 0.05, "max_drawdown": 0.40, "max_position": 0.50},
}
LIMIT_KEYS = ("max_position", "max_asset_class", "max_var_95", "max_drawdown", "max_turnover", "max_holdings")


@dataclass(frozen=True)
class PortfolioInputs:
    """One portfolio's inputs to the pure core, plus what the shell needs to persist."""

    portfolio: Portfolio
    autonomy: AutonomySettings
    state: HoldingsState
    config: AutonomyConfig
    ledger_version: int


def kill_switch_mode_get() -> str:
    row = KillSwitch.objects.filter(pk=1).values_list("mode", flat=True).first()
    return row or KillSwitch.Mode.OFF


def active_assets_get() -> dict[str, Asset]:
    return {a.symbol: a for a in Asset.objects.filter(is_active=True)}


def esg_excluded(esg: dict, assets: Iterable[Asset]) -> tuple[str, ...]:
    """Symbols failing the portfolio's ESG constraints (flags to exclude, minimum score)."""
    flags = set((esg or {}).get("excluded_flags") or ())
    min_score = (esg or {}).get("min_score")
    out = []
    for asset in assets:
        asset_flags = set(asset.esg_flags or ())
        low_score = (
            min_score is not None and asset.esg_score is not None and asset.esg_score < float(min_score)
        )
        if flags & asset_flags or low_score:
            out.append(asset.symbol)
    return tuple(sorted(out))


def limits_from(autonomy: AutonomySettings) -> RiskLimits:
    values: dict = dict(TIER_LIMITS.get(autonomy.risk_tolerance, TIER_LIMITS["balanced"]))
    for key in LIMIT_KEYS:
        for source in (autonomy.constraints or {}, autonomy.limits or {}):
            if key in source and (source[key] is None or isinstance(source[key], int | float)):
                values[key] = source[key]
    holdings = values.get("max_holdings")
    if holdings is not None and (isinstance(holdings, bool) or int(holdings) != holdings or holdings < 1):
        values["max_holdings"] = None  # not a count the API would accept: ignored, as unknown keys are
    elif holdings is not None:
        values["max_holdings"] = int(holdings)
    return RiskLimits(**values, asset_class_bounds=asset_class_bounds_from(autonomy.constraints or {}))


def asset_class_bounds_from(constraints: dict) -> tuple[tuple[str, float, float], ...]:
    """``constraints["asset_class_bounds"]`` (``{"equity": [0, 0.8]}``) as sorted triples.

    An entry that is not two numbers with ``0 <= lowest <= highest <= 1`` is ignored, as
    unknown keys are (the settings' JSON can be edited in the admin).
    """
    raw = constraints.get("asset_class_bounds")
    if not isinstance(raw, dict):
        return ()
    out = []
    for asset_class, pair in sorted(raw.items()):
        if (
            isinstance(pair, list | tuple) and len(pair) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
            and 0 <= pair[0] <= pair[1] <= 1
        ):
            out.append((str(asset_class), float(pair[0]), float(pair[1])))
    return tuple(out)


def targets_expand(
    rows: Sequence[TargetAllocation], assets: dict[str, Asset], symbol_of: dict[int, str]
) -> dict[str, float]:
    """Asset targets as they are; an asset-class target split equally over its active assets."""
    weights: dict[str, float] = defaultdict(float)
    for row in rows:
        if row.asset_id is not None:
            weights[symbol_of[row.asset_id]] += float(row.weight)
        else:
            members = sorted(s for s, a in assets.items() if a.asset_class == row.asset_class)
            for symbol in members:
                weights[symbol] += float(row.weight) / len(members)
    return dict(weights)


def config_from(
    autonomy: AutonomySettings,
    *,
    targets: dict[str, float],
    assets: dict[str, Asset],
    force: bool = False,
) -> AutonomyConfig:
    excluded = esg_excluded(autonomy.esg_constraints, assets.values())
    limits = limits_from(autonomy)
    limits = RiskLimits(
        **{k: getattr(limits, k) for k in LIMIT_KEYS},
        excluded_symbols=tuple(sorted(set(limits.excluded_symbols) | set(excluded))),
        asset_class_bounds=limits.asset_class_bounds,
    )
    universe = tuple(sorted(targets)) if targets else tuple(sorted(assets))
    return AutonomyConfig(
        mode=autonomy.mode,
        strategy=autonomy.strategy,
        risk_tier=autonomy.risk_tolerance,
        universe=universe,
        rebalance_threshold=float(autonomy.rebalance_threshold),
        calendar=autonomy.calendar,
        target_weights=targets,
        limits=limits,
        trade=TradeConfig(
            min_trade_value=float(autonomy.min_trade_value),
            fractional=autonomy.fractional_shares,
            commission_rate=float(autonomy.commission_rate),
            commission_min=float(autonomy.commission_min),
            slippage_bps=float(autonomy.slippage_bps),
            cash_buffer=float(autonomy.cash_buffer),
        ),
        tax=TaxConfig(
            enabled=autonomy.tax_optimization,
            loss_threshold=float(autonomy.tax_loss_threshold),
            wash_sale_days=WASH_SALE_DAYS,
        ),
        lookback_days=LOOKBACK_DAYS,
        force=force,
    )


def cycle_inputs_load(
    *,
    portfolio_ids: Sequence[int],
    as_of: dt.date,
    assets: dict[str, Asset] | None = None,
    force: bool = False,
) -> dict[int, PortfolioInputs]:
    """Inputs of every portfolio in ``portfolio_ids`` that has autonomy settings.

    Seven queries whatever the number of portfolios (assets are passed in by a cycle), and
    one more for the year's realized gains when some of them harvest tax losses.
    """
    assets = assets if assets is not None else active_assets_get()
    symbol_of = {a.pk: s for s, a in assets.items()}
    portfolios = {
        p.pk: p
        for p in Portfolio.objects.filter(pk__in=list(portfolio_ids)).select_related("autonomy")
    }
    ids = [pk for pk, p in portfolios.items() if hasattr(p, "autonomy")]
    targets: dict[int, list[TargetAllocation]] = defaultdict(list)
    for row in TargetAllocation.objects.filter(portfolio_id__in=ids).select_related("asset"):
        targets[row.portfolio_id].append(row)
        if row.asset_id is not None:
            symbol_of[row.asset_id] = row.asset.symbol
    quantities: dict[int, dict[str, float]] = defaultdict(dict)
    positions = Position.objects.filter(portfolio_id__in=ids, quantity__gt=0).values_list(
        "portfolio_id", "asset_id", "asset__symbol", "quantity"
    )
    for pid, asset_id, symbol, qty in positions:
        quantities[pid][symbol] = float(qty)
        symbol_of.setdefault(asset_id, symbol)
    lots: dict[int, list[Lot]] = defaultdict(list)
    for pid, lot_id, symbol, qty, cost_open, acquired in TaxLot.objects.filter(
        portfolio_id__in=ids, quantity_open__gt=0
    ).values_list("portfolio_id", "id", "asset__symbol", "quantity_open", "cost_basis_open", "acquired_on"):
        lots[pid].append(
            Lot(symbol=symbol, quantity=float(qty), cost_per_share=float(cost_open / qty),
                acquired_on=acquired, lot_id=lot_id)
        )
    since = as_of - dt.timedelta(days=WASH_SALE_DAYS)
    buys: dict[int, list] = defaultdict(list)
    loss_sales: dict[int, list] = defaultdict(list)
    harvests: dict[int, list] = defaultdict(list)
    for pid, symbol, side, day, tags in Trade.objects.filter(
        portfolio_id__in=ids, trade_date__gte=since, trade_date__lte=as_of
    ).filter(Q(side=Trade.Side.BUY) | Q(realized_gain__lt=0)).values_list(
        "portfolio_id", "asset__symbol", "side", "trade_date", "tags"
    ):
        (buys if side == Trade.Side.BUY else loss_sales)[pid].append((symbol, day))
        if side == Trade.Side.SELL and "tax_loss_harvest" in (tags or ()):
            harvests[pid].append((symbol, day))
    history: dict[int, list] = defaultdict(list)
    for pid, day, value in PortfolioSnapshot.objects.filter(
        portfolio_id__in=ids, date__gte=as_of - dt.timedelta(days=HISTORY_DAYS), date__lte=as_of
    ).order_by("date").values_list("portfolio_id", "date", "value"):
        history[pid].append((day, float(value)))

    taxed = [pid for pid in ids if portfolios[pid].autonomy.tax_optimization]
    tax_positions = _tax_positions(taxed, as_of) if taxed else {}
    out: dict[int, PortfolioInputs] = {}
    for pid in ids:
        portfolio = portfolios[pid]
        autonomy = portfolio.autonomy
        target_weights = targets_expand(targets[pid], assets, symbol_of)
        series = (
            pd.Series([v for _, v in history[pid]], index=[d for d, _ in history[pid]])
            if history[pid]
            else None
        )
        state = HoldingsState(
            as_of=as_of,
            cash=float(portfolio.cash),
            quantities=quantities[pid],
            lots=tuple(lots[pid]),
            portfolio_id=pid,
            recent_buys=tuple(buys[pid]),
            recent_loss_sales=tuple(loss_sales[pid]),
            recent_harvests=tuple(harvests[pid]),
            value_history=series,
            realized_this_year=tax_positions.get(pid, (0.0, 0.0))[0],
            loss_carryover=tax_positions.get(pid, (0.0, 0.0))[1],
        )
        out[pid] = PortfolioInputs(
            portfolio=portfolio,
            autonomy=autonomy,
            state=state,
            config=config_from(autonomy, targets=target_weights, assets=assets, force=force),
            ledger_version=portfolio.ledger_version,
        )
    return out


def _tax_positions(portfolio_ids: list[int], as_of: dt.date) -> dict[int, tuple[float, float]]:
    from portfolios.selectors import tax_positions_get

    return tax_positions_get(portfolio_ids=portfolio_ids, as_of=as_of)


def market_view_get(
    *, symbols: Sequence[str], as_of: dt.date, assets: dict[str, Asset], lookback: int = LOOKBACK_DAYS
) -> MarketView:
    """Returns over ~``lookback`` trading days, closes on ``as_of`` and data health.

    Symbols unknown to market data are left out (the core then reports them missing).
    """
    from marketdata.selectors import asset_health_get, return_panel_get
    from portfolios.prices import closes_on

    known = sorted(s for s in set(symbols) if s in assets)
    start = as_of - dt.timedelta(days=int(lookback * 7 / 5) + 30)
    if known:
        returns = return_panel_get(symbols=known, start=start, end=as_of, how="outer")
        health = asset_health_get(symbols=known, as_of=as_of)
        closes = closes_on(symbols=known, on=as_of)
    else:
        returns, health, closes = pd.DataFrame(), {}, {}
    trading_days = tuple(d.date() if hasattr(d, "date") else d for d in returns.index)
    return MarketView(
        as_of=as_of,
        returns=returns,
        prices={s: float(p) for s, p in closes.items() if p is not None and Decimal(p) > 0},
        asset_classes={s: assets[s].asset_class for s in known},
        health={s: AssetStatus(status=h.status, reasons=tuple(h.reasons)) for s, h in health.items()},
        trading_days=trading_days,
    )


def cycle_runs_get(*, as_of: dt.date | None = None, portfolio_ids: Sequence[int] | None = None):
    runs = CycleRun.objects.all()
    if as_of is not None:
        runs = runs.filter(as_of=as_of)
    if portfolio_ids is not None:
        runs = runs.filter(portfolio_id__in=list(portfolio_ids))
    return runs
