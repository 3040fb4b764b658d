"""VaR backtests through the API, the nightly service, the task and the admin (issue 16)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.test import Client

from marketdata.models import Asset, PriceBar
from risk.measures.backtest import var_model_backtest
from risk.measures.var_models import VaRModelConfig
from risk.models import VaRBacktest
from risk.tasks import var_backtests_record_task
from risk.var_backtest_services import var_backtests_record
from tests.risk.conftest import make_market, make_portfolio

URL = "/api/v1/risk/var/backtest"
LONG_DAYS = pd.bdate_range("2016-01-01", periods=900)


@pytest.fixture
def long_market(db) -> pd.DataFrame:
    return make_market({"LA": "equity", "LB": "equity", "LC": "bond"}, LONG_DAYS, seed=9)


def _fat_tailed_asset(symbol: str = "FAT") -> pd.Series:
    """Normal 1 % days and a 12 % crash every 120 days: every 250-day window's excess
    kurtosis is far above Cornish-Fisher's monotone domain (0..8 without skew)."""
    rng = np.random.default_rng(4)
    returns = 0.01 * rng.standard_normal(len(LONG_DAYS))
    returns[::120] = -0.12
    prices = 100 * np.cumprod(1 + returns)
    asset = Asset.objects.create(symbol=symbol, name=symbol, asset_class="equity")
    PriceBar.objects.bulk_create([
        PriceBar(asset=asset, date=d.date(), open=Decimal(f"{p:.6f}"), high=Decimal(f"{p:.6f}"),
                 low=Decimal(f"{p:.6f}"), close=Decimal(f"{p:.6f}"), adj_close=Decimal(f"{p:.6f}"), volume=1)
        for d, p in zip(LONG_DAYS, prices, strict=True)])
    return pd.Series(prices, index=LONG_DAYS)


def _expected(prices: pd.DataFrame, weights: dict, start: str, method: str = "adaptive", level: float = 0.99,
              window: int = 250):
    returns = prices[list(weights)].pct_change().iloc[1:] @ pd.Series(weights)
    return var_model_backtest(returns, method=method, confidence_level=level,
                              config=VaRModelConfig(window_days=window), test_start=pd.Timestamp(start)).summary


def test_a_backtest_of_weights_is_the_engines_with_exactly_the_listed_fields(investor_client, long_market):
    # given
    weights = {"LA": 0.6, "LC": 0.3}
    # when the method is omitted: the default model
    response = investor_client.post(URL, {"weights": weights, "start": "2017-06-01", "end": "2019-06-28"},
                                    format="json")
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"method", "observations", "exceptions", "kupiec_p", "christoffersen_p", "blocks"}
    expected = _expected(long_market[long_market.index <= "2019-06-28"], weights, "2017-06-01")
    assert body["method"] == "adaptive"
    assert (body["observations"], body["exceptions"]) == (expected.observations, expected.exceptions)
    assert body["kupiec_p"] == pytest.approx(expected.kupiec.p_value, rel=1e-9)
    assert body["christoffersen_p"] == pytest.approx(expected.christoffersen.p_value, rel=1e-9)
    assert body["blocks"] == [{"start": b.start.date().isoformat(), "end": b.end.date().isoformat(),
                               "exceptions": b.exceptions, "zone": b.zone} for b in expected.blocks]
    assert len(body["blocks"]) == 2 and body["blocks"][-1]["end"] == LONG_DAYS[-1].date().isoformat()


def test_every_method_and_level_runs(investor_client, long_market):
    for method in ("historical", "parametric", "ewma", "fhs_ewma", "garch_t", "fhs_garch", "monte_carlo_t"):
        response = investor_client.post(URL, {"weights": {"LB": 1.0}, "method": method, "start": "2018-01-01",
                                              "confidence_level": 0.975, "window_days": 120}, format="json")
        assert response.status_code == 200, (method, response.json())
        expected = _expected(long_market, {"LB": 1.0}, "2018-01-01", method, 0.975, 120)
        assert response.json()["exceptions"] == expected.exceptions, method


def test_cornish_fisher_is_refused_where_its_expansion_is_not_monotone(investor_client, db):
    _fat_tailed_asset()
    response = investor_client.post(URL, {"weights": {"FAT": 1.0}, "method": "cornish_fisher"}, format="json")
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("method", "cornish_fisher_not_monotone")
    # the default model backtests the same asset
    assert investor_client.post(URL, {"weights": {"FAT": 1.0}}, format="json").status_code == 200


@pytest.mark.parametrize(("payload", "status", "attr"), [
    ({"weights": {"NOPE": 1.0}}, 422, "weights"),  # a body field, not a path object: 422 (main)
    ({}, 400, "weights"),
    ({"weights": {}}, 400, "weights"),
    ({"weights": {"LA": "half"}}, 400, "weights.LA"),
    ({"weights": {"LA": 1.0}, "method": "magic"}, 400, "method"),
    ({"weights": {"LA": 1.0}, "confidence_level": 1.0}, 400, "confidence_level"),
    ({"weights": {"LA": 1.0}, "window_days": 10}, 400, "window_days"),
    ({"weights": {"LA": 1.0}, "start": "2019-01-01", "end": "2018-01-01"}, 400, "end"),
    ({"weights": {"LA": 1.0}, "start": "0001-01-01"}, 400, "start"),
    ({"weights": {"LA": 1.0}, "start": "2030-01-01"}, 422, "start"),
    ({"weights": {"LA": 1.0}, "end": "2016-06-01"}, 422, "start"),
    ({"weights": {"LA": 1.0}, "window_days": 1000}, 422, "start"),
    ({"weights": {"LA": 1.0}, "window_days": 50, "method": "historical", "confidence_level": 0.999},
     422, "window_days"),
])
def test_bad_backtest_requests_name_the_field(investor_client, long_market, payload, status, attr):
    response = investor_client.post(URL, payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["errors"][0]["attr"] == attr


def test_the_endpoints_need_a_login(api_client, long_market):
    assert api_client.post(URL, {"weights": {"LA": 1.0}}, format="json").status_code == 401
    assert api_client.get("/api/v1/portfolios/1/risk/backtest").status_code == 401


def _quantities():
    return {"LA": "40", "LB": "30", "LC": "20"}


def test_the_portfolio_backtest_is_computed_until_the_nightly_job_stores_it(investor_client, investor, long_market):
    # given a portfolio with 900 days of history and no stored backtest
    portfolio = make_portfolio(investor, _quantities())
    url = f"/api/v1/portfolios/{portfolio.pk}/risk/backtest"
    # when
    before = investor_client.get(url)
    stored = var_backtests_record()
    after = investor_client.get(url)
    # then the figures are the same; only the stored flag and the timestamp differ
    assert before.status_code == 200 and after.status_code == 200, before.json()
    b, a = before.json(), after.json()
    assert (b["stored"], b["computed_at"], a["stored"]) == (False, None, True) and stored == 1
    assert VaRBacktest.objects.count() == 1 and a["computed_at"] is not None
    for key in ("as_of", "method", "observations", "exceptions", "kupiec_p", "blocks", "var_forecast",
                "candidates", "current_model"):
        assert a[key] == b[key], key
    # 899 returns: the last 1000 days at most, after the 250-day window -> 649 days, 2 blocks
    assert (a["method"], a["observations"], len(a["blocks"]), a["as_of"]) == ("adaptive", 649, 2, LONG_DAYS[-1].date().isoformat())
    assert [c["method"] for c in a["candidates"]] == ["fhs_ewma", "garch_t", "fhs_garch", "historical"]
    assert a["current_model"] in ("fhs_ewma", "garch_t", "fhs_garch") and a["var_forecast"] > 0
    assert a["zone"] == a["blocks"][-1]["zone"]


def test_the_nightly_backtest_is_the_engines_on_the_current_weights(investor, long_market):
    # given
    portfolio = make_portfolio(investor, _quantities(), cash="0")
    last = long_market.iloc[-1]
    values = {s: float(q) * last[s] for s, q in _quantities().items()}
    weights = {s: v / sum(values.values()) for s, v in values.items()}
    # when
    var_backtests_record()
    record = VaRBacktest.objects.get(portfolio=portfolio)
    # then
    returns = long_market[list(weights)].pct_change().iloc[1:] @ pd.Series(weights)
    expected = var_model_backtest(returns, test_start=returns.index[-649]).summary
    assert (record.observations, record.exceptions) == (expected.observations, expected.exceptions)
    assert record.kupiec_p == pytest.approx(expected.kupiec.p_value, rel=1e-6)
    assert record.weights == pytest.approx(weights, rel=1e-6)


def test_a_rerun_replaces_the_days_record_and_same_weights_are_computed_once(investor, long_market, monkeypatch):
    # given two portfolios holding the same positions and one with too little history
    import risk.var_backtest_services as services

    first = make_portfolio(investor, _quantities())
    second = make_portfolio(investor, _quantities())
    short = make_market({"NEW": "equity"}, pd.bdate_range("2019-03-01", periods=60))
    assert len(short) == 60
    young = make_portfolio(investor, {"NEW": "10"})
    calls = []
    real = services.portfolio_var_backtest_compute
    monkeypatch.setattr(services, "portfolio_var_backtest_compute",
                        lambda **kw: calls.append(kw["portfolio"].pk) or real(**kw))
    # when run twice
    assert var_backtests_record() == 2
    assert var_backtests_record_task() == 2
    # then one record per portfolio and day, one computation per distinct weights and run, and
    # the young portfolio skipped (logged) without stopping the others
    assert sorted(VaRBacktest.objects.values_list("portfolio_id", flat=True)) == [first.pk, second.pk]
    assert calls.count(first.pk) == 2 and second.pk not in calls and calls.count(young.pk) == 2


def test_another_users_portfolio_is_not_found_and_a_young_one_is_unprocessable(
        investor_client, other_client, investor, long_market):
    portfolio = make_portfolio(investor, _quantities())
    assert other_client.get(f"/api/v1/portfolios/{portfolio.pk}/risk/backtest").status_code == 404
    assert investor_client.get("/api/v1/portfolios/-3/risk/backtest").status_code == 404
    make_market({"NEW": "equity"}, pd.bdate_range("2019-03-01", periods=60))
    young = make_portfolio(investor, {"NEW": "10"})
    response = investor_client.get(f"/api/v1/portfolios/{young.pk}/risk/backtest")
    assert response.status_code == 422 and response.json()["errors"][0]["attr"] == "portfolio"
    assert VaRBacktest.objects.count() == 0


def test_operators_filter_backtests_by_zone_and_rerun_them(investor, long_market):
    from users.models import User

    admin = User.objects.create_superuser(email="ops@example.com", password="pw-123456789")
    client = Client()
    client.force_login(admin)
    portfolio = make_portfolio(investor, _quantities())
    var_backtests_record()
    record = VaRBacktest.objects.get()
    VaRBacktest.objects.filter(pk=record.pk).update(exceptions=99)
    listing = client.get(f"/admin/risk/varbacktest/?zone__exact={record.zone}")
    response = client.post("/admin/risk/varbacktest/", {"action": "rerun", "_selected_action": [record.pk]})
    assert listing.status_code == 200 and str(portfolio) .encode()[:5] in listing.content
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.exceptions != 99
    assert client.get(f"/admin/risk/varbacktest/{record.pk}/change/").status_code == 200
