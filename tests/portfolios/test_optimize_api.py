"""POST /api/v1/optimize: schema, results against the engine, every error status."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolios.optimization import mean_historical_return, optimize, sample_cov

URL = "/api/v1/optimize"
SYMBOLS = ["AAPL", "AMZN", "JPM", "XOM", "PFE", "WMT"]
DATA = Path("/work/shared/data/stock_prices.csv")
if not DATA.exists():  # pragma: no cover - another checkout layout
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "stock_prices.csv"


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    frame = pd.read_csv(DATA, parse_dates=["date"], index_col="date")
    return frame.loc["2016-01-01":, SYMBOLS]


@pytest.fixture
def market(db, prices):
    from marketdata.services import asset_upsert, prices_upsert

    sectors = {
        "AAPL": "technology",
        "AMZN": "technology",
        "JPM": "financials",
        "XOM": "energy",
        "PFE": "health",
        "WMT": "consumer",
    }
    for symbol in SYMBOLS:
        asset_upsert(
            symbol=symbol,
            sector=sectors[symbol],
            esg_flags=["fossil_fuels"] if symbol == "XOM" else [],
            esg_score=20.0 if symbol == "WMT" else 70.0,
        )
    tidy = prices.stack().rename("adj_close").reset_index()
    tidy.columns = ["date", "symbol", "adj_close"]
    for column in ("open", "high", "low", "close"):
        tidy[column] = tidy["adj_close"]
    tidy["volume"] = 1000
    prices_upsert(
        frame=tidy[["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]],
        provider="test",
    )
    return prices


def _engine(prices: pd.DataFrame, **kwargs):
    returns = prices.pct_change().iloc[1:]
    return optimize(
        expected_returns=mean_historical_return(returns), cov=sample_cov(returns), **kwargs
    )


def test_max_sharpe_matches_the_engine_on_the_stored_window(investor_client, market):
    # given
    expected = _engine(
        market.loc["2016-06-01":"2017-12-31"], objective="max_sharpe", risk_free_rate=0.02
    )
    # when
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "start": "2016-06-01",
            "end": "2017-12-31",
            "objective": "max_sharpe",
            "risk_free_rate": 0.02,
        },
        format="json",
    )
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    np.testing.assert_allclose(
        [body["weights"][s] for s in SYMBOLS], expected.weights[SYMBOLS], atol=1e-7
    )
    assert body["sharpe_ratio"] == pytest.approx(expected.sharpe_ratio, abs=1e-9)
    assert body["expected_return"] == pytest.approx(expected.expected_return, abs=1e-9)
    assert body["volatility"] == pytest.approx(expected.volatility, abs=1e-9)
    assert body["start"] == "2016-06-02" and body["end"] == "2017-12-29"
    assert body["frontier"] is None


def test_frontier_and_png(investor_client, market):
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "objective": "min_volatility",
            "frontier_points": 30,
            "frontier_plot": True,
            "risk_free_rate": 0.02,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    frontier = body["frontier"]
    assert len(frontier) == 30
    assert all(
        b["expected_return"] > a["expected_return"]
        for a, b in itertools.pairwise(frontier)
    )
    assert frontier[0]["volatility"] == pytest.approx(body["volatility"], abs=1e-8)
    assert body["frontier_method"] == "parametric_qp"
    assert base64.b64decode(body["frontier_png"])[:4] == b"\x89PNG"
    assert (
        body["frontier_max_sharpe"]["sharpe_ratio"]
        >= max(p["sharpe_ratio"] for p in frontier) - 1e-12
    )


def test_esg_flags_and_score_exclude_assets(investor_client, market):
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "objective": "min_volatility",
            "constraints": {"exclude_esg_flags": ["fossil_fuels"], "min_esg_score": 50},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["weights"]["XOM"] == 0
    assert response.json()["weights"]["WMT"] == 0


def test_sectors_come_from_the_assets(investor_client, market):
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "objective": "max_sharpe",
            "constraints": {"sector_max": {"technology": 0.3}},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    weights = response.json()["weights"]
    assert weights["AAPL"] + weights["AMZN"] <= 0.3 + 1e-8


def test_infeasible_constraints_are_a_422_naming_them(investor_client, market):
    # when
    response = investor_client.post(
        URL,
        {"universe": SYMBOLS, "constraints": {"sector_min": {"technology": 0.7, "energy": 0.5}}},
        format="json",
    )
    # then
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"] == [
        {
            "code": "infeasible_constraints",
            "detail": "infeasible constraints: sector minimums sum to 1.2, more than the 1 to invest",
            "attr": "constraints",
        }
    ]


def test_unreachable_target_is_a_422(investor_client, market):
    response = investor_client.post(
        URL,
        {"universe": SYMBOLS, "objective": "efficient_return", "target_return": 5},
        format="json",
    )
    assert response.status_code == 422
    assert (
        "the highest expected return the constraints allow"
        in response.json()["errors"][0]["detail"]
    )


def test_explicit_maps_are_used_and_must_be_complete(investor_client, market):
    # given: a diagonal covariance and explicit returns -> min volatility is inverse-variance
    variances = {"AAPL": 0.04, "AMZN": 0.09, "JPM": 0.16, "XOM": 0.04, "PFE": 0.01, "WMT": 0.25}
    cov = {a: {b: (variances[a] if a == b else 0.0) for b in SYMBOLS} for a in SYMBOLS}
    mu = dict.fromkeys(SYMBOLS, 0.05)
    # when
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "objective": "min_volatility",
            "covariance": cov,
            "expected_returns_values": mu,
        },
        format="json",
    )
    # then
    assert response.status_code == 200, response.json()
    inverse = {s: 1 / v for s, v in variances.items()}
    total = sum(inverse.values())
    for s in SYMBOLS:
        assert response.json()["weights"][s] == pytest.approx(inverse[s] / total, abs=1e-7)
    missing = investor_client.post(
        URL, {"universe": SYMBOLS, "expected_returns_values": {"AAPL": 0.1}}, format="json"
    )
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["attr"] == "expected_returns_values"
    # a map where an estimator's name belongs is a 400 naming the field (the maps have their own)
    polymorphic = investor_client.post(URL, {"universe": SYMBOLS, "expected_returns": mu}, format="json")
    assert polymorphic.status_code == 400
    assert polymorphic.json()["errors"][0]["attr"] == "expected_returns"


def test_black_litterman_views_and_risk_parity(investor_client, market):
    bl = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "objective": "black_litterman",
            "views": [{"long": "JPM", "short": "AAPL", "value": 0.1, "confidence": 0.8}],
        },
        format="json",
    )
    assert bl.status_code == 200, bl.json()
    posterior = bl.json()["posterior_returns"]
    assert posterior["JPM"] > posterior["AAPL"]
    rp = investor_client.post(URL, {"universe": SYMBOLS, "objective": "risk_parity"}, format="json")
    assert rp.status_code == 200
    np.testing.assert_allclose(list(rp.json()["risk_contributions"].values()), 1 / 6, atol=1e-8)


@pytest.mark.parametrize(
    ("payload", "status", "attr"),
    [
        ({"universe": ["AAPL", "NOPE"]}, 422, "universe"),
        ({"universe": []}, 400, "universe"),
        ({"universe": ["AAPL", "AAPL"]}, 400, "universe"),
        ({"universe": SYMBOLS, "start": "2018-01-01", "end": "2017-01-01"}, 400, "end"),
        ({"universe": SYMBOLS, "start": "2018-04-01"}, 400, "start"),
        ({"universe": SYMBOLS, "frontier_points": 501}, 400, "frontier_points"),
        ({"universe": SYMBOLS, "objective": "efficient_risk"}, 400, "target_volatility"),
        ({"universe": SYMBOLS, "objective": "moonshot"}, 400, "objective"),
        ({"universe": SYMBOLS, "risk_model": "astrology"}, 400, "risk_model"),
        ({"universe": SYMBOLS, "views": [{"value": 0.1}]}, 400, "views.0.non_field_errors"),
        (
            {"universe": SYMBOLS, "constraints": {"max_holdings": 2}, "objective": "hrp"},
            400,
            "constraints",
        ),
        (
            {"universe": SYMBOLS, "constraints": {"transaction_cost": 0.001}, "objective": "hrp"},
            400,
            "constraints.transaction_cost",
        ),
        (
            {"universe": SYMBOLS, "objective": "max_sharpe", "target_return": 0.1},
            400,
            "target_return",
        ),
        (
            {
                "universe": SYMBOLS,
                "objective": "min_volatility",
                "views": [{"symbol": "AAPL", "value": 0.1}],
            },
            400,
            "views",
        ),
    ],
)
def test_bad_requests_name_the_field(investor_client, market, payload, status, attr):
    response = investor_client.post(URL, payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["errors"][0]["attr"] == attr


def test_an_option_the_objective_cannot_honour_is_refused_not_ignored(investor_client, market):
    # when
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "objective": "risk_parity",
            "constraints": {"transaction_cost": 0.001},
            "current_weights": dict.fromkeys(SYMBOLS, 1 / 6),
        },
        format="json",
    )
    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "code": "unsupported",
            "detail": "transaction_cost is not supported by risk_parity, which sets weights from "
            "risk alone; use min_volatility, min_cvar or max_utility, which charge it",
            "attr": "constraints.transaction_cost",
        }
    ]


def test_requires_authentication(api_client, market):
    response = api_client.post(URL, {"universe": SYMBOLS}, format="json")
    assert response.status_code == 401


def test_schema_documents_the_operation_and_its_422(investor_client, db):
    response = investor_client.get("/api/v1/schema/", {"format": "json"})
    operation = response.json()["paths"]["/api/v1/optimize"]["post"]
    assert {"200", "400", "401", "404", "422"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[
        -1
    ]
    properties = response.json()["components"]["schemas"][body]["properties"]
    assert {
        "universe",
        "start",
        "end",
        "expected_returns",
        "risk_model",
        "objective",
        "risk_free_rate",
        "target_return",
        "target_volatility",
        "views",
        "constraints",
        "frontier_points",
    } <= set(properties)
    assert properties["frontier_points"]["maximum"] == 500


def test_capm_against_a_stored_benchmark(investor_client, market):
    # given: XOM as the "market"; CAPM gives XOM exactly the market's own mean return (beta 1)
    from portfolios.optimization import capm_return

    returns = market.loc["2017-01-01":].pct_change().iloc[1:]
    expected = capm_return(returns, market_returns=returns["XOM"], risk_free_rate=0.02)
    # when
    response = investor_client.post(
        URL,
        {
            "universe": SYMBOLS,
            "start": "2017-01-01",
            "expected_returns": "capm",
            "benchmark": "XOM",
            "risk_free_rate": 0.02,
            "objective": "min_volatility",
        },
        format="json",
    )
    unknown = investor_client.post(
        URL, {"universe": SYMBOLS, "expected_returns": "capm", "benchmark": "NOPE"}, format="json"
    )
    # then
    assert response.status_code == 200, response.json()
    for symbol in SYMBOLS:
        assert response.json()["expected_returns"][symbol] == pytest.approx(
            expected[symbol], abs=1e-10
        )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["attr"] == "benchmark"


def test_frontier_from_current_weights_with_costs_and_a_turnover_cap(investor_client, market):
    # given: holdings, a 0.2 % cost and a 40 % cap
    current = {"AAPL": 0.4, "JPM": 0.3, "XOM": 0.2, "WMT": 0.1}
    payload = {
        "universe": SYMBOLS,
        "objective": "min_volatility",
        "current_weights": current,
        "constraints": {"transaction_cost": 0.002, "max_turnover": 0.4},
        "frontier_points": 100,
    }
    # when
    response = investor_client.post(URL, payload, format="json")
    # then: the exact path, every point within the cap, returns net of its cost
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["frontier_method"] == "parametric_qp"
    assert (body["frontier_transaction_cost"], body["frontier_max_turnover"]) == (0.002, 0.4)
    returns = market.pct_change().iloc[1:]
    mu = mean_historical_return(returns)
    w0 = pd.Series(current).reindex(SYMBOLS, fill_value=0.0)
    assert len(body["frontier"]) == 100
    for point in body["frontier"]:
        w = pd.Series(point["weights"])[SYMBOLS]
        turnover = float((w - w0).abs().sum())
        assert point["turnover"] == pytest.approx(turnover, abs=1e-9)
        assert turnover <= 0.4 + 1e-9
        assert point["transaction_cost"] == pytest.approx(0.002 * turnover, abs=1e-12)
        assert point["expected_return"] == pytest.approx(float(mu @ w) - 0.002 * turnover, abs=1e-9)


def test_cardinality_frontier_has_no_50_point_cap(investor_client, market):
    # when
    response = investor_client.post(
        URL,
        {"universe": SYMBOLS, "constraints": {"max_holdings": 3}, "frontier_points": 100},
        format="json",
    )
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["frontier_method"] == "support_search"
    assert len(body["frontier"]) == 100
    assert max(sum(w > 1e-7 for w in p["weights"].values()) for p in body["frontier"]) <= 3


@pytest.mark.parametrize(
    ("constraints", "attr"),
    [({"transaction_cost": -0.001}, "constraints.transaction_cost"),
     ({"transaction_cost": 0.2}, "constraints.transaction_cost"),
     ({"max_turnover": 2.5}, "constraints.max_turnover")],
)
def test_out_of_range_costs_and_caps_are_400(investor_client, market, constraints, attr):
    payload = {"universe": SYMBOLS, "constraints": constraints, "frontier_points": 10}
    response = investor_client.post(URL, payload, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == attr


def test_a_cap_the_holdings_cannot_meet_is_422_naming_it(investor_client, market):
    # given: all in AAPL, a 30 % position cap, a 50 % turnover cap (selling 70 % needs 140 %)
    payload = {
        "universe": SYMBOLS,
        "current_weights": {"AAPL": 1.0},
        "constraints": {"max_position": 0.3, "max_turnover": 0.5},
        "frontier_points": 10,
    }
    # when
    response = investor_client.post(URL, payload, format="json")
    # then
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == ("infeasible_constraints", "constraints")
    assert "turnover cap 0.5 is below 1.4" in error["detail"]


@pytest.mark.parametrize(
    ("payload", "attr", "detail"),
    [
        (
            {"objective": "kelly", "kelly_fracton": 0.1},
            "kelly_fracton",
            "unknown field 'kelly_fracton' (did you mean 'kelly_fraction'?)",
        ),
        (
            {"objective": "multi_objective", "objective_weights": {"cvar_wieght": 1.0}},
            "objective_weights.cvar_wieght",
            "unknown field 'cvar_wieght' (did you mean 'cvar_weight'?)",
        ),
        ({"zzz": 1}, "zzz", "unknown field 'zzz'"),
    ],
)
def test_a_misspelt_option_is_400_naming_it(investor_client, market, payload, attr, detail):
    # when
    response = investor_client.post(URL, {"universe": SYMBOLS, **payload}, format="json")
    # then: not run at the default
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"], error["detail"]) == ("unknown_field", attr, detail)


def test_the_objective_enum_is_the_registry(investor_client):
    from portfolios.apis.optimize import OptimizeInputSerializer, OptimizeOutputSerializer
    from portfolios.optimization import REGISTRY

    for serializer in (OptimizeInputSerializer, OptimizeOutputSerializer):
        assert list(serializer().fields["objective"].choices) == list(REGISTRY)
