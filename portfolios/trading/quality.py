"""Execution quality: implementation shortfall, slippage against the cost model, fill rate.

Pure Python on ``Decimal`` (no Django): :mod:`portfolios.execution_quality` builds the
records from orders and trades.

Implementation shortfall (Perold 1988, "The implementation shortfall: paper versus
reality", JPM 14(3)) measures one order against the *paper* trade the decision made at
its price ``d`` (the close it sized the trade at). With side sign ``s`` (+1 buy, −1 sell),
ordered quantity ``Q``, filled ``q`` at average ``p``, commission ``c`` and the price ``P``
when the order ended (the close of that day):

* paper notional ``N = d·Q``;
* execution cost ``s·(p − d)·q`` — what the fills paid beyond the decision price;
* opportunity cost ``s·(P − d)·(Q − q)`` — what the unfilled part missed (0 when ``P`` is
  unknown, and flagged);
* shortfall ``IS = execution + c + opportunity``, and ``IS_bps = IS / N · 10⁴``.

Positive is a cost. Slippage in bps is ``s·(p − d)/d · 10⁴`` (the fills' execution cost per
filled notional), next to the cost model's ``slippage_bps`` the decision was sized with.
Fill rate is ``q / Q``; time to fill runs from submission to the last fill.

:func:`slippage_bps_fit` calibrates the cost model's proportional slippage from such
records: the least-squares ``b`` of ``cost_i ≈ b · notional_i`` through the origin,
``b = Σ cost_i·n_i / Σ n_i²`` (the model's own form: bps of the filled notional).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from portfolios.trading.costs import BPS, BUY, ZERO, money


@dataclass(frozen=True)
class ExecutionRecord:
    """One order as executed (from an ``Order``, or from a paper ``Trade``)."""

    side: str
    quantity: Decimal
    """Ordered (the decision's quantity)."""
    filled_quantity: Decimal
    decision_price: Decimal
    avg_fill_price: Decimal | None
    commission: Decimal
    model_slippage_bps: Decimal
    submitted_at: datetime | None = None
    last_fill_at: datetime | None = None
    completion_price: Decimal | None = None
    """The close when the order ended; prices the unfilled part (opportunity cost)."""


@dataclass(frozen=True)
class ExecutionQuality:
    """The measures of one order, or of many added up (see the module docstring)."""

    orders: int
    paper_notional: Decimal
    filled_notional: Decimal
    execution_cost: Decimal
    commission: Decimal
    opportunity_cost: Decimal
    shortfall: Decimal
    shortfall_bps: float | None
    slippage_bps: float | None
    model_slippage_bps: float | None
    slippage_vs_model_bps: float | None
    fill_rate: float | None
    time_to_fill_s: float | None
    """Longest submission-to-last-fill time."""
    opportunity_priced: bool
    """False when an unfilled part had no completion price (its opportunity cost is 0)."""


def _sign(side: str) -> int:
    return 1 if side == BUY else -1


def _bps(numerator: Decimal, denominator: Decimal) -> float | None:
    return float(numerator / denominator * BPS) if denominator else None


def order_quality(record: ExecutionRecord) -> ExecutionQuality:
    return quality_total([record])


def quality_total(records: Sequence[ExecutionRecord]) -> ExecutionQuality:
    """The measures of ``records`` together: money summed, bps over the summed notionals."""
    paper = filled = execution = commission = opportunity = model_weighted = ZERO
    ordered = filled_qty_value = ZERO
    priced, longest = True, None
    for r in records:
        s = _sign(r.side)
        paper += r.decision_price * r.quantity
        fill_notional = r.decision_price * r.filled_quantity
        filled += fill_notional
        if r.avg_fill_price is not None and r.filled_quantity:
            execution += s * (r.avg_fill_price - r.decision_price) * r.filled_quantity
        commission += r.commission
        unfilled = r.quantity - r.filled_quantity
        if unfilled > 0:
            if r.completion_price is None:
                priced = False
            else:
                opportunity += s * (r.completion_price - r.decision_price) * unfilled
        model_weighted += r.model_slippage_bps * fill_notional
        ordered += r.quantity * r.decision_price
        filled_qty_value += r.filled_quantity * r.decision_price
        if r.submitted_at and r.last_fill_at:
            seconds = (r.last_fill_at - r.submitted_at).total_seconds()
            longest = seconds if longest is None else max(longest, seconds)
    execution, opportunity = money(execution), money(opportunity)
    shortfall = execution + money(commission) + opportunity
    slippage = _bps(execution, filled)
    model = float(model_weighted / filled) if filled else None
    return ExecutionQuality(
        orders=len(records), paper_notional=money(paper), filled_notional=money(filled), execution_cost=execution,
        commission=money(commission), opportunity_cost=opportunity, shortfall=shortfall,
        shortfall_bps=_bps(shortfall, paper), slippage_bps=slippage, model_slippage_bps=model,
        slippage_vs_model_bps=(slippage - model) if slippage is not None and model is not None else None,
        fill_rate=float(filled_qty_value / ordered) if ordered else None, time_to_fill_s=longest,
        opportunity_priced=priced,
    )


@dataclass(frozen=True)
class SlippageFit:
    """The calibrated proportional slippage and what it rests on."""

    slippage_bps: float
    """Least-squares bps of filled notional, clamped at 0 (the cost model's domain)."""
    raw_bps: float
    """Before clamping (negative: fills beat the decision prices on average)."""
    orders: int
    notional: Decimal
    residual_bps: float
    """Root mean square of the residuals, in bps of the mean notional."""


def slippage_bps_fit(records: Sequence[ExecutionRecord]) -> SlippageFit | None:
    """Fit ``cost ≈ b · notional`` over the filled records (None without any)."""
    points = [
        (float(r.decision_price * r.filled_quantity),
         float(_sign(r.side) * (r.avg_fill_price - r.decision_price) * r.filled_quantity))
        for r in records if r.filled_quantity > 0 and r.avg_fill_price is not None and r.decision_price > 0
    ]
    if not points:
        return None
    sxx = sum(n * n for n, _ in points)
    b = sum(n * c for n, c in points) / sxx
    mean_n = sum(n for n, _ in points) / len(points)
    rms = (sum((c - b * n) ** 2 for n, c in points) / len(points)) ** 0.5
    return SlippageFit(
        slippage_bps=max(b * 1e4, 0.0), raw_bps=b * 1e4, orders=len(points),
        notional=money(Decimal(str(sum(n for n, _ in points)))), residual_bps=rms / mean_n * 1e4,
    )
