"""Selectors of execution quality: per order and per decision, and the cost model calibrated.

Records come from :class:`~portfolios.models.Order` rows (real brokers: partial fills,
rejections, expiries) and, for decisions executed by the paper broker (which has no
orders), from their :class:`~portfolios.models.Trade` rows — one fill per trade at the
close, so the paper broker's figures equal its cost model by construction. The decision
price of a leg is the close the decision sized it at (``Decision.prices``); the measures
are those of :mod:`portfolios.trading.quality`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Prefetch

from portfolios.models import AutonomySettings, Decision, Order, OrderFill, Portfolio, Trade
from portfolios.prices import latest_closes
from portfolios.trading import CostModel
from portfolios.trading.quality import (
    ExecutionQuality,
    ExecutionRecord,
    SlippageFit,
    order_quality,
    quality_total,
    slippage_bps_fit,
)


@dataclass(frozen=True)
class OrderExecution:
    """One order (or paper trade) of a decision with its measures."""

    order_id: int | None
    trade_id: int | None
    symbol: str
    side: str
    status: str
    quantity: Decimal
    filled_quantity: Decimal
    decision_price: Decimal
    avg_fill_price: Decimal | None
    quality: ExecutionQuality
    record: ExecutionRecord


@dataclass(frozen=True)
class DecisionExecution:
    decision_id: int
    as_of: date
    status: str
    broker: str
    quality: ExecutionQuality
    orders: list[OrderExecution]


@dataclass(frozen=True)
class ExecutionReport:
    portfolio_id: int
    broker: str
    totals: ExecutionQuality
    calibration: SlippageFit | None
    decisions: list[DecisionExecution]


def _completion_prices(orders: Iterable[Order]) -> dict[tuple[str, date], Decimal]:
    """The close of each (symbol, day an order with an unfilled part ended)."""
    wanted = {(o.symbol, (o.final_at or o.updated_at).date()) for o in orders
              if o.is_final and o.filled_quantity < o.planned_quantity}
    out = {}
    for symbol, day in wanted:
        close = latest_closes(symbols=[symbol], as_of=day).get(symbol)
        if close is not None:
            out[(symbol, day)] = close[0]
    return out


def _order_record(order: Order, completion: dict[tuple[str, date], Decimal]) -> ExecutionRecord:
    day = (order.final_at or order.updated_at).date()
    return ExecutionRecord(
        side=order.side, quantity=order.planned_quantity, filled_quantity=order.filled_quantity,
        decision_price=order.decision_price, avg_fill_price=order.filled_avg_price, commission=order.commission,
        model_slippage_bps=order.est_slippage_bps, submitted_at=order.submitted_at, last_fill_at=order.last_fill_at,
        completion_price=completion.get((order.symbol, day)) if order.is_final else None,
    )


def _trade_record(trade: Trade, decision: Decision, model_bps: Decimal) -> ExecutionRecord:
    price = Decimal(str(decision.prices.get(trade.asset.symbol, trade.market_price)))
    return ExecutionRecord(
        side=trade.side, quantity=trade.quantity, filled_quantity=trade.quantity, decision_price=price,
        avg_fill_price=trade.price, commission=trade.commission, model_slippage_bps=model_bps,
        submitted_at=trade.executed_at, last_fill_at=trade.executed_at,
    )


def execution_report_get(
    *, portfolio: Portfolio, decision_id: int | None = None, start: date | None = None, end: date | None = None,
    limit: int = 50,
) -> ExecutionReport:
    """Execution quality of the portfolio's latest ``limit`` traded decisions (newest first)."""
    decisions = Decision.objects.filter(portfolio=portfolio).filter(
        status__in=[Decision.Status.EXECUTED, Decision.Status.SUBMITTED, Decision.Status.FAILED]
    )
    if decision_id is not None:
        decisions = decisions.filter(pk=decision_id)
    if start is not None:
        decisions = decisions.filter(as_of__gte=start)
    if end is not None:
        decisions = decisions.filter(as_of__lte=end)
    rows = list(decisions.order_by("-as_of", "-id").prefetch_related(
        Prefetch("orders", queryset=Order.objects.order_by("leg")),
        Prefetch("executed_trades", queryset=Trade.objects.select_related("asset").order_by("id")),
    )[:limit])
    autonomy = AutonomySettings.objects.filter(portfolio=portfolio).first()
    model_bps = autonomy.slippage_bps if autonomy else CostModel().slippage_bps
    all_orders = [o for d in rows for o in d.orders.all()]
    completion = _completion_prices(all_orders)
    out, records = [], []
    for decision in rows:
        legs = []
        orders = list(decision.orders.all())
        for order in orders:
            record = _order_record(order, completion)
            legs.append(OrderExecution(order.pk, None, order.symbol, order.side, order.status, order.planned_quantity,
                                       order.filled_quantity, order.decision_price, order.filled_avg_price,
                                       order_quality(record), record))
        if not orders:  # the paper broker: one trade per leg, filled at the close
            for trade in decision.executed_trades.all():
                if "reconciliation" in (trade.tags or []):
                    continue
                record = _trade_record(trade, decision, model_bps)
                legs.append(OrderExecution(None, trade.pk, trade.asset.symbol, trade.side, Order.Status.FILLED,
                                           trade.quantity, trade.quantity, record.decision_price, trade.price,
                                           order_quality(record), record))
        if not legs:
            continue
        legs_records = [leg.record for leg in legs]
        records.extend(legs_records)
        out.append(DecisionExecution(decision.pk, decision.as_of, decision.status,
                                     "paper" if not orders else orders[0].broker, quality_total(legs_records), legs))
    return ExecutionReport(portfolio.pk, portfolio.broker, quality_total(records), slippage_bps_fit(records), out)


def execution_records_get(*, portfolio_ids: Iterable[int] | None = None, brokers: Iterable[str] | None = None) -> list[ExecutionRecord]:
    """Every filled order's record (real brokers only: the paper broker's would fit its own model)."""
    orders = Order.objects.filter(filled_quantity__gt=0)
    if portfolio_ids is not None:
        orders = orders.filter(portfolio_id__in=list(portfolio_ids))
    if brokers is not None:
        orders = orders.filter(broker__in=list(brokers))
    orders = list(orders)
    completion = _completion_prices(orders)
    return [_order_record(o, completion) for o in orders]


def cost_model_calibrate(
    *, portfolio_ids: Iterable[int] | None = None, base: CostModel | None = None
) -> tuple[CostModel, SlippageFit | None]:
    """The cost model with ``slippage_bps`` fitted from real fills (``base`` kept without any).

    The backtests take it as ``slippage_bps`` (``POST backtests``; ``manage.py
    calibrate_costs`` prints it).
    """
    base = base or CostModel()
    fit = slippage_bps_fit(execution_records_get(portfolio_ids=portfolio_ids))
    if fit is None:
        return base, None
    bps = Decimal(str(round(fit.slippage_bps, 3)))
    return CostModel(commission_rate=base.commission_rate, commission_min=base.commission_min, slippage_bps=bps), fit


def orders_list(*, portfolio: Portfolio, statuses: Iterable[str] | None = None, decision_id: int | None = None):
    """The portfolio's orders, newest first, with their fills (a queryset)."""
    orders = Order.objects.filter(portfolio=portfolio)
    statuses = list(statuses or [])
    if statuses:
        orders = orders.filter(status__in=statuses)
    if decision_id is not None:
        orders = orders.filter(decision_id=decision_id)
    return orders.order_by("-created_at", "-id").prefetch_related(
        Prefetch("fills", queryset=OrderFill.objects.order_by("executed_at", "id"))
    )

