"""The risk endpoints' JSON, pinned byte for byte (floats exactly) on the seeded market:
recorded before their payload rules moved from ``risk/apis.py`` into the selectors
(issue 22: thin APIs), so the move cannot change a response. Only the database's ids and
timestamps, and today's date (an empty portfolio's ``as_of``), are left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from tests.pins import check_or_record

PINS = Path(__file__).with_name("api_pins.json")
VOLATILE = {"id", "created_at", "last_seen_at", "acknowledged_at", "portfolio_id"}


def _stable(body):
    """The body without the database's ids and timestamps (kept: that each is there)."""
    if isinstance(body, dict):
        return {k: ("<volatile>" if k in VOLATILE and v is not None else _stable(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return "<today>" if body == timezone.localdate().isoformat() else body


def _pinned(name, response):
    check_or_record(PINS, name, {"status": response.status_code, "body": _stable(response.json())}, exact=True)


VAR_REQUESTS = {
    "weights_historical": {"weights": {"AAA": 0.5, "BND": 0.3}, "confidence_level": 0.99},
    "portfolio_parametric": {"portfolio_id": True, "method": "parametric"},
    "portfolio_monte_carlo": {"portfolio_id": True, "method": "monte_carlo", "n_simulations": 5000,
                              "distribution": "t", "horizon_days": 5, "seed": 3},
    "portfolio_cornish_fisher": {"portfolio_id": True, "method": "cornish_fisher", "start": "2022-03-01"},
}


@pytest.mark.parametrize("case", sorted(VAR_REQUESTS))
def test_var_responses_are_pinned(investor_client, portfolio, case):
    # given
    payload = dict(VAR_REQUESTS[case])
    if payload.get("portfolio_id"):
        payload["portfolio_id"] = portfolio.pk
    # when
    response = investor_client.post("/api/v1/risk/var", payload, format="json")
    # then
    _pinned(f"var-{case}", response)


def test_scenario_list_is_pinned(investor_client):
    _pinned("scenarios", investor_client.get("/api/v1/risk/scenarios"))


STRESS_REQUESTS = {
    "weights_mixed": {"weights": {"AAA": 0.5, "BND": 0.3, "CRY": 0.2},
                      "scenarios": ["covid_crash_2020", "crypto_crash_60"],
                      "custom_scenarios": [{"name": "my_crash", "shocks": {"equity": -0.5},
                                            "symbol_shocks": {"BND": 0.1}}]},
    "weights_all": {"weights": {"AAA": 0.6, "SPY": 0.4}},
    "weights_none": {"weights": {"AAA": 0.6}, "scenarios": []},
    "portfolio_all": {"portfolio_id": True},
    "portfolio_no_replay": {"portfolio_id": True, "replay": False, "scenarios": ["rate_shock_2022"]},
}


@pytest.mark.parametrize("case", sorted(STRESS_REQUESTS))
def test_stress_responses_are_pinned(investor_client, portfolio, case):
    # given
    payload = dict(STRESS_REQUESTS[case])
    if payload.get("portfolio_id"):
        payload["portfolio_id"] = portfolio.pk
    # when
    response = investor_client.post("/api/v1/risk/stress-test", payload, format="json")
    # then
    _pinned(f"stress-{case}", response)


def test_portfolio_risk_with_a_snapshot_and_alerts_is_pinned(investor_client, portfolio):
    # given
    from risk.services import risk_snapshot_take

    risk_snapshot_take(portfolio=portfolio)
    # when
    response = investor_client.get(f"/api/v1/portfolios/{portfolio.pk}/risk")
    # then
    _pinned("portfolio_risk", response)


def test_portfolio_risk_of_an_empty_portfolio_is_pinned(investor_client, investor, market):
    from tests.risk.conftest import make_portfolio

    empty = make_portfolio(investor, {})
    _pinned("portfolio_risk-empty", investor_client.get(f"/api/v1/portfolios/{empty.pk}/risk"))


def test_portfolio_risk_of_a_short_history_is_pinned(investor_client, investor, db):
    # given: 20 days of prices, fewer than the 30 the risk figures need
    from tests.risk.conftest import CLASSES, DAYS, make_market, make_portfolio

    make_market(CLASSES, DAYS[:20])
    short = make_portfolio(investor, {"AAA": "10", "BND": "5"})
    _pinned("portfolio_risk-short", investor_client.get(f"/api/v1/portfolios/{short.pk}/risk"))
