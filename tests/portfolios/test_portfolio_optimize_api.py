"""POST portfolios/{id}/optimize: universe and constraints from the portfolio; stored."""

import math
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from portfolios.models import PortfolioOptimization
from portfolios.services import autonomy_update, cash_deposit, portfolio_create, trades_execute
from portfolios.trading import ProposedTrade


def _history(bars_make, days=80):
    start = date(2023, 1, 2)
    for i in range(days):
        day = start + timedelta(days=i)
        bars_make(day, {
            "AAA": f"{100 * math.exp(0.002 * i + 0.02 * math.sin(i)):.4f}",
            "BBB": f"{50 * math.exp(0.001 * i + 0.015 * math.cos(1.3 * i)):.4f}",
            "CCC": f"{20 * math.exp(0.0015 * i + 0.01 * math.sin(0.7 * i + 1)):.4f}",
        })
    return start + timedelta(days=days - 1)


def test_optimize_uses_holdings_and_settings_and_stores_the_result(investor, investor_client, bars_make):
    # given a portfolio holding AAA, BBB, CCC with a 50 % position cap
    last = _history(bars_make)
    p = portfolio_create(owner=investor, name="Opt")
    cash_deposit(portfolio=p, amount=D("10000"))
    trades_execute(
        portfolio=p,
        trades=[ProposedTrade(s, "buy", D(5), D(0), D(0), "t") for s in ("AAA", "BBB", "CCC")],
        as_of=last,
    )
    autonomy_update(portfolio=p, data={"constraints": {"max_position": 0.5}})
    # when
    response = investor_client.post(f"/api/v1/portfolios/{p.pk}/optimize", {"objective": "min_volatility"}, format="json")
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body["weights"]) == {"AAA", "BBB", "CCC"}
    assert max(body["weights"].values()) <= 0.5 + 1e-6
    record = PortfolioOptimization.objects.get(pk=body["optimization_id"])
    assert (record.portfolio_id, record.objective, record.status) == (p.pk, "min_volatility", "optimal")
    assert record.constraints["max_position"] == 0.5
    assert record.weights == body["weights"]


def test_optimize_an_empty_portfolio_without_universe_is_422(investor, investor_client):
    p = portfolio_create(owner=investor, name="Empty")
    response = investor_client.post(f"/api/v1/portfolios/{p.pk}/optimize", {}, format="json")
    assert response.status_code == 422 and response.json()["errors"][0]["attr"] == "universe"
    assert PortfolioOptimization.objects.count() == 0


def test_another_users_portfolio_cannot_be_optimized(investor, other_client):
    p = portfolio_create(owner=investor, name="Mine")
    assert other_client.post(f"/api/v1/portfolios/{p.pk}/optimize", {}, format="json").status_code == 404


def _invested_portfolio(investor, bars_make, **settings):
    last = _history(bars_make)
    p = portfolio_create(owner=investor, name="Rebalance")
    cash_deposit(portfolio=p, amount=D("10000"))
    trades_execute(
        portfolio=p,
        trades=[ProposedTrade(s, "buy", D(q), D(0), D(0), "t") for s, q in (("AAA", 25), ("BBB", 55), ("CCC", 140))],
        as_of=last,
    )
    autonomy_update(portfolio=p, data=settings)
    return p, last


def test_the_frontier_starts_from_the_holdings_with_the_portfolios_costs_and_cap(investor, investor_client, bars_make):
    # given: ~90 % invested, 10 bps commission + 10 bps slippage, a 50 % turnover cap (and a
    # 60 % position cap: the default, an equal share of three names, leaves one portfolio)
    from portfolios.selectors import portfolio_state_get

    p, last = _invested_portfolio(
        investor, bars_make, commission_rate=D("0.001"), slippage_bps=D("10"), limits={"max_turnover": 0.5}
    )
    # when
    payload = {"objective": "min_volatility", "frontier_points": 40, "constraints": {"max_position": 0.6}}
    response = investor_client.post(f"/api/v1/portfolios/{p.pk}/optimize", payload, format="json")
    # then: the exact rebalancing path, at the portfolio's cost rate, within its cap from its weights
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["frontier_method"] == "parametric_qp"
    assert body["frontier_transaction_cost"] == 0.002
    assert body["frontier_max_turnover"] == 0.5
    held = portfolio_state_get(portfolio=p, as_of=last).weights
    for point in body["frontier"]:
        turnover = sum(abs(w - float(held.get(s, 0.0))) for s, w in point["weights"].items())
        assert point["turnover"] == pytest.approx(turnover, abs=1e-9)
        assert turnover <= 0.5 + 1e-9
        assert point["transaction_cost"] == pytest.approx(0.002 * turnover, abs=1e-12)


def test_a_cap_no_portfolio_meets_from_mostly_cash_is_left_out_of_the_frontier(investor, investor_client, bars_make):
    # given: 9 % invested; investing the rest needs ~0.9 of turnover, the cap is 0.3
    last = _history(bars_make)
    p = portfolio_create(owner=investor, name="Cash")
    cash_deposit(portfolio=p, amount=D("10000"))
    trades_execute(
        portfolio=p, trades=[ProposedTrade(s, "buy", D(5), D(0), D(0), "t") for s in ("AAA", "BBB", "CCC")], as_of=last
    )
    autonomy_update(portfolio=p, data={"limits": {"max_turnover": 0.3}})
    # when
    response = investor_client.post(f"/api/v1/portfolios/{p.pk}/optimize", {"frontier_points": 10}, format="json")
    # then: a frontier all the same, its cap reported as none
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["frontier_max_turnover"] is None
    assert body["frontier_transaction_cost"] == 0.001  # the defaults: 5 bps + 5 bps
    assert len(body["frontier"]) == 10


def test_a_misspelt_option_is_400_naming_it_and_nothing_is_stored(investor, investor_client):
    # given
    p = portfolio_create(owner=investor, name="Typo")
    # when
    response = investor_client.post(
        f"/api/v1/portfolios/{p.pk}/optimize",
        {"objective": "min_cvar", "cvar_bta": 0.9},
        format="json",
    )
    # then
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert (error["attr"], error["detail"]) == (
        "cvar_bta",
        "unknown field 'cvar_bta' (did you mean 'cvar_beta'?)",
    )
    assert PortfolioOptimization.objects.count() == 0


def test_an_infeasible_optimization_is_422_and_stored_as_failed_with_its_error(investor, investor_client, bars_make):
    # given three names held and a 10 % position cap (three names cannot hold 100 %)
    p, _ = _invested_portfolio(investor, bars_make)
    # when
    response = investor_client.post(
        f"/api/v1/portfolios/{p.pk}/optimize", {"objective": "min_volatility", "constraints": {"max_position": 0.1}},
        format="json",
    )
    # then
    assert response.status_code == 422, response.json()
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == ("infeasible_constraints", "constraints")
    record = PortfolioOptimization.objects.get()
    assert (record.portfolio_id, record.objective, record.status, record.error) == (
        p.pk, "min_volatility", "failed", error["detail"],
    )
    assert (record.constraints["max_position"], record.weights) == (0.1, {})
