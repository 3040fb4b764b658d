"""Executing trades through a broker, atomically with the ledger.

:func:`trades_execute` sends a batch of orders (sells first) to a
:class:`~portfolios.brokers.Broker`, then — in the same transaction, with the portfolio
row locked — records the trades, opens lots for buys, closes lots for sells (the
portfolio's lot method or the lots the trade names), realizes gains, moves positions and
cash. Any failure (broker refusal, too few shares, cash going negative) rolls the whole
batch back: all or nothing. The number of queries does not grow with the number of
trades (bulk inserts and updates), so a cycle over many portfolios stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from common.errors import Unprocessable
from marketdata.models import Asset
from portfolios.brokers import Broker, BrokerError, Fill, Order, PaperBroker
from portfolios.models import (
    AutonomySettings,
    Decision,
    LotClosing,
    Portfolio,
    Position,
    TaxLot,
    Trade,
)
from portfolios.prices import closes_on
from portfolios.services._locks import portfolio_lock
from portfolios.tax import LotSelectionError, lots_select, realized_gains
from portfolios.trading import BUY, SELL, CostModel, ProposedTrade


def cost_model_get(*, portfolio: Portfolio) -> CostModel:
    """The portfolio's commission and slippage (autonomy settings; defaults if none)."""
    settings = AutonomySettings.objects.filter(portfolio=portfolio).first()
    if settings is None:
        return CostModel()
    return CostModel(
        commission_rate=settings.commission_rate,
        commission_min=settings.commission_min,
        slippage_bps=settings.slippage_bps,
    )


def paper_broker_get(*, costs: CostModel | None = None) -> PaperBroker:
    """The default broker: fills at the close of the execution date from ``marketdata``."""
    return PaperBroker(
        prices=lambda symbols, as_of: closes_on(symbols=symbols, on=as_of), costs=costs or CostModel()
    )


@dataclass
class _LotView:
    """A tax lot as the lot-selection engine sees it (``quantity`` = shares still open)."""

    lot_id: int
    symbol: str
    quantity: Decimal
    cost_per_share: Decimal
    acquired_on: date


def _reject(message: str, *, code: str, extra: dict | None = None) -> Unprocessable:
    return Unprocessable(message, code=code, field="trades", extra=extra or {})


@transaction.atomic
def trades_execute(
    *,
    portfolio: Portfolio,
    trades: Sequence[ProposedTrade],
    as_of: date,
    broker: Broker | None = None,
    decision: Decision | None = None,
    assets: Mapping[str, Asset] | None = None,
) -> list[Trade]:
    """Execute ``trades`` at ``as_of`` through ``broker`` (paper broker by default).

    Bulk callers (a cycle over many portfolios) save three queries per portfolio by
    passing ``assets`` (symbol → Asset, loaded once) and a ``broker`` built once with
    the cycle's closes, e.g. ``PaperBroker(prices=closes, costs=...)``.

    Sells run before buys. Raises :class:`~common.errors.Unprocessable` (422, field
    ``trades``) when an asset is unknown, the broker refuses, a sell exceeds the open
    lots, or cash would go negative; nothing is written then. When ``decision`` is
    given, it is marked executed in the same transaction.
    """
    portfolio_row = portfolio_lock(portfolio=portfolio)
    ordered = [t for t in trades if t.side == SELL] + [t for t in trades if t.side == BUY]
    if len(ordered) != len(trades):
        raise _reject("every trade's side must be buy or sell", code="invalid_side")
    if not ordered:
        _mark_executed(decision)
        return []
    symbols = sorted({t.symbol for t in ordered})
    if assets is None or not set(symbols) <= set(assets):
        assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    else:
        assets = {s: assets[s] for s in symbols}
    unknown = sorted(set(symbols) - set(assets))
    if unknown:
        raise _reject(f"unknown symbols: {', '.join(unknown)}", code="unknown_symbol")

    if broker is None:
        broker = paper_broker_get(costs=cost_model_get(portfolio=portfolio_row))
    orders = [
        Order(t.symbol, t.side, t.quantity, client_ref=f"{portfolio_row.pk}:{portfolio_row.ledger_version}:{i}")
        for i, t in enumerate(ordered)
    ]
    try:
        fills = broker.execute(orders, as_of)
    except BrokerError as exc:
        raise _reject(f"the broker refused the orders: {exc}", code="broker_rejected") from exc
    if len(fills) != len(orders):
        raise _reject("the broker did not fill every order", code="broker_partial_fill")

    asset_ids = [assets[s].pk for s in symbols]
    lots = list(TaxLot.objects.filter(portfolio=portfolio_row, asset_id__in=asset_ids, quantity_open__gt=0))
    positions = {p.asset_id: p for p in Position.objects.filter(portfolio=portfolio_row, asset_id__in=asset_ids)}
    ledger = _Ledger(portfolio_row, assets, lots, positions, broker_name=getattr(broker, "name", "broker"))
    for trade, fill in zip(ordered, fills, strict=True):
        ledger.apply(trade, fill, decision=decision, as_of=as_of)
    created = ledger.flush()
    _mark_executed(decision)
    if portfolio is not portfolio_row:
        portfolio.cash, portfolio.ledger_version = portfolio_row.cash, portfolio_row.ledger_version
    return created


def _mark_executed(decision: Decision | None) -> None:
    if decision is None:
        return
    decision.status = Decision.Status.EXECUTED
    decision.executed_at = timezone.now()
    decision.save(update_fields=["status", "executed_at"])


class _Ledger:
    """Applies fills in memory, then writes everything with a constant number of queries."""

    def __init__(
        self,
        portfolio: Portfolio,
        assets: dict[str, Asset],
        lots: list[TaxLot],
        positions: dict[int, Position],
        *,
        broker_name: str,
    ) -> None:
        self.portfolio = portfolio
        self.assets = assets
        self.lots = {lot.pk: lot for lot in lots}
        self.symbol_of = {a.pk: s for s, a in assets.items()}
        self.positions = positions
        self.broker_name = broker_name
        self.cash = portfolio.cash
        self.trades: list[Trade] = []
        self.new_lots: list[tuple[int, TaxLot]] = []  # (index of opening trade, lot)
        self.closings: list[tuple[int, LotClosing]] = []  # (index of closing trade, closing)
        self.touched_lots: set[int] = set()

    def _position(self, asset: Asset) -> Position:
        if asset.pk not in self.positions:
            self.positions[asset.pk] = Position(portfolio=self.portfolio, asset=asset, quantity=Decimal(0))
        return self.positions[asset.pk]

    def apply(self, trade: ProposedTrade, fill: Fill, *, decision: Decision | None, as_of: date) -> None:
        asset = self.assets[trade.symbol]
        if fill.symbol != trade.symbol or fill.side != trade.side or fill.quantity != trade.quantity:
            raise _reject(f"the broker's fill does not match the order for {trade.symbol}", code="fill_mismatch")
        row = Trade(
            portfolio=self.portfolio,
            asset=asset,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            market_price=fill.market_price,
            commission=fill.commission,
            slippage=fill.slippage,
            cash_flow=fill.cash_flow,
            executed_at=fill.executed_at,
            trade_date=as_of,
            broker=self.broker_name,
            broker_ref=fill.broker_ref,
            decision=decision,
            reason=trade.reason,
            tags=list(trade.tags),
        )
        index = len(self.trades)
        self.trades.append(row)
        position = self._position(asset)
        if fill.side == BUY:
            cost = -fill.cash_flow  # gross + commission: the lot's tax basis
            self.new_lots.append(
                (
                    index,
                    TaxLot(
                        portfolio=self.portfolio,
                        asset=asset,
                        acquired_on=as_of,
                        quantity_original=fill.quantity,
                        quantity_open=fill.quantity,
                        cost_basis=cost,
                        cost_basis_open=cost,
                    ),
                )
            )
            position.quantity += fill.quantity
        else:
            row.realized_gain = self._close_lots(index, asset, trade, fill, as_of)
            position.quantity -= fill.quantity
        self.cash += fill.cash_flow
        if self.cash < 0 and not self.portfolio.allow_negative_cash:
            raise _reject(
                f"not enough cash: buying {trade.quantity} {trade.symbol} would leave {self.cash}",
                code="insufficient_cash",
                extra={"cash": str(self.cash)},
            )

    def _close_lots(self, index: int, asset: Asset, trade: ProposedTrade, fill: Fill, as_of: date) -> Decimal:
        open_lots = [
            _LotView(lot.pk, trade.symbol, lot.quantity_open, lot.cost_basis_open / lot.quantity_open, lot.acquired_on)
            for lot in self.lots.values()
            if lot.asset_id == asset.pk and lot.quantity_open > 0
        ]
        try:
            picks = lots_select(
                lots=open_lots,
                symbol=trade.symbol,
                quantity=fill.quantity,
                method=self.portfolio.lot_method,
                lot_ids=trade.lot_ids,
            )
        except LotSelectionError as exc:
            raise _reject(str(exc), code="insufficient_shares", extra={"symbol": trade.symbol}) from exc
        total = Decimal(0)
        for realization in realized_gains(picks=picks, proceeds=fill.cash_flow, sold_on=as_of):
            lot = self.lots[realization.lot_id]
            if realization.quantity == lot.quantity_open:
                basis = lot.cost_basis_open  # the last shares take the rounding remainder
            else:
                basis = (lot.cost_basis_open * realization.quantity / lot.quantity_open).quantize(Decimal("0.0001"))
            lot.quantity_open -= realization.quantity
            lot.cost_basis_open -= basis
            self.touched_lots.add(lot.pk)
            gain = realization.proceeds - basis
            total += gain
            self.closings.append(
                (
                    index,
                    LotClosing(
                        lot=lot,
                        quantity=realization.quantity,
                        proceeds=realization.proceeds,
                        cost_basis=basis,
                        realized_gain=gain,
                        holding_period=realization.holding_period,
                        closed_on=as_of,
                    ),
                )
            )
        return total

    def flush(self) -> list[Trade]:
        created = Trade.objects.bulk_create(self.trades)
        for index, lot in self.new_lots:
            lot.opening_trade = created[index]
        if self.new_lots:
            TaxLot.objects.bulk_create([lot for _, lot in self.new_lots])
        if self.touched_lots:
            TaxLot.objects.bulk_update(
                [self.lots[pk] for pk in sorted(self.touched_lots)], ["quantity_open", "cost_basis_open"]
            )
        for index, closing in self.closings:
            closing.trade = created[index]
        if self.closings:
            LotClosing.objects.bulk_create([c for _, c in self.closings])
        existing = [p for p in self.positions.values() if p.pk is not None]
        fresh = [p for p in self.positions.values() if p.pk is None]
        if existing:
            Position.objects.bulk_update(existing, ["quantity"])
        if fresh:
            Position.objects.bulk_create(fresh)
        self.portfolio.cash = self.cash
        self.portfolio.ledger_version += 1
        self.portfolio.save(update_fields=["cash", "ledger_version", "updated_at"])
        return created
