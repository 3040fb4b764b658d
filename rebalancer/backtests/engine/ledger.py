"""An in-memory ledger for the backtester: cash, positions, tax lots, fills and costs.

It books fills the way the paper broker and the portfolio ledger do (``Decimal``
money and quantities) but in memory, so a replay writes nothing to the database per
day. Tax lots live in a :class:`portfolios.tax.LotBook` — the same lot arithmetic as
the live ledger: lot selection (tax-minimizing by default, as for a live taxable
portfolio; named lots first when a sell names them), the anniversary holding-period
rule, wash sales with the disallowed loss moved to the replacement's basis. A lot's
basis is what the fill cost (``money(q x fill) + commission``), a sale's proceeds its
net cash flow, exactly as the live ledger books them. It also keeps the numbers the
validation harness checks after every day (:meth:`PaperLedger.check_invariants`):

* no negative cash and no negative position;
* the lots of each symbol add up to its position;
* cash equals the initial cash plus the signed cash flows of every fill;
* **cost accounting**: cash equals the initial cash minus the reference-price value of
  every fill minus the commissions and slippage charged, exactly (``Decimal``), so the
  portfolio's value at any close equals what a frictionless run of the same trades
  would have minus the costs charged.

Slippage is booked as the exact difference between the filled and the reference
notional (``money(q * fill) - q * price`` for a buy), so commission + slippage is
exactly what the trader lost against trading at the close (it includes the rounding
of the fill's money amount to 4 places, at most half a unit either way).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from portfolios.tax import LONG, TAX_MIN, BookClosing, BookLot, LotBook, TaxRates, tax_years_net
from portfolios.trading.costs import BUY, SELL, ZERO, CostModel, money

ROUNDING = Decimal("0.00005")
"""Half a money unit: the gross of a fill is rounded to 4 places, so the booked
slippage of a zero-slippage fill is this rounding, either way."""


class LedgerInvariantError(AssertionError):
    """A ledger invariant failed; ``what`` names it, ``as_of`` the day."""

    def __init__(self, what: str, as_of: date, detail: str) -> None:
        super().__init__(f"{as_of}: {what}: {detail}")
        self.what = what
        self.as_of = as_of


@dataclass(frozen=True)
class Fill:
    """One executed order, with what it cost against the close."""

    as_of: date
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal  # the reference (close) price
    fill_price: Decimal
    gross: Decimal  # money(quantity * fill_price)
    commission: Decimal
    slippage: Decimal  # exact: |gross - quantity * price|
    cash_flow: Decimal  # signed: negative for buys
    realized_gain: Decimal = ZERO
    """Economic gain of a sell (proceeds - basis) over its closings; see ``PaperLedger.closings``
    for what the wash-sale rule disallowed."""
    long_term_gain: Decimal = ZERO
    harvest: bool = False
    reason: str = ""


@dataclass
class PaperLedger:
    """Cash, positions and lots of one simulated portfolio."""

    initial_cash: Decimal
    costs: CostModel
    lot_method: str = TAX_MIN
    """How sells that name no lots choose them (``portfolios.tax.LOT_METHODS``)."""
    cash: Decimal = ZERO
    quantities: dict[str, Decimal] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    closings: list[BookClosing] = field(default_factory=list)
    """Every lot closing, in order; wash-sale fields move when a later buy washes a loss."""
    wash_sale_blocks: list[tuple[date, str, str]] = field(default_factory=list)
    """(date, symbol, why) of each harvest or purchase the wash-sale rule stopped."""
    commission_total: Decimal = ZERO
    slippage_total: Decimal = ZERO
    reference_flow_total: Decimal = ZERO  # sum of signed quantity * close over fills
    _checked: int = 0
    _chk_flows: Decimal = ZERO
    _chk_charged: Decimal = ZERO
    _chk_reference: Decimal = ZERO

    def __post_init__(self) -> None:
        self.cash = self.initial_cash
        ids = itertools.count(1)
        self.book = LotBook(new_id=lambda _kind: next(ids))
        self._by_year: dict[int, list[BookClosing]] = {}
        self._carryover: tuple[int, float] | None = None

    def tax_position(self, as_of: date, *, loss_deduction_limit: float = 3000.0) -> tuple[float, float]:
        """(net gains recognized since 1 January of ``as_of``'s year, loss carried into that year)."""
        year = as_of.year
        this_year = float(sum((c.recognized_gain for c in self._by_year.get(year, ())), ZERO))
        # Earlier years change only when a January buy washes a December loss: recompute in January.
        if self._carryover is None or self._carryover[0] != year or as_of.month == 1:
            prior = {}
            for y, closings in self._by_year.items():
                if y < year:
                    st = sum((c.recognized_gain for c in closings if c.holding_period != LONG), ZERO)
                    lt = sum((c.recognized_gain for c in closings if c.holding_period == LONG), ZERO)
                    prior[y] = (st, lt)
            netted = tax_years_net(prior, TaxRates(loss_deduction_limit=loss_deduction_limit), last_year=year - 1)
            carry = float(netted[-1].carryover_short_term + netted[-1].carryover_long_term) if netted else 0.0
            self._carryover = (year, carry)
        return this_year, self._carryover[1]

    @property
    def lots(self) -> list[BookLot]:
        """The open lots (``symbol``, ``quantity``, ``cost_per_share``, ``acquired_on``, ``lot_id``)."""
        return self.book.open_lots()

    # -- execution -------------------------------------------------------------
    def execute(
        self,
        *,
        as_of: date,
        symbol: str,
        side: str,
        quantity: Decimal,
        price: Decimal,
        lot_ids: tuple[int, ...] = (),
        harvest: bool = False,
        reason: str = "",
    ) -> Fill:
        """Fill one order at ``price`` (the close) through the cost model and book it."""
        if side not in (BUY, SELL) or quantity <= 0:
            raise ValueError(f"bad order {side} {quantity} {symbol}")
        fill_price = self.costs.fill_price(price, side)
        gross = money(quantity * fill_price)
        commission = self.costs.commission(gross)
        reference = quantity * price
        if side == BUY:
            cash_flow = -gross - commission
            slippage = gross - reference
            self.book.buy(symbol=symbol, quantity=quantity, basis=-cash_flow, on=as_of)
            self.book.events_clear()  # nothing is written: the book's records need not pile up
            realized = long_term = ZERO
        else:
            cash_flow = gross - commission
            slippage = reference - gross
            realized, long_term = self._close_lots(symbol, quantity, cash_flow, as_of, lot_ids, harvest)
        held = self.quantities.get(symbol, ZERO) + (quantity if side == BUY else -quantity)
        if held == 0:
            self.quantities.pop(symbol, None)
        else:
            self.quantities[symbol] = held
        self.cash += cash_flow
        self.commission_total += commission
        self.slippage_total += slippage
        self.reference_flow_total += reference if side == BUY else -reference
        fill = Fill(
            as_of=as_of,
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            fill_price=fill_price,
            gross=gross,
            commission=commission,
            slippage=slippage,
            cash_flow=cash_flow,
            realized_gain=realized,
            long_term_gain=long_term,
            harvest=harvest,
            reason=reason,
        )
        self.fills.append(fill)
        return fill

    def _close_lots(
        self,
        symbol: str,
        quantity: Decimal,
        proceeds: Decimal,
        as_of: date,
        lot_ids: tuple[int, ...],
        harvest: bool,
    ) -> tuple[Decimal, Decimal]:
        """Close ``quantity`` through the lot book; return (gain, long-term part)."""
        held = self.quantities.get(symbol, ZERO)
        if quantity > held:
            raise ValueError(f"cannot sell {quantity} {symbol}: only {held} held")
        closings = self.book.sell(
            symbol=symbol, quantity=quantity, proceeds=proceeds, on=as_of,
            method=self.lot_method, lot_ids=lot_ids, harvest=harvest,
        )
        self.closings.extend(closings)
        for closing in closings:
            self._by_year.setdefault(closing.closed_on.year, []).append(closing)
        self.book.events_clear()
        gain = sum((c.gain for c in closings), ZERO)
        long_gain = sum((c.gain for c in closings if c.holding_period == LONG), ZERO)
        return gain, long_gain

    # -- views -----------------------------------------------------------------
    def value(self, prices: Mapping[str, float | Decimal]) -> Decimal:
        total = self.cash
        for symbol, q in self.quantities.items():
            price = prices[symbol]
            total += q * (price if isinstance(price, Decimal) else Decimal(str(price)))
        return total

    def cost_total(self) -> Decimal:
        return self.commission_total + self.slippage_total

    # -- the validation harness ------------------------------------------------
    def check_invariants(self, as_of: date) -> None:
        """Raise :class:`LedgerInvariantError` when a ledger or cost identity fails."""
        if self.cash < 0:
            raise LedgerInvariantError("non-negative cash", as_of, f"cash is {self.cash}")
        by_lots: dict[str, Decimal] = {}
        for lot in self.lots:
            if lot.quantity <= 0:
                raise LedgerInvariantError(
                    "positive lots", as_of, f"lot {lot.lot_id} has {lot.quantity}"
                )
            by_lots[lot.symbol] = by_lots.get(lot.symbol, ZERO) + lot.quantity
        for symbol, q in self.quantities.items():
            if q < 0:
                raise LedgerInvariantError("no short positions", as_of, f"{symbol} is {q}")
        if by_lots != self.quantities:
            raise LedgerInvariantError(
                "lots add up to positions", as_of, f"{by_lots} != {self.quantities}"
            )
        # Independent running sums over the fill records (only the new ones each day).
        for f in self.fills[self._checked :]:
            if f.commission < 0 or f.slippage < -ROUNDING:
                raise LedgerInvariantError("costs are never negative", as_of, f"{f}")
            self._chk_flows += f.cash_flow
            self._chk_charged += f.commission + f.slippage
            self._chk_reference += (
                f.quantity * f.price if f.side == BUY else -(f.quantity * f.price)
            )
        self._checked = len(self.fills)
        if self.cash != self.initial_cash + self._chk_flows:
            raise LedgerInvariantError(
                "cash equals initial plus fills",
                as_of,
                f"{self.cash} != {self.initial_cash + self._chk_flows}",
            )
        if self._chk_charged != self.cost_total():
            raise LedgerInvariantError(
                "costs add up", as_of, f"{self._chk_charged} != {self.cost_total()}"
            )
        frictionless_cash = self.initial_cash - self._chk_reference
        if self.cash != frictionless_cash - self._chk_charged:
            raise LedgerInvariantError(
                "cash equals the frictionless cash minus the costs charged",
                as_of,
                f"{self.cash} != {frictionless_cash} - {self._chk_charged}",
            )
