"""Services and selectors: refit, daily history, no look-ahead, the autopilot's regime state."""

from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal

import pandas as pd
import pytest

from common.errors import NotFound, Unprocessable
from mlagents.regime.engine.hmm import RegimeModelParams
from mlagents.regime.models import MarketRegime, ReferenceMarket, RegimeModel, RegimePolicy
from mlagents.regime.selectors import regime_policy_rules_get, regime_state_get
from mlagents.regime.services import regime_history_update, regime_model_train

logging.getLogger("hmmlearn").setLevel(logging.ERROR)
pytestmark = pytest.mark.django_db


def test_fresh_database_has_the_default_market_and_policy():
    assert ReferenceMarket.objects.get(name="default").benchmark_symbol == "SPY"
    rows = {(r.regime, r.risk_tier): (r.strategy, r.cash_buffer) for r in RegimePolicy.objects.all()}
    assert rows == {
        ("bull", "*"): ("equal_weight", Decimal("0")),
        ("sideways", "*"): ("optimizer:risk_parity", Decimal("0")),
        ("bear", "*"): ("optimizer:min_volatility", Decimal("0")),
    }


def test_edited_policy_rows_are_what_the_strategy_reads():
    # given an operator who switches bull markets to risk parity for every tier
    RegimePolicy.objects.filter(regime="bull", risk_tier="*").update(strategy="optimizer:risk_parity")
    # when / then
    rules = {(r.regime, r.risk_tier): r.strategy for r in regime_policy_rules_get()}
    assert rules[("bull", "*")] == "optimizer:risk_parity"


def test_train_stores_the_model_and_its_labels(spy_prices, fast_fit):
    # when
    model = regime_model_train(fit=fast_fit)
    # then
    assert model.is_active and model.market.name == "default"
    assert sorted(model.labels) == ["bear", "bull", "sideways"]
    assert [s["label"] for s in model.state_stats] == model.labels
    vols = {s["label"]: s["volatility"] for s in model.state_stats}
    assert vols["bull"] < vols["sideways"] < vols["bear"]
    params = RegimeModelParams.from_dict(model.params)
    assert params.labels == tuple(model.labels)
    assert model.trained_to == spy_prices.index[-1].date()


@pytest.mark.slow  # fits the detector twice (~2 s here): make test runs it in its slow stage
def test_retraining_keeps_one_active_model(spy_prices, fast_fit):
    first = regime_model_train(fit=fast_fit)
    second = regime_model_train(fit=fast_fit, as_of=dt.date(2014, 6, 30))
    first.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)
    assert second.trained_to <= dt.date(2014, 6, 30)
    assert RegimeModel.objects.filter(is_active=True).count() == 1


def test_train_without_enough_history_is_unprocessable(spy_prices):
    with pytest.raises(Unprocessable, match="at least 250 are needed"):
        regime_model_train(as_of=dt.date(2010, 6, 1))
    assert RegimeModel.objects.count() == 0


def test_history_is_written_once_per_day_and_is_idempotent(spy_prices, fast_fit):
    # given a fitted model
    regime_model_train(fit=fast_fit)
    # when recording the history twice
    first = regime_history_update()
    second = regime_history_update()
    # then every feature day is recorded once, the second run writes nothing
    assert first == len(spy_prices) - 21 - 0  # the 21-day windows consume the first days
    assert second == 0
    row = MarketRegime.objects.order_by("-date").first()
    assert row.date == spy_prices.index[-1].date()
    assert row.confidence == Decimal(str(row.probabilities[row.regime])).quantize(Decimal("0.0001"))
    assert sum(row.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert set(row.features) == {"log_return", "realized_vol", "trend"}


def test_the_call_on_day_t_does_not_change_when_later_data_arrives(spy_prices, fast_fit):
    # given the daily task run on day t, then again once later days are loaded
    regime_model_train(fit=fast_fit)
    t = spy_prices.index[900].date()
    regime_history_update(as_of=t)
    at_t = MarketRegime.objects.get(date=t)
    regime_history_update(rewrite=True)
    # then day t's recomputed call with all the data equals the call made on day t
    again = MarketRegime.objects.get(date=t)
    assert (again.regime, again.confidence, again.probabilities) == (
        at_t.regime, at_t.confidence, at_t.probabilities
    )
    assert MarketRegime.objects.filter(date__gt=t).exists()


def test_regime_state_get_reports_a_change_only_on_its_day(db):
    # given three stored days: bull, bull, bear
    market = ReferenceMarket.objects.get(name="default")
    for date, regime in [("2024-03-04", "bull"), ("2024-03-05", "bull"), ("2024-03-06", "bear")]:
        probs = {"bull": 0.1, "bear": 0.1, "sideways": 0.1} | {regime: 0.8}
        MarketRegime.objects.create(market=market, date=date, regime=regime, confidence=Decimal("0.8"),
                                    probabilities=probs)
    # when / then
    change = regime_state_get(as_of=dt.date(2024, 3, 6))
    assert (change.regime, change.confidence, change.changed) == ("bear", 0.8, True)
    assert change.probabilities == {"bull": 0.1, "bear": 0.8, "sideways": 0.1}
    assert regime_state_get(as_of=dt.date(2024, 3, 5)).changed is False
    stale = regime_state_get(as_of=dt.date(2024, 3, 8))  # no new call since: no new trigger
    assert (stale.regime, stale.changed) == ("bear", False)
    assert regime_state_get(as_of=dt.date(2024, 3, 1)) is None
    assert regime_state_get(market="nowhere", as_of=dt.date(2024, 3, 6)) is None


def test_market_without_prices_is_not_found(db):
    with pytest.raises(NotFound, match="has no prices"):
        regime_model_train()


def test_equal_weight_index_when_the_benchmark_has_no_prices(db, regime_market, fast_fit):
    # given two equities and no SPY bars
    from marketdata.models import Asset
    from marketdata.services import prices_upsert

    prices, _ = regime_market
    rows = []
    for symbol, scale in (("AAA", 1.0), ("BBB", 2.0)):
        Asset.objects.create(symbol=symbol, asset_class="equity")
        rows.append(pd.DataFrame({"date": prices.index, "symbol": symbol, "adj_close": (prices * scale).round(4)}))
    frame = pd.concat(rows)
    for column in ("open", "high", "low", "close"):
        frame[column] = frame["adj_close"]
    frame["volume"] = 10
    prices_upsert(frame=frame, provider="test")
    # when
    model = regime_model_train(fit=fast_fit)
    # then the equal-weight index of AAA and BBB (identical returns) is the input
    assert model.n_observations == len(prices) - 21


def test_demo_load_is_idempotent(spy_prices, fast_fit):
    from mlagents.regime.demo import demo_load

    regime_model_train(fit=fast_fit)  # a fast fit; demo_load fits only when there is none
    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    assert out.getvalue().splitlines() == [
        f"regime: recorded {len(spy_prices) - 21} new days of market regime history",
        "regime: recorded 0 new days of market regime history",
    ]


def test_daily_task_records_new_days_and_skips_markets_without_data(spy_prices, fast_fit):
    from mlagents.regime.tasks import regime_detect_task

    # given a second active market with no prices at all
    ReferenceMarket.objects.create(name="empty", benchmark_symbol="", asset_class="crypto")
    regime_model_train(fit=fast_fit)
    t = spy_prices.index[1000].date()
    # when the task runs on day t, then on the last day
    first = regime_detect_task(as_of=t.isoformat())
    second = regime_detect_task()
    # then
    assert first == {"default": 1000 - 21 + 1, "empty": 0}
    assert second == {"default": len(spy_prices) - 1000 - 1, "empty": 0}
    assert MarketRegime.objects.filter(market__name="empty").count() == 0


def test_beat_runs_detection_after_the_data_pull_and_before_the_autopilot():
    from marketdata.beat import BEAT_SCHEDULE as MARKETDATA
    from mlagents.regime.beat import BEAT_SCHEDULE

    detect = BEAT_SCHEDULE["regime: detect the market regime"]
    pull = MARKETDATA["marketdata: pull daily bars"]["schedule"]
    assert detect["task"] == "regime.regime_detect_task"
    assert (min(pull.hour), min(pull.minute)) < (min(detect["schedule"].hour), min(detect["schedule"].minute))
