"""Read-side of the portfolios app: holdings, values, ORM-free states, transactions, performance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from common.errors import NotFound, ValidationFailed
from portfolios.filters import TransactionFilter
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    Decision,
    LotClosing,
    Portfolio,
    PortfolioLimits,
    PortfolioSnapshot,
    Position,
    TargetAllocation,
    TaxLot,
    Trade,
)
from portfolios.performance import PerformanceMetrics, TwrPoint, metrics_from_twr, twr_series
from portfolios.policy import LimitOverrides, PolicyLimits, policy_limits
from portfolios.policy.limits import LimitsError
from portfolios.prices import latest_closes
from portfolios.tax import Lot

ZERO = Decimal(0)
RECENT_DAYS = 30


def portfolio_get(*, owner, portfolio_id: int) -> Portfolio:
    """The owner's portfolio; anyone else's (or a missing one) is a 404."""
    portfolio = (
        Portfolio.objects.filter(pk=portfolio_id, owner=owner).select_related("autonomy", "broker_account").first()
    )
    if portfolio is None:
        raise NotFound(f"portfolio {portfolio_id} does not exist", field="portfolio")
    return portfolio


def portfolio_by_id_get(*, portfolio_id: int) -> Portfolio:
    """Any owner's portfolio by id, for the scheduler and operators (a missing one is a 404)."""
    portfolio = Portfolio.objects.filter(pk=portfolio_id).first()
    if portfolio is None:
        raise NotFound(f"portfolio {portfolio_id} does not exist", field="portfolio")
    return portfolio


def autonomy_get(*, portfolio: Portfolio) -> AutonomySettings:
    """The portfolio's saved autonomy settings, or the defaults unsaved (a read writes nothing).

    Every portfolio made by ``portfolio_create`` has a row; one made otherwise (the admin, an
    import) reads the model's defaults until ``autonomy_update`` first saves them. Their
    ``updated_at`` is then the portfolio's ``created_at``: the defaults hold since then.
    Read afresh (not ``portfolio.autonomy``, which ``portfolio_get`` caches), so a read
    after an edit in the same request sees the edit.
    """
    settings = AutonomySettings.objects.filter(portfolio=portfolio).first()
    if settings is None:
        settings = AutonomySettings(portfolio=portfolio, updated_at=portfolio.created_at)
    return settings


def targets_get(*, portfolio: Portfolio) -> list[TargetAllocation]:
    """The portfolio's target allocation rows (with their assets), in the order they were set."""
    return list(TargetAllocation.objects.filter(portfolio=portfolio).select_related("asset").order_by("id"))


# --- limits: the one selector -------------------------------------------------------------


def esg_excluded(esg: Mapping[str, Any] | None, assets: Sequence[Any]) -> tuple[str, ...]:
    """Symbols failing the portfolio's ESG constraints (flags to exclude, minimum score)."""
    flags = set((esg or {}).get("excluded_flags") or ())
    min_score = (esg or {}).get("min_score")
    out = []
    for asset in assets:
        asset_flags = set(asset.esg_flags or ())
        low_score = min_score is not None and asset.esg_score is not None and asset.esg_score < float(min_score)
        if flags & asset_flags or low_score:
            out.append(asset.symbol)
    return tuple(sorted(out))


def limit_overrides_of(row: PortfolioLimits | None) -> LimitOverrides:
    """The overrides of a ``PortfolioLimits`` row (none for ``None``)."""
    if row is None:
        return LimitOverrides()
    bounds = {
        str(k): (float(v[0]), float(v[1]))
        for k, v in (row.asset_class_bounds or {}).items()
        if isinstance(v, list | tuple) and len(v) == 2
    }
    return LimitOverrides(
        max_position=row.max_position, max_asset_class=row.max_asset_class, max_holdings=row.max_holdings,
        asset_class_bounds=bounds, max_var_95=row.max_var_95, max_drawdown=row.max_drawdown,
        max_turnover=row.max_turnover, volatility_target=row.volatility_target,
        max_avg_correlation=row.max_avg_correlation,
    )


def policy_limits_for(
    *, autonomy: AutonomySettings | None, overrides: PortfolioLimits | None, assets: Sequence[Any] = ()
) -> PolicyLimits:
    """A portfolio's limits from rows already loaded (the bulk path of the cycle).

    An override an operator made inconsistent in the admin is dropped field by field
    (the tier's value stands) rather than stopping the portfolio.
    """
    tier = autonomy.risk_tolerance if autonomy is not None else AutonomySettings.RiskTolerance.BALANCED
    horizon = autonomy.investment_horizon if autonomy is not None else None
    buffer = float(autonomy.cash_buffer) if autonomy is not None else 0.02
    excluded = esg_excluded(autonomy.esg_constraints if autonomy else None, assets)
    o = limit_overrides_of(overrides)
    try:
        return policy_limits(tier=tier, horizon_years=horizon, overrides=o, cash_buffer=buffer,
                             excluded_symbols=excluded)
    except LimitsError:
        return policy_limits(tier=tier, horizon_years=horizon, cash_buffer=buffer, excluded_symbols=excluded)


def policy_limits_get(*, portfolio: Portfolio, assets: Sequence[Any] | None = None) -> PolicyLimits:
    """The one way to read a portfolio's limits: its tier, horizon and overrides resolved."""
    from marketdata.models import Asset

    autonomy = AutonomySettings.objects.filter(portfolio=portfolio).first()
    overrides = PortfolioLimits.objects.filter(portfolio=portfolio).first()
    if assets is None:
        assets = list(Asset.objects.filter(is_active=True)) if autonomy and autonomy.esg_constraints else []
    return policy_limits_for(autonomy=autonomy, overrides=overrides, assets=assets)


def portfolio_list(*, owner) -> QuerySet[Portfolio]:
    return Portfolio.objects.filter(owner=owner).select_related("autonomy", "broker_account").order_by("id")


@dataclass(frozen=True)
class Holding:
    symbol: str
    name: str
    asset_class: str
    quantity: Decimal
    price: Decimal | None
    price_date: date | None
    market_value: Decimal | None
    weight: float | None
    cost_basis: Decimal
    unrealized_pnl: Decimal | None


@dataclass(frozen=True)
class PortfolioState:
    """An ORM-free snapshot of one portfolio at ``as_of`` for the pure decision code.

    ``prices`` holds each held symbol's last close on or before ``as_of`` (absent when
    there is none); ``price_dates`` the date of that close; ``weights`` fractions of
    ``total_value`` (cash is what they leave of 1). ``recent_buys`` and
    ``recent_loss_sales`` cover the 30 days up to ``as_of`` (wash-sale rule).
    """

    portfolio_id: int
    as_of: date
    cash: Decimal
    quantities: dict[str, Decimal]
    prices: dict[str, Decimal]
    price_dates: dict[str, date]
    total_value: Decimal
    weights: dict[str, float]
    asset_classes: dict[str, str]
    ledger_version: int
    lots: tuple[Lot, ...] = ()
    recent_buys: tuple[tuple[str, date], ...] = ()
    recent_loss_sales: tuple[tuple[str, date], ...] = ()
    missing_prices: tuple[str, ...] = field(default=())
    accrued_dividends: Decimal = ZERO
    """Dividends past their ex-date not paid yet (in ``total_value``: the close already dropped)."""


def accrued_dividends_get(*, portfolio_ids: Sequence[int], as_of: date) -> dict[int, Decimal]:
    """Cash dividends each portfolio is owed at ``as_of``: ex-date passed, pay date not yet."""
    from django.db.models import Q

    from portfolios.models import CorporateActionApplication

    out: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rows = CorporateActionApplication.objects.filter(
        portfolio_id__in=list(portfolio_ids), kind="dividend", ex_date__lte=as_of, amount__isnull=False,
        status__in=["accrued", "paid"],
    ).filter(Q(pay_date__gt=as_of)).values_list("portfolio_id", "amount")
    for pid, amount in rows:
        out[pid] += amount
    return dict(out)


def portfolio_states_get(
    *, portfolio_ids: Sequence[int], as_of: date, with_lots: bool = True
) -> dict[int, PortfolioState]:
    """States of many portfolios with a constant number of queries (for cycles and snapshots)."""
    ids = list(portfolio_ids)
    base = {pid: (cash, version) for pid, cash, version in Portfolio.objects.filter(pk__in=ids).values_list("pk", "cash", "ledger_version")}
    holdings, classes = _holdings_by_portfolio(ids)
    closes = latest_closes(symbols=sorted(classes), as_of=as_of)
    accrued = accrued_dividends_get(portfolio_ids=ids, as_of=as_of)
    history = _tax_history_get(ids, as_of) if with_lots else _TaxHistory()
    states = {}
    for pid, (cash, version) in base.items():
        quantities = holdings.get(pid, {})
        prices = {s: closes[s][0] for s in quantities if s in closes}
        missing = tuple(sorted(s for s in quantities if s not in closes))
        owed = accrued.get(pid, ZERO)
        total = cash + owed + sum((q * prices[s] for s, q in quantities.items() if s in prices), ZERO)
        weights = {s: float(q * prices[s] / total) if total > 0 else 0.0 for s, q in quantities.items() if s in prices}
        states[pid] = PortfolioState(
            portfolio_id=pid,
            as_of=as_of,
            cash=cash,
            quantities=dict(quantities),
            prices=prices,
            price_dates={s: closes[s][1] for s in quantities if s in closes},
            total_value=total,
            weights=weights,
            asset_classes={s: classes[s] for s in quantities},
            ledger_version=version,
            lots=tuple(history.lots.get(pid, ())),
            recent_buys=tuple(history.buys.get(pid, ())),
            recent_loss_sales=tuple(history.loss_sales.get(pid, ())),
            missing_prices=missing,
            accrued_dividends=owed,
        )
    return states


def _holdings_by_portfolio(ids: Sequence[int]) -> tuple[dict[int, dict[str, Decimal]], dict[str, str]]:
    """Held quantities per portfolio and symbol, and the asset class of every held symbol."""
    holdings: dict[int, dict[str, Decimal]] = defaultdict(dict)
    classes: dict[str, str] = {}
    rows = Position.objects.filter(portfolio_id__in=ids, quantity__gt=0).values_list(
        "portfolio_id", "asset__symbol", "asset__asset_class", "quantity"
    )
    for pid, symbol, asset_class, qty in rows:
        holdings[pid][symbol] = qty
        classes[symbol] = asset_class
    return holdings, classes


@dataclass(frozen=True)
class _TaxHistory:
    """Per portfolio: open lots, and the buys and loss sales of the last ``RECENT_DAYS`` (wash-sale rule)."""

    lots: Mapping[int, list[Lot]] = field(default_factory=dict)
    buys: Mapping[int, list[tuple[str, date]]] = field(default_factory=dict)
    loss_sales: Mapping[int, list[tuple[str, date]]] = field(default_factory=dict)


def _tax_history_get(ids: Sequence[int], as_of: date) -> _TaxHistory:
    lots: dict[int, list[Lot]] = defaultdict(list)
    buys: dict[int, list[tuple[str, date]]] = defaultdict(list)
    losses: dict[int, list[tuple[str, date]]] = defaultdict(list)
    lot_rows = TaxLot.objects.filter(portfolio_id__in=ids, quantity_open__gt=0).values_list(
        "pk", "portfolio_id", "asset__symbol", "quantity_open", "cost_basis_open", "acquired_on"
    )
    for pk, pid, symbol, qty, basis, acquired in lot_rows:
        lots[pid].append(Lot(pk, symbol, qty, basis / qty, acquired))
    since = as_of - timedelta(days=RECENT_DAYS)
    for pid, symbol, on in Trade.objects.filter(
        portfolio_id__in=ids, side=Trade.Side.BUY, trade_date__gte=since, trade_date__lte=as_of
    ).values_list("portfolio_id", "asset__symbol", "trade_date"):
        buys[pid].append((symbol, on))
    for pid, symbol, on in (
        LotClosing.objects.filter(
            lot__portfolio_id__in=ids, realized_gain__lt=0, closed_on__gte=since, closed_on__lte=as_of
        )
        .values_list("lot__portfolio_id", "lot__asset__symbol", "closed_on")
        .distinct()
    ):
        losses[pid].append((symbol, on))
    return _TaxHistory(lots=lots, buys=buys, loss_sales=losses)


def portfolio_state_get(*, portfolio: Portfolio, as_of: date) -> PortfolioState:
    return portfolio_states_get(portfolio_ids=[portfolio.pk], as_of=as_of)[portfolio.pk]


def holdings_get(*, portfolio: Portfolio, as_of: date | None = None) -> list[Holding]:
    """Each position with its price, market value, weight, cost basis and unrealized P&L."""
    positions = list(
        Position.objects.filter(portfolio=portfolio, quantity__gt=0)
        .select_related("asset")
        .order_by("asset__symbol")
    )
    symbols = [p.asset.symbol for p in positions]
    closes = latest_closes(symbols=symbols, as_of=as_of)
    basis: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for asset_id, open_basis in TaxLot.objects.filter(portfolio=portfolio, quantity_open__gt=0).values_list(
        "asset_id", "cost_basis_open"
    ):
        basis[asset_id] += open_basis
    values = {p.asset.symbol: p.quantity * closes[p.asset.symbol][0] for p in positions if p.asset.symbol in closes}
    total = portfolio.cash + sum(values.values(), ZERO)
    out = []
    for p in positions:
        symbol = p.asset.symbol
        price, on = closes.get(symbol, (None, None))
        value = values.get(symbol)
        out.append(
            Holding(
                symbol=symbol,
                name=p.asset.name,
                asset_class=p.asset.asset_class,
                quantity=p.quantity,
                price=price,
                price_date=on,
                market_value=value.quantize(Decimal("0.0001")) if value is not None else None,
                weight=float(value / total) if value is not None and total > 0 else None,
                cost_basis=basis[p.asset_id],
                unrealized_pnl=(value - basis[p.asset_id]).quantize(Decimal("0.0001")) if value is not None else None,
            )
        )
    return out


@dataclass(frozen=True)
class Transaction:
    """One ledger line: a cash movement or a trade, in one list for the app.

    ``id`` is an integer unique among the portfolio's transactions and stable for ever:
    ``2 * pk`` of a cash movement, ``2 * pk + 1`` of a trade (the two tables number their
    rows independently). ``source`` and ``source_id`` name the record itself.
    """

    id: int
    source: str  # cash_movement|trade
    source_id: int
    kind: str  # deposit|withdrawal|dividend|fee|interest|buy|sell
    at: object
    amount: Decimal
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    commission: Decimal | None = None
    realized_gain: Decimal | None = None
    reason: str = ""
    decision_id: int | None = None


def transaction_id(*, source: str, pk: int) -> int:
    """The app's integer id of a ledger line (see :class:`Transaction`)."""
    return 2 * pk + (1 if source == "trade" else 0)


def transactions_list(*, portfolio: Portfolio, params: Mapping[str, Any] | None = None) -> list[Transaction]:
    """Cash movements and trades, newest first, filtered by :class:`TransactionFilter`.

    ``params`` are query parameters (``kind`` repeatable, ``start``, ``end``, ``symbol``);
    invalid ones raise :class:`~common.errors.ValidationFailed` naming the parameter.
    """
    params = params if params is not None else {}
    movements_filter = TransactionFilter(params, queryset=CashMovement.objects.filter(portfolio=portfolio))
    trades_filter = TransactionFilter(
        params, queryset=Trade.objects.filter(portfolio=portfolio).select_related("asset")
    )
    if not movements_filter.is_valid():
        field, messages = next(iter(movements_filter.errors.items()))
        raise ValidationFailed(" ".join(messages), code="invalid", field=None if field == "__all__" else field)
    movements, trades = movements_filter.qs, trades_filter.qs
    rows = [
        Transaction(
            id=transaction_id(source="cash_movement", pk=m.pk), source="cash_movement", source_id=m.pk,
            kind=m.kind, at=m.at, amount=m.amount, reason=m.note,
        )
        for m in movements
    ] + [
        Transaction(
            id=transaction_id(source="trade", pk=t.pk),
            source="trade",
            source_id=t.pk,
            kind=t.side,
            at=t.executed_at,
            amount=t.cash_flow,
            symbol=t.asset.symbol,
            quantity=t.quantity,
            price=t.price,
            commission=t.commission,
            realized_gain=t.realized_gain,
            reason=t.reason,
            decision_id=t.decision_id,
        )
        for t in trades
    ]
    rows.sort(key=lambda r: (r.at, r.id), reverse=True)
    return rows


@dataclass(frozen=True)
class Performance:
    series: list[TwrPoint]
    metrics: PerformanceMetrics
    realized_gain: Decimal
    net_deposits: Decimal


def _external_flows_by_day(portfolio: Portfolio) -> dict[date, Decimal]:
    flows: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for at, amount in CashMovement.objects.filter(portfolio=portfolio, kind__in=CashMovement.EXTERNAL).values_list(
        "at", "amount"
    ):
        flows[timezone.localdate(at)] += amount
    return flows


def _value_now(portfolio: Portfolio, today: date) -> Decimal:
    state = portfolio_states_get(portfolio_ids=[portfolio.pk], as_of=today, with_lots=False)[portfolio.pk]
    return state.total_value


def _performance_rows(
    portfolio: Portfolio, start: date | None, end: date | None, today: date
) -> list[tuple[date, Decimal, Decimal]]:
    """(date, value, external flow since the point before) from the first deposit to now.

    The daily snapshots are the backbone. Before the first one exists (a new investor's
    first day) the series starts at the first deposit, valued at what was deposited, and a
    point for today values the portfolio at the latest closes, so the chart is never empty
    once money is in. Flows between two points are the deposits minus withdrawals dated
    after the first and up to the second.
    """
    snaps = PortfolioSnapshot.objects.filter(portfolio=portfolio).order_by("date")
    if end:
        snaps = snaps.filter(date__lte=end)
    rows = [tuple(r) for r in snaps.values_list("date", "value", "net_flows")]
    flows = _external_flows_by_day(portfolio)
    deposit_days = sorted(day for day, amount in flows.items() if amount > 0)
    if deposit_days and (not rows or deposit_days[0] < rows[0][0]) and (end is None or deposit_days[0] <= end):
        first = deposit_days[0]
        if rows:  # the first snapshot's flow must cover everything since the deposit day
            day, value, _ = rows[0]
            rows[0] = (day, value, sum((a for d, a in flows.items() if first < d <= day), ZERO))
        rows.insert(0, (first, flows[first], flows[first]))
    if rows and rows[-1][0] <= today and (end is None or end >= today):
        last, value_now = rows[-1][0], _value_now(portfolio, today)
        if last < today:
            rows.append((today, value_now, sum((a for d, a in flows.items() if last < d <= today), ZERO)))
        elif len(rows) == 1 and deposit_days and last == deposit_days[0]:  # day one: the deposit, as invested
            rows[0] = (today, value_now, rows[0][2])
    if start:
        rows = [r for r in rows if r[0] >= start]
    return rows


def performance_get(
    *, portfolio: Portfolio, start: date | None = None, end: date | None = None, today: date | None = None
) -> Performance:
    """TWR series from the first deposit to now (see :func:`_performance_rows`) and its metrics."""
    rows = _performance_rows(portfolio, start, end, today or timezone.localdate())
    series = twr_series(
        dates=[r[0] for r in rows], values=[r[1] for r in rows], flows=[r[2] for r in rows]
    )
    realized = sum(
        LotClosing.objects.filter(lot__portfolio=portfolio).values_list("realized_gain", flat=True), ZERO
    )
    deposits = sum(
        CashMovement.objects.filter(portfolio=portfolio, kind__in=CashMovement.EXTERNAL).values_list("amount", flat=True),
        ZERO,
    )
    return Performance(series, metrics_from_twr(series), realized, deposits)


ExplanationRenderer = Callable[[Decision], str]
"""Writes a decision's record as plain words in the active language (the autopilot, which
writes the records, registers one at app start; until then the stored summary stands)."""
_EXPLANATION_RENDERERS: list[ExplanationRenderer] = []


def explanation_renderer_register(renderer: ExplanationRenderer) -> None:
    """Use ``renderer`` for :func:`decision_explanation_text` (the last registered wins)."""
    _EXPLANATION_RENDERERS[:] = [renderer]


def decision_explanation_text(*, decision: Decision) -> str:
    """The decision in plain words for the investor, in the active language."""
    if _EXPLANATION_RENDERERS:
        return _EXPLANATION_RENDERERS[0](decision)
    return decision.summary


def decisions_list(*, portfolio: Portfolio, statuses: Sequence[str] = ()) -> QuerySet[Decision]:
    qs = Decision.objects.filter(portfolio=portfolio).select_related("portfolio").order_by("-as_of", "-id")
    return qs.filter(status__in=statuses) if statuses else qs


def decision_get(*, portfolio: Portfolio, decision_id: int) -> Decision:
    decision = Decision.objects.filter(portfolio=portfolio, pk=decision_id).first()
    if decision is None:
        raise NotFound(f"proposal {decision_id} does not exist", field="proposal")
    return decision


def tax_positions_get(
    *, portfolio_ids: Sequence[int], as_of: date, loss_deduction_limit: float = 3000.0
) -> dict[int, tuple[float, float]]:
    """Per portfolio: (net gains recognized since 1 January of ``as_of``'s year, capital loss
    carried into that year) — what a harvested loss can offset. One aggregate query."""
    from django.db.models import Sum
    from django.db.models.functions import ExtractYear

    from portfolios.tax import TaxRates, tax_years_net

    realized: dict[int, dict[int, list[Decimal]]] = defaultdict(dict)
    rows = (
        LotClosing.objects.filter(lot__portfolio_id__in=list(portfolio_ids), closed_on__lte=as_of)
        .annotate(year=ExtractYear("closed_on"))
        .values("lot__portfolio_id", "year", "holding_period")
        .annotate(gain=Sum("realized_gain"), disallowed=Sum("wash_disallowed"))
        .values_list("lot__portfolio_id", "year", "holding_period", "gain", "disallowed")
    )
    for pid, year, period, gain, disallowed in rows:
        pair = realized[pid].setdefault(year, [ZERO, ZERO])
        pair[1 if period == "long" else 0] += (Decimal(gain or 0) + Decimal(disallowed or 0)).quantize(Decimal("0.0001"))
    out = {}
    rates = TaxRates(loss_deduction_limit=loss_deduction_limit)
    for pid in portfolio_ids:
        years = realized.get(pid, {})
        this = years.get(as_of.year, [ZERO, ZERO])
        prior = {y: (st, lt) for y, (st, lt) in years.items() if y < as_of.year}
        netted = tax_years_net(prior, rates, last_year=as_of.year - 1) if prior else []
        carry = netted[-1].carryover_short_term + netted[-1].carryover_long_term if netted else ZERO
        out[pid] = (float(this[0] + this[1]), float(carry))
    return out
