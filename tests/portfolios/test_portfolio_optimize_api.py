"""POST portfolios/{id}/optimize: universe and constraints from the portfolio; stored."""

import math
from datetime import date, timedelta
from decimal import Decimal as D

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
