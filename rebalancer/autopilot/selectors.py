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
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import OuterRef, Q, Subquery

from marketdata.models import Asset
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    Portfolio,
    PortfolioLimits,
    PortfolioSnapshot,
    Position,
    TargetAllocation,
    TaxLot,
    Trade,
)
from portfolios.selectors import policy_limits_for
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.autopilot.types import (
    AssetStatus,
    AutonomyConfig,
    HoldingsState,
    Lot,
    MarketView,
    PolicyState,
    TaxConfig,
    TradeConfig,
    policy_state_from_dict,
)

LOOKBACK_DAYS = 252
WASH_SALE_DAYS = 30
HISTORY_DAYS = 400  # calendar days of snapshots for the drawdown trigger

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


def strategy_options_of(autonomy: AutonomySettings) -> dict:
    """The autonomy settings a strategy reads from ``ctx.options`` (the hybrid's agent and blend)."""
    options: dict = {"hybrid_alpha": float(autonomy.hybrid_alpha)}
    if autonomy.hybrid_agent:
        options["hybrid_agent"] = autonomy.hybrid_agent
    return options


def config_from(
    autonomy: AutonomySettings,
    *,
    targets: dict[str, float],
    assets: dict[str, Asset],
    overrides: PortfolioLimits | None = None,
    force: bool = False,
) -> AutonomyConfig:
    limits = policy_limits_for(autonomy=autonomy, overrides=overrides, assets=list(assets.values()))
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
        strategy_options=strategy_options_of(autonomy),
    )


def policy_states_get(*, portfolio_ids: Sequence[int], before: dt.date) -> dict[int, tuple[PolicyState | None, dt.date | None]]:
    """Each portfolio's policy state from its latest finished cycle run before ``before`` (one query)."""
    latest = CycleRun.objects.filter(portfolio=OuterRef("portfolio"), as_of__lt=before, status=CycleRun.Status.DONE)
    rows = CycleRun.objects.filter(
        portfolio_id__in=list(portfolio_ids),
        pk=Subquery(latest.order_by("-as_of").values("pk")[:1]),
    ).values_list("portfolio_id", "as_of", "policy_state")
    return {pid: (policy_state_from_dict(state), day) for pid, day, state in rows}


@dataclass(frozen=True)
class _LedgerRows:
    """The ledger rows of a chunk of portfolios, grouped by portfolio id."""

    targets: dict[int, list[TargetAllocation]]
    quantities: dict[int, dict[str, float]]
    lots: dict[int, list[Lot]]
    buys: dict[int, list]
    loss_sales: dict[int, list]
    harvests: dict[int, list]
    overrides: dict[int, PortfolioLimits]
    policies: dict[int, tuple[PolicyState | None, dt.date | None]]
    flows: dict[int, list]
    history: dict[int, list]
    tax_positions: dict[int, tuple[float, float]]


def _targets_load(ids: list[int], symbol_of: dict[int, str]) -> dict[int, list[TargetAllocation]]:
    targets: dict[int, list[TargetAllocation]] = defaultdict(list)
    for row in TargetAllocation.objects.filter(portfolio_id__in=ids).select_related("asset"):
        targets[row.portfolio_id].append(row)
        if row.asset_id is not None:
            symbol_of[row.asset_id] = row.asset.symbol
    return targets


def _quantities_load(ids: list[int], symbol_of: dict[int, str]) -> dict[int, dict[str, float]]:
    quantities: dict[int, dict[str, float]] = defaultdict(dict)
    positions = Position.objects.filter(portfolio_id__in=ids, quantity__gt=0).values_list(
        "portfolio_id", "asset_id", "asset__symbol", "quantity"
    )
    for pid, asset_id, symbol, qty in positions:
        quantities[pid][symbol] = float(qty)
        symbol_of.setdefault(asset_id, symbol)
    return quantities


def _lots_load(ids: list[int]) -> dict[int, list[Lot]]:
    lots: dict[int, list[Lot]] = defaultdict(list)
    for pid, lot_id, symbol, qty, cost_open, acquired in TaxLot.objects.filter(
        portfolio_id__in=ids, quantity_open__gt=0
    ).values_list("portfolio_id", "id", "asset__symbol", "quantity_open", "cost_basis_open", "acquired_on"):
        lots[pid].append(
            Lot(symbol=symbol, quantity=float(qty), cost_per_share=float(cost_open / qty),
                acquired_on=acquired, lot_id=lot_id)
        )
    return lots


def _recent_trades_load(ids: list[int], as_of: dt.date) -> tuple[dict[int, list], dict[int, list], dict[int, list]]:
    """(buys, sales at a loss, tax-loss harvests) as (symbol, date) of the wash-sale window."""
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
    return buys, loss_sales, harvests


def _flows_load(
    ids: list[int], policies: dict[int, tuple[PolicyState | None, dt.date | None]], as_of: dt.date
) -> dict[int, list]:
    """External cash flows (date, amount) since the earliest previous cycle of the chunk."""
    earliest = min((day for _, day in policies.values() if day is not None), default=as_of)
    flows: dict[int, list] = defaultdict(list)
    for pid, at, amount in CashMovement.objects.filter(
        portfolio_id__in=ids, kind__in=list(CashMovement.EXTERNAL), at__date__gt=earliest, at__date__lte=as_of
    ).values_list("portfolio_id", "at", "amount"):
        flows[pid].append((at.date(), float(amount)))
    return flows


def _history_load(ids: list[int], as_of: dt.date) -> dict[int, list]:
    history: dict[int, list] = defaultdict(list)
    for pid, day, value in PortfolioSnapshot.objects.filter(
        portfolio_id__in=ids, date__gte=as_of - dt.timedelta(days=HISTORY_DAYS), date__lte=as_of
    ).order_by("date").values_list("portfolio_id", "date", "value"):
        history[pid].append((day, float(value)))
    return history


def _ledger_rows_load(
    ids: list[int], portfolios: dict[int, Portfolio], as_of: dt.date, symbol_of: dict[int, str]
) -> _LedgerRows:
    """One query per kind of row (and one for tax when some portfolio harvests losses)."""
    targets = _targets_load(ids, symbol_of)
    quantities = _quantities_load(ids, symbol_of)
    lots = _lots_load(ids)
    buys, loss_sales, harvests = _recent_trades_load(ids, as_of)
    overrides = {row.portfolio_id: row for row in PortfolioLimits.objects.filter(portfolio_id__in=ids)}
    policies = policy_states_get(portfolio_ids=ids, before=as_of)
    flows = _flows_load(ids, policies, as_of)
    history = _history_load(ids, as_of)
    taxed = [pid for pid in ids if portfolios[pid].autonomy.tax_optimization]
    return _LedgerRows(
        targets=targets, quantities=quantities, lots=lots, buys=buys, loss_sales=loss_sales, harvests=harvests,
        overrides=overrides, policies=policies, flows=flows, history=history,
        tax_positions=_tax_positions(taxed, as_of) if taxed else {},
    )


def _holdings_state(portfolio: Portfolio, rows: _LedgerRows, as_of: dt.date) -> HoldingsState:
    pid = portfolio.pk
    history = rows.history[pid]
    series = pd.Series([v for _, v in history], index=[d for d, _ in history]) if history else None
    policy, last_day = rows.policies.get(pid, (None, None))
    return HoldingsState(
        as_of=as_of,
        cash=float(portfolio.cash),
        quantities=rows.quantities[pid],
        lots=tuple(rows.lots[pid]),
        portfolio_id=pid,
        recent_buys=tuple(rows.buys[pid]),
        recent_loss_sales=tuple(rows.loss_sales[pid]),
        recent_harvests=tuple(rows.harvests[pid]),
        value_history=series,
        policy=policy,
        net_flows=sum(amount for day, amount in rows.flows[pid] if last_day is None or day > last_day),
        realized_this_year=rows.tax_positions.get(pid, (0.0, 0.0))[0],
        loss_carryover=rows.tax_positions.get(pid, (0.0, 0.0))[1],
    )


def cycle_inputs_load(
    *,
    portfolio_ids: Sequence[int],
    as_of: dt.date,
    assets: dict[str, Asset] | None = None,
    force: bool = False,
) -> dict[int, PortfolioInputs]:
    """Inputs of every portfolio in ``portfolio_ids`` that has autonomy settings.

    Ten queries whatever the number of portfolios (assets are passed in by a cycle), and
    one more for the year's realized gains when some of them harvest tax losses.
    """
    assets = assets if assets is not None else active_assets_get()
    symbol_of = {a.pk: s for s, a in assets.items()}
    portfolios = {
        p.pk: p
        for p in Portfolio.objects.filter(pk__in=list(portfolio_ids)).select_related("autonomy")
    }
    ids = [pk for pk, p in portfolios.items() if hasattr(p, "autonomy")]
    rows = _ledger_rows_load(ids, portfolios, as_of, symbol_of)
    out: dict[int, PortfolioInputs] = {}
    for pid in ids:
        portfolio = portfolios[pid]
        autonomy = portfolio.autonomy
        target_weights = targets_expand(rows.targets[pid], assets, symbol_of)
        out[pid] = PortfolioInputs(
            portfolio=portfolio,
            autonomy=autonomy,
            state=_holdings_state(portfolio, rows, as_of),
            config=config_from(autonomy, targets=target_weights, assets=assets, overrides=rows.overrides.get(pid),
                               force=force),
            ledger_version=portfolio.ledger_version,
        )
    return out


def _tax_positions(portfolio_ids: list[int], as_of: dt.date) -> dict[int, tuple[float, float]]:
    from portfolios.selectors import tax_positions_get

    return tax_positions_get(portfolio_ids=portfolio_ids, as_of=as_of)


@dataclass(frozen=True)
class _NoBar:
    status: str
    reasons: list


def market_view_get(
    *, symbols: Sequence[str], as_of: dt.date, assets: dict[str, Asset], lookback: int = LOOKBACK_DAYS
) -> MarketView:
    """Returns over ~``lookback`` trading days, closes on ``as_of`` and data health.

    Symbols unknown to market data are left out (the core then reports them missing).
    """
    from marketdata.selectors import asset_health_get, return_panel_get
    from portfolios.prices import closes_on, latest_closes

    known = sorted(s for s in set(symbols) if s in assets)
    start = as_of - dt.timedelta(days=int(lookback * 7 / 5) + 30)
    if known:
        returns = return_panel_get(symbols=known, start=start, end=as_of, how="outer")
        health = asset_health_get(symbols=known, as_of=as_of)
        closes = closes_on(symbols=known, on=as_of)
        missing = [s for s in known if s not in closes]
        if missing:
            # Valued at their last close, held and not traded today (the core freezes them).
            for symbol, (close, day) in latest_closes(symbols=missing, as_of=as_of).items():
                closes[symbol] = close
                if health.get(symbol) is None or health[symbol].status == "ok":
                    health[symbol] = _NoBar(status="missing", reasons=[
                        f"no close on {as_of.isoformat()}; valued at the last close, of {day.isoformat()}"
                    ])
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
