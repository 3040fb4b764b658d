"""The cycle's inputs read in bulk: every ledger row lands in the right field (issue 22 pin).

Pinned before ``cycle_inputs_load`` was split into named steps: the ledger rows are written
directly (a fixed, hand-made ledger), so every expectation below is read off the rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata.models import Asset
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    LotClosing,
    PortfolioSnapshot,
    Position,
    TaxLot,
    Trade,
)
from portfolios.services import TargetInput, targets_set
from portfolios.services.portfolio import limit_overrides_set
from rebalancer.autopilot.models import CycleRun
from rebalancer.autopilot.selectors import active_assets_get, cycle_inputs_load
from rebalancer.autopilot.types import Lot, PolicyState
from tests.autopilot.conftest import AS_OF

NOON = dt.time(12, 0, tzinfo=dt.UTC)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, NOON)


def _trade(portfolio, symbol: str, side: str, day: dt.date, *, gain: str = "0", tags=None) -> Trade:
    ref = f"t{Trade.objects.count()}"
    return Trade.objects.create(broker_ref=ref,
        portfolio=portfolio, asset=Asset.objects.get(symbol=symbol), side=side, quantity=Decimal("10"),
        price=Decimal("100"), market_price=Decimal("100"), cash_flow=Decimal("-1000"),
        realized_gain=Decimal(gain), executed_at=_at(day), trade_date=day, tags=tags or [],
    )


@pytest.fixture
def ledger(portfolio_make):
    """Two portfolios with hand-written ledger rows, and a third without autonomy settings."""
    taxed = portfolio_make(tax_optimization=True, calendar="monthly")
    plain = portfolio_make(cash="5000", strategy="target_allocation")
    bare = portfolio_make(cash="0")
    AutonomySettings.objects.filter(portfolio=bare).delete()
    aaa, bbb = Asset.objects.get(symbol="AAA"), Asset.objects.get(symbol="BBB")
    Position.objects.create(portfolio=taxed, asset=aaa, quantity=Decimal("12.5"))
    Position.objects.create(portfolio=taxed, asset=bbb, quantity=Decimal("0"))  # closed: left out
    lot = TaxLot.objects.create(portfolio=taxed, asset=aaa, acquired_on=dt.date(2023, 3, 1), quantity_original=Decimal("10"),
                          quantity_open=Decimal("8"), cost_basis=Decimal("1000"), cost_basis_open=Decimal("840"))
    TaxLot.objects.create(portfolio=taxed, asset=bbb, acquired_on=dt.date(2023, 4, 1), quantity_original=Decimal("5"),
                          quantity_open=Decimal("0"), cost_basis=Decimal("500"), cost_basis_open=Decimal("0"))
    _trade(taxed, "AAA", Trade.Side.BUY, AS_OF - dt.timedelta(days=3))
    _trade(taxed, "BBB", Trade.Side.SELL, AS_OF - dt.timedelta(days=10), gain="-50", tags=["tax_loss_harvest"])
    loss = _trade(taxed, "AAA", Trade.Side.SELL, AS_OF - dt.timedelta(days=20), gain="-5")
    for day, gain in ((AS_OF - dt.timedelta(days=20), "-25"), (dt.date(2023, 6, 1), "-4000")):
        LotClosing.objects.create(lot=lot, trade=loss, quantity=Decimal("1"), proceeds=Decimal("100"),
                                  cost_basis=Decimal("100") - Decimal(gain), realized_gain=Decimal(gain),
                                  holding_period="short", closed_on=day)
    _trade(taxed, "AAA", Trade.Side.SELL, AS_OF - dt.timedelta(days=5), gain="30")  # a gain: no wash-sale row
    _trade(taxed, "BBB", Trade.Side.BUY, AS_OF - dt.timedelta(days=31))  # before the 30-day window
    _trade(taxed, "BBB", Trade.Side.BUY, AS_OF + dt.timedelta(days=1))  # after the as-of date
    CycleRun.objects.create(portfolio=taxed, as_of=AS_OF - dt.timedelta(days=7), status=CycleRun.Status.DONE,
                            policy_state={"targets": {"AAA": 0.6}, "strategy": "equal_weight", "confidence": 0.5})
    CycleRun.objects.create(portfolio=taxed, as_of=AS_OF - dt.timedelta(days=2), status=CycleRun.Status.FAILED,
                            policy_state={"targets": {"BBB": 1.0}})  # not finished: ignored
    for day, amount in ((AS_OF - dt.timedelta(days=9), "700"), (AS_OF - dt.timedelta(days=1), "250"),
                        (AS_OF - dt.timedelta(days=1), "-100")):
        kind = CashMovement.Kind.DEPOSIT if Decimal(amount) > 0 else CashMovement.Kind.WITHDRAWAL
        CashMovement.objects.create(portfolio=taxed, kind=kind, amount=Decimal(amount), at=_at(day))
    for day, value in ((AS_OF - dt.timedelta(days=1), "101000"), (AS_OF - dt.timedelta(days=500), "90000"),
                       (AS_OF - dt.timedelta(days=2), "100500")):
        PortfolioSnapshot.objects.create(portfolio=taxed, date=day, value=Decimal(value), cash=Decimal(0),
                                         invested=Decimal(value))
    targets_set(portfolio=plain, targets=[TargetInput(weight=Decimal("0.2"), symbol="AAA"),
                                          TargetInput(weight=Decimal("0.4"), asset_class="bond")])
    limit_overrides_set(portfolio=plain, max_position=0.2)
    return taxed, plain, bare


def test_every_ledger_row_lands_in_the_holdings_state(ledger):
    # given
    taxed, plain, bare = ledger
    ids = [taxed.pk, plain.pk, bare.pk]
    # when
    inputs = cycle_inputs_load(portfolio_ids=ids, as_of=AS_OF)
    # then: the portfolio without autonomy settings is left out
    assert list(inputs) == [taxed.pk, plain.pk]
    state = inputs[taxed.pk].state
    assert (state.as_of, state.cash, state.portfolio_id) == (AS_OF, 100000.0, taxed.pk)
    assert state.quantities == {"AAA": 12.5}
    lot = TaxLot.objects.get(portfolio=taxed, quantity_open__gt=0)
    assert state.lots == (Lot(symbol="AAA", quantity=8.0, cost_per_share=105.0, acquired_on=dt.date(2023, 3, 1),
                              lot_id=lot.pk),)
    assert state.recent_buys == (("AAA", AS_OF - dt.timedelta(days=3)),)
    assert sorted(state.recent_loss_sales) == [("AAA", AS_OF - dt.timedelta(days=20)),
                                               ("BBB", AS_OF - dt.timedelta(days=10))]
    assert state.recent_harvests == (("BBB", AS_OF - dt.timedelta(days=10)),)
    assert state.value_history.to_dict() == {AS_OF - dt.timedelta(days=2): 100500.0,
                                             AS_OF - dt.timedelta(days=1): 101000.0}
    assert state.policy == PolicyState(targets={"AAA": 0.6}, strategy="equal_weight", confidence=0.5)
    assert state.net_flows == 150.0  # the flows after the last finished cycle only
    assert (state.realized_this_year, state.loss_carryover) == (-25.0, 1000.0)  # 4,000 lost last year, 3,000 deducted
    assert state.last_rebalanced_on is None


def test_a_portfolio_without_history_has_empty_fields_and_its_own_targets(ledger):
    # given
    _, plain, _ = ledger
    # when
    inputs = cycle_inputs_load(portfolio_ids=[plain.pk], as_of=AS_OF, force=True)
    # then
    one = inputs[plain.pk]
    assert one.portfolio.pk == plain.pk and one.autonomy.portfolio_id == plain.pk
    assert one.ledger_version == plain.ledger_version
    state = one.state
    assert (state.cash, state.quantities, state.lots, state.recent_buys, state.recent_loss_sales) == (
        5000.0, {}, (), (), ())
    assert (state.recent_harvests, state.value_history, state.policy, state.net_flows) == ((), None, None, 0.0)
    assert (state.realized_this_year, state.loss_carryover) == (0.0, 0.0)
    config = one.config
    assert config.target_weights == {"AAA": 0.2, "BND": 0.2, "TIP": 0.2}
    assert config.universe == ("AAA", "BND", "TIP")
    assert (config.strategy, config.force, config.lookback_days) == ("target_allocation", True, 252)
    assert config.limits.max_position == 0.2
    assert config.tax.enabled is False and config.tax.wash_sale_days == 30


def test_the_reads_take_ten_queries_and_one_more_for_tax(ledger):
    # given: the assets passed in, as a cycle does
    taxed, plain, _ = ledger
    assets = active_assets_get()
    # when
    with CaptureQueriesContext(connection) as plain_only:
        cycle_inputs_load(portfolio_ids=[plain.pk], as_of=AS_OF, assets=assets)
    with CaptureQueriesContext(connection) as both:
        cycle_inputs_load(portfolio_ids=[taxed.pk, plain.pk], as_of=AS_OF, assets=assets)
    # then
    assert (len(plain_only), len(both)) == (9, 10)
