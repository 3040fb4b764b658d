"""ORM-free portfolio states for the pure decision code, loaded in bulk."""

from datetime import date
from decimal import Decimal as D

from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolios.selectors import portfolio_state_get, portfolio_states_get
from portfolios.services import cash_deposit, portfolio_create, trades_execute
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def buy(symbol, qty):
    return ProposedTrade(symbol, "buy", D(qty), D(0), D(0), "t")


def test_state_has_cash_quantities_prices_weights_lots_and_wash_sale_history(portfolio):
    # given AAA bought DAY1 then partly sold at a loss on DAY3 (close 90 < 100)
    trades_execute(portfolio=portfolio, trades=[buy("AAA", 10), buy("BND", 5)], as_of=DAY1)
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("AAA", "sell", D(4), D(0), D(0), "t")], as_of=DAY3)
    portfolio.refresh_from_db()
    # when
    state = portfolio_state_get(portfolio=portfolio, as_of=DAY3)
    # then
    assert state.quantities == {"AAA": D(6), "BND": D(5)}
    assert state.prices == {"AAA": D("90"), "BND": D("80.1")}
    assert state.total_value == portfolio.cash + D(6) * D(90) + D(5) * D("80.1")
    assert abs(sum(state.weights.values()) - float((state.total_value - state.cash) / state.total_value)) < 1e-12
    assert state.asset_classes == {"AAA": "equity", "BND": "bond"}
    assert [(lot.symbol, lot.quantity) for lot in state.lots] == [("AAA", D(6)), ("BND", D(5))]
    assert sorted(state.recent_buys) == [("AAA", DAY1), ("BND", DAY1)]
    assert state.recent_loss_sales == (("AAA", DAY3),)
    assert state.ledger_version == portfolio.ledger_version
    # as of DAY1 the same holdings are valued at DAY1's closes
    assert portfolio_state_get(portfolio=portfolio, as_of=DAY1).prices["AAA"] == D("100")


def test_states_of_many_portfolios_take_a_constant_number_of_queries(owner, market):
    ids = []
    for i in range(6):
        p = portfolio_create(owner=owner, name=f"p{i}")
        cash_deposit(portfolio=p, amount=D("5000"))
        trades_execute(portfolio=p, trades=[buy("AAA", 1 + i), buy("CCC", 2)], as_of=DAY2)
        ids.append(p.pk)
    with CaptureQueriesContext(connection) as two:
        portfolio_states_get(portfolio_ids=ids[:2], as_of=DAY3)
    with CaptureQueriesContext(connection) as six:
        states = portfolio_states_get(portfolio_ids=ids, as_of=DAY3)
    assert len(six) == len(two)
    assert [states[pid].quantities["AAA"] for pid in ids] == [D(n) for n in range(1, 7)]


def test_a_symbol_without_a_close_is_reported_missing(owner, market, bars_make):
    bars_make(DAY3, {"NEW": "10"})
    p = portfolio_create(owner=owner, name="m")
    cash_deposit(portfolio=p, amount=D("1000"))
    trades_execute(portfolio=p, trades=[buy("NEW", 1)], as_of=DAY3)
    state = portfolio_state_get(portfolio=p, as_of=DAY2)  # NEW has no close on or before DAY2
    assert state.missing_prices == ("NEW",) and "NEW" not in state.prices


def test_a_portfolio_by_id_is_any_owners_and_a_missing_one_is_a_404(portfolio):
    # given
    import pytest

    from common.errors import NotFound
    from portfolios.selectors import portfolio_by_id_get

    # when / then
    assert portfolio_by_id_get(portfolio_id=portfolio.pk) == portfolio
    with pytest.raises(NotFound) as err:
        portfolio_by_id_get(portfolio_id=portfolio.pk + 1000)
    assert (err.value.field, err.value.message) == ("portfolio", f"portfolio {portfolio.pk + 1000} does not exist")


def test_states_pin_lots_accrued_dividends_history_and_empty_and_unknown_portfolios(owner, portfolio):
    # given: 4 AAA bought on DAY1 and 2 on DAY2, 3 sold at a loss on DAY3 (the DAY2 buy washes part of it);
    # a BBB dividend accrued on DAY3 and paid later; an empty portfolio; an id that does not exist
    from marketdata.models import Asset, CorporateAction
    from portfolios.services import corporate_actions_apply

    trades_execute(portfolio=portfolio, trades=[buy("AAA", 4), buy("BBB", 10)], as_of=DAY1)
    trades_execute(portfolio=portfolio, trades=[buy("AAA", 2)], as_of=DAY2)
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("AAA", "sell", D(3), D(0), D(0), "t")], as_of=DAY3)
    CorporateAction.objects.create(asset=Asset.objects.get(symbol="BBB"), date=DAY3, kind="dividend", ratio=D("0.4"),
                                   pay_date=date(2024, 1, 10))
    corporate_actions_apply(as_of=DAY3)
    empty = portfolio_create(owner=owner, name="empty")
    # when
    states = portfolio_states_get(portfolio_ids=[portfolio.pk, empty.pk, portfolio.pk + 999], as_of=DAY3)
    light = portfolio_states_get(portfolio_ids=[portfolio.pk], as_of=DAY3, with_lots=False)[portfolio.pk]
    # then: the owed dividend is in the value (exact Decimal digits pinned as text)
    state = states[portfolio.pk]
    assert sorted(states) == sorted([portfolio.pk, empty.pk])
    assert [str(x) for x in (state.cash, state.accrued_dividends, state.total_value)] == [
        "9162.6280", "4.0000", "9931.62800000000000",
    ]
    assert state.quantities == {"AAA": D(3), "BBB": D(10)}
    assert state.weights == {"AAA": 0.027185875266371232, "BBB": 0.0498407713216806}
    portfolio.refresh_from_db()
    assert (state.price_dates, state.ledger_version) == ({"AAA": DAY3, "BBB": DAY3}, portfolio.ledger_version)
    # and the lots: the DAY2 lot's 2 shares carry the washed loss in their basis
    assert [(lot.symbol, lot.quantity, str(lot.cost_per_share), lot.acquired_on) for lot in state.lots] == [
        ("AAA", D(1), "100.35", DAY1), ("BBB", D(10), "50.15", DAY1), ("AAA", D(2), "112.37435", DAY1),
    ]
    # one loss sale closing two lots is listed twice: .distinct() keeps LotClosing's ordering column (as before
    # the split; the wash-sale checks read it as a set)
    assert (state.recent_buys, state.recent_loss_sales, state.missing_prices) == (
        (("AAA", DAY1), ("BBB", DAY1), ("AAA", DAY2)), (("AAA", DAY3), ("AAA", DAY3)), (),
    )
    assert (light.lots, light.recent_buys, light.recent_loss_sales) == ((), (), ())
    assert (light.total_value, light.weights) == (state.total_value, state.weights)
    blank = states[empty.pk]
    assert [str(x) for x in (blank.cash, blank.total_value, blank.accrued_dividends)] == ["0.0000", "0.0000", "0"]
    assert (blank.quantities, blank.prices, blank.weights, blank.lots, blank.ledger_version) == ({}, {}, {}, (), 0)
