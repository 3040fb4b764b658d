"""Loss harvesting on a book of several symbols: exact candidates, reasons and edge paths (DB-free).

Pinned before ``harvest_candidates`` was split into named steps (issue 22): the loss order,
replacements not reused, the budget, the benefit test (short- and long-term rates, trading
costs, tracking risk), ranked replacements, wash-sale blocks and skipped lots.
"""

from datetime import date
from decimal import Decimal as D

from portfolios.tax import HarvestSettings, Lot, harvest_candidates

AS_OF = date(2024, 6, 3)
LOTS = [
    Lot(1, "A", D(10), D("150"), date(2023, 1, 10)),  # long-term, 500 under cost
    Lot(2, "A", D(5), D("140"), date(2024, 3, 1)),  # short-term, 200 under cost
    Lot(3, "C", D(20), D("30"), date(2023, 5, 1)),  # long-term, 100 under cost
    Lot(4, "E", D(8), D("50"), date(2024, 5, 20)),  # acquired 14 days ago: a wash sale
    Lot(5, "F", D(0), D("50"), date(2023, 1, 2)),  # closed: skipped
    Lot(6, "G", D(3), D("50"), date(2023, 1, 2)),  # no price: skipped
    Lot(7, "H", D(10), D("10"), date(2023, 1, 2)),  # 2 % under cost: under the 5 % threshold
]
PRICES = {"A": D(100), "C": D(25), "E": D(40), "F": D(10), "H": D("9.8")}
CLASSES = dict.fromkeys("ABCDEFGH", "equity")
CORR = {"A": {"B": 0.95, "D": 0.9}, "C": {"B": 0.9, "D": 0.85}, "E": {"B": 0.9}}
E_BLOCKED = ("E", "E was bought in the last 30 days (wash-sale rule)")


def harvest(**overrides):
    args = {"lots": LOTS, "prices": PRICES, "as_of": AS_OF, "asset_classes": CLASSES, "universe": ["B", "D"],
            "correlations": CORR}
    return harvest_candidates(**(args | overrides))


def summary(report):
    return [(c.symbol, c.lot_ids, c.quantity, c.cost, c.market_value, c.loss, c.replacement, c.correlation)
            for c in report.candidates]


def test_the_largest_loss_takes_the_best_replacement_and_the_next_one_the_second_best():
    # when
    report = harvest()
    # then
    assert summary(report) == [
        ("A", (1, 2), D(15), D(2200), D(1500), D(700), "B", 0.95),
        ("C", (3,), D(20), D(600), D(500), D(100), "D", 0.85),
    ]
    assert [c.reason for c in report.candidates] == [
        "Harvest a 700.00 loss on A (31.8% below cost) and keep the exposure through B (correlation 0.95), "
        "same asset class.",
        "Harvest a 100.00 loss on C (16.7% below cost) and keep the exposure through D (correlation 0.85), "
        "same asset class.",
    ]
    assert (report.blocked, report.wash_blocked, report.total_loss) == ((E_BLOCKED,), ("E",), D(800))


def test_a_budget_takes_the_costliest_lots_that_fit_and_blocks_a_symbol_with_no_room():
    # when: 600 of room takes A's 500 lot (its 200 lot no longer fits) and C's 100
    fitting = harvest(budget=D(600))
    none_fits = harvest(budget=D(50))
    # then
    assert summary(fitting) == [
        ("A", (1,), D(10), D(1500), D(1000), D(500), "B", 0.95),
        ("C", (3,), D(20), D(600), D(500), D(100), "D", 0.85),
    ]
    assert fitting.candidates[0].reason.startswith("Harvest a 500.00 loss on A (33.3% below cost)")
    assert none_fits.candidates == ()
    assert none_fits.blocked == (
        ("A", "the year's gains and deduction leave no room to use a loss on A"),
        ("C", "the year's gains and deduction leave no room to use a loss on C"),
        E_BLOCKED,
    )


def test_a_harvest_that_does_not_pay_its_trading_costs_or_tracking_risk_is_blocked_with_the_numbers():
    # when: 1 % a trade (four trades) and a volatile A/B pair
    costly = harvest(settings=HarvestSettings(trade_cost_rate=0.01))
    tracking = harvest(pair_volatility=lambda a, b: 0.5 if a == "A" else 0.05)
    # then: C saves 100 x 15 % = 15 against 4 x 1 % x 500 = 20
    assert [c.symbol for c in costly.candidates] == ["A"]
    assert costly.blocked == (
        ("C", "harvesting C does not pay: saves about 15.00 in tax against 20.00 of trading costs and 0.00 of "
              "tracking risk"),
        E_BLOCKED,
    )
    # and A saves 500 x 15 % + 200 x 35 % = 145 against 0.5 x sqrt(30 / 365) x 1500 = 215.02; C then takes B
    assert summary(tracking) == [("C", (3,), D(20), D(600), D(500), D(100), "B", 0.9)]
    assert tracking.blocked == (
        ("A", "harvesting A does not pay: saves about 145.00 in tax against 0.00 of trading costs and 215.02 of "
              "tracking risk"),
        E_BLOCKED,
    )


def test_ranked_replacements_skip_harvested_symbols_and_a_pending_buy_is_a_wash_sale():
    # when: A's ranking starts with E, which is itself losing
    report = harvest(ranked_replacements={"A": ["E", "D", "B"]}, pending_buys=["C"])
    # then
    assert summary(report) == [("A", (1, 2), D(15), D(2200), D(1500), D(700), "D", 0.9)]
    assert report.blocked == (("C", "this plan buys C; selling it at a loss would be a wash sale"), E_BLOCKED)
    assert report.wash_blocked == ("C", "E")


def test_excluded_and_recently_loss_sold_replacements_leave_no_replacement():
    # when
    report = harvest(excluded=["B"], recent_loss_sales=[("D", date(2024, 5, 10))])
    # then
    assert report.candidates == ()
    assert report.blocked == (
        ("A", "no allowed correlated replacement for A in its asset class"),
        ("C", "no allowed correlated replacement for C in its asset class"),
        E_BLOCKED,
    )
    assert report.wash_blocked == ("E",)


def test_a_minimum_loss_drops_small_lots_and_no_lots_give_an_empty_report():
    # when: C's 100 and E's 80 are under a 150 minimum
    report = harvest(settings=HarvestSettings(min_loss=D(150)))
    empty = harvest(lots=[])
    # then
    assert summary(report) == [("A", (1, 2), D(15), D(2200), D(1500), D(700), "B", 0.95)]
    assert (report.blocked, report.wash_blocked) == ((), ())
    assert (empty.candidates, empty.blocked, empty.wash_blocked, empty.total_loss) == ((), (), (), D(0))
