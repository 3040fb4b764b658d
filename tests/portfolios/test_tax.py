"""Tax lots and loss harvesting with the wash-sale rule (pure engine, no database)."""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.tax import (
    HarvestSettings,
    Lot,
    LotSelectionError,
    harvest_candidates,
    harvest_targets_adjust,
    holding_period,
    lots_select,
    realized_gains,
    wash_sale_blocked_symbols,
)
from portfolios.trading import TradeSettings
from portfolios.trading.plan import HARVEST_TAG, REPLACEMENT_TAG, rebalance_plan

AS_OF = date(2024, 6, 3)
LOTS = [
    Lot(1, "A", D(10), D("100"), date(2023, 1, 10)),
    Lot(2, "A", D(10), D("150"), date(2023, 3, 10)),
    Lot(3, "A", D(10), D("120"), date(2024, 2, 1)),
]


@pytest.mark.parametrize(
    ("method", "expected"),
    [("fifo", [(1, D(10)), (2, D(5))]), ("lifo", [(3, D(10)), (2, D(5))]), ("hifo", [(2, D(10)), (3, D(5))])],
)
def test_lot_methods_pick_the_expected_lots(method, expected):
    # when
    picks = lots_select(lots=LOTS, symbol="A", quantity=D(15), method=method)
    # then
    assert [(p.lot_id, p.quantity) for p in picks] == expected


def test_specific_lots_are_consumed_first_then_fifo():
    picks = lots_select(lots=LOTS, symbol="A", quantity=D(12), lot_ids=[3])
    assert [(p.lot_id, p.quantity) for p in picks] == [(3, D(10)), (1, D(2))]


def test_selling_more_than_the_open_lots_raises():
    with pytest.raises(LotSelectionError) as err:
        lots_select(lots=LOTS, symbol="A", quantity=D(31))
    assert err.value.available == D(30)


def test_realized_gains_split_proceeds_and_classify_holding_period():
    # given 15 shares FIFO sold for 1800 net on AS_OF
    picks = lots_select(lots=LOTS, symbol="A", quantity=D(15), method="fifo")
    # when
    out = realized_gains(picks=picks, proceeds=D("1800"), sold_on=AS_OF)
    # then 10/15 of 1800 = 1200 vs cost 1000; 5/15 = 600 vs cost 750
    assert [(r.proceeds, r.cost, r.gain, r.holding_period) for r in out] == [
        (D("1200.0000"), D("1000.0000"), D("200.0000"), "long"),
        (D("600"), D("750.0000"), D("-150.0000"), "long"),
    ]


def test_holding_period_is_long_only_after_the_first_anniversary():
    assert holding_period(date(2023, 6, 3), date(2024, 6, 3)) == "short"
    assert holding_period(date(2023, 6, 3), date(2024, 6, 4)) == "long"
    assert holding_period(date(2024, 2, 29), date(2025, 2, 28)) == "short"
    assert holding_period(date(2024, 2, 29), date(2025, 3, 1)) == "long"  # period 1 March - 28 February


CLASSES = {"A": "equity", "B": "equity", "C": "equity", "L": "equity", "T": "bond"}
CORR = {"A": {"B": 0.9, "C": 0.85, "L": 0.6, "T": 0.95}, "B": {"A": 0.9}, "C": {"A": 0.85}, "L": {"A": 0.6}}
OLD_LOTS = [Lot(1, "A", D(10), D("150"), date(2023, 1, 10)), Lot(2, "A", D(10), D("80"), date(2023, 2, 10))]


def test_harvest_picks_losing_lots_and_the_most_correlated_same_class_replacement():
    # given A at 100: lot 1 is 33 % under cost, lot 2 is in profit
    # when
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES,
        universe=["A", "B", "C", "T"], correlations=CORR,
    )
    # then T correlates more but is a bond; B is the same asset class
    (cand,) = report.candidates
    assert (cand.symbol, cand.lot_ids, cand.quantity, cand.loss, cand.replacement) == ("A", (1,), D(10), D(500), "B")
    assert cand.correlation == 0.9


def test_a_recent_buy_blocks_the_harvest_wash_sale():
    # given A bought 20 days ago
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["B"],
        correlations=CORR, recent_buys=[("A", date(2024, 5, 14))],
    )
    # then
    assert report.candidates == ()
    assert report.blocked[0][0] == "A" and "wash-sale" in report.blocked[0][1]


def test_a_buy_31_days_ago_does_not_block():
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["B"],
        correlations=CORR, recent_buys=[("A", date(2024, 5, 3))],
    )
    assert [c.symbol for c in report.candidates] == ["A"]


def test_a_pending_buy_blocks_the_harvest():
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["B"],
        correlations=CORR, pending_buys={"A"},
    )
    assert report.candidates == () and "wash sale" in report.blocked[0][1]


def test_a_replacement_sold_at_a_loss_recently_is_not_bought_back():
    # given B was sold at a loss 10 days ago → only C (0.85 ≥ 0.8) remains
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["B", "C"],
        correlations=CORR, recent_loss_sales=[("B", date(2024, 5, 24))],
    )
    assert report.candidates[0].replacement == "C"


def test_a_loosely_correlated_replacement_is_no_substitute_and_the_loss_is_kept():
    # given the only same-class candidate L correlates 0.6 with A (below the default 0.8)
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["L"],
        correlations=CORR,
    )
    # then nothing is harvested (the tracking risk of a loose substitute costs more than the
    # tax it saves: docs/benchmarks/tax.md), unless the bar is lowered explicitly
    assert report.candidates == ()
    lowered = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["L"],
        correlations=CORR, settings=HarvestSettings(min_correlation=0.5),
    )
    assert [c.replacement for c in lowered.candidates] == ["L"]


def test_losses_under_the_threshold_are_not_harvested():
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(145)}, as_of=AS_OF, asset_classes=CLASSES, universe=["B"],
        correlations=CORR, settings=HarvestSettings(loss_threshold=0.05),
    )
    assert report.candidates == ()  # 150 → 145 is a 3.3 % loss


def test_wash_sale_blocked_symbols_cover_the_last_30_days():
    sales = [("A", date(2024, 5, 4)), ("B", date(2024, 5, 3))]
    assert wash_sale_blocked_symbols(as_of=AS_OF, loss_sales=sales) == {"A"}


def test_harvest_targets_move_weight_to_the_replacement():
    report = harvest_candidates(
        lots=OLD_LOTS, prices={"A": D(100)}, as_of=AS_OF, asset_classes=CLASSES, universe=["B"], correlations=CORR,
    )
    targets = harvest_targets_adjust(target_weights={"A": 0.5, "T": 0.5}, candidates=report.candidates, total_value=D(4000))
    assert targets == pytest.approx({"A": 0.25, "B": 0.25, "T": 0.5})


def test_rebalance_plan_harvests_with_named_lots_and_tags():
    # given 20 A (value 2000) + 2000 cash, targets A 50 %
    settings_ = TradeSettings(cash_buffer=D("0"), commission_rate=D("0"), slippage_bps=D("0"), min_trade_value=D("1"))
    # when
    plan = rebalance_plan(
        quantities={"A": D(20)}, prices={"A": D(100), "B": D(50)}, cash=D(2000),
        target_weights={"A": 0.5}, settings=settings_, as_of=AS_OF, lots=OLD_LOTS,
        harvest=HarvestSettings(), asset_classes=CLASSES, correlations=CORR,
    )
    # then 10 A (lot 1) are sold and B bought for the same value; the 2000 cash stays out
    sell, buy = plan.trades
    assert (sell.side, sell.symbol, sell.quantity, sell.lot_ids, sell.tags) == ("sell", "A", D(10), (1,), (HARVEST_TAG,))
    assert (buy.side, buy.symbol, buy.quantity, buy.tags) == ("buy", "B", D(20), (REPLACEMENT_TAG,))


def test_rebalance_plan_never_buys_back_a_symbol_sold_at_a_loss_within_30_days():
    settings_ = TradeSettings(cash_buffer=D("0"), commission_rate=D("0"), slippage_bps=D("0"), min_trade_value=D("1"))
    plan = rebalance_plan(
        quantities={}, prices={"A": D(100)}, cash=D(1000), target_weights={"A": 1.0}, settings=settings_,
        as_of=AS_OF, recent_loss_sales=[("A", date(2024, 5, 20))],
    )
    assert plan.trades == () and plan.wash_sale_capped == ("A",)
