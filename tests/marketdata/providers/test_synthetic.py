"""The simulator's ground truth, statistics and determinism (DB-free)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from marketdata.providers.base import TIDY_COLUMNS, UnknownSymbolsError, provider_get
from marketdata.providers.synthetic import (
    DEFAULT_TRANSITION,
    DEFAULT_UNIVERSE,
    REGIMES,
    SyntheticMarketConfig,
    SyntheticProvider,
    expected_durations,
    simulate_market,
)

LONG = SyntheticMarketConfig(seed=11, start=dt.date(1990, 1, 1), end=dt.date(2029, 12, 31))


@pytest.fixture(scope="module")
def long_market():
    return simulate_market(LONG)


def _equities(market) -> list[str]:
    return [a.symbol for a in market.assets if a.asset_class == "equity"]


def test_default_universe_spans_every_asset_class():
    # given / when
    classes = {a.asset_class for a in DEFAULT_UNIVERSE}
    sectors = {a.sector for a in DEFAULT_UNIVERSE if a.asset_class == "equity"}
    symbols = [a.symbol for a in DEFAULT_UNIVERSE]

    # then
    assert classes == {"equity", "bond", "commodity", "real_estate", "crypto", "cash"}
    assert len(symbols) == len(set(symbols)) == 26
    assert len(sectors) >= 8
    assert {flag for a in DEFAULT_UNIVERSE for flag in a.esg_flags} == {"tobacco", "weapons", "fossil_fuels"}


def test_same_config_gives_the_same_market_and_another_seed_another():
    # given
    config = SyntheticMarketConfig(seed=3, start=dt.date(2020, 1, 1), end=dt.date(2021, 12, 31))

    # when
    first, second = simulate_market(config), simulate_market(config)
    other = simulate_market(dataclasses.replace(config, seed=4))

    # then
    pd.testing.assert_frame_equal(first.prices, second.prices)
    pd.testing.assert_frame_equal(first.ohlcv, second.ohlcv)
    pd.testing.assert_series_equal(first.regimes, second.regimes)
    assert not np.allclose(first.prices.to_numpy(), other.prices.to_numpy())


def test_a_longer_window_keeps_the_earlier_history_bit_for_bit():
    # given
    short = SyntheticMarketConfig(seed=5, start=dt.date(2015, 1, 1), end=dt.date(2016, 6, 30))

    # when
    a = simulate_market(short)
    b = simulate_market(dataclasses.replace(short, end=dt.date(2019, 12, 31)))

    # then
    pd.testing.assert_frame_equal(a.prices, b.prices.loc[a.prices.index])
    pd.testing.assert_series_equal(a.regimes, b.regimes.loc[a.regimes.index])


def test_shapes_business_days_and_tidy_frame(long_market):
    # given
    market = simulate_market(SyntheticMarketConfig(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31)))

    # then: January 2024 has 23 weekdays
    assert market.prices.shape == (23, 26)
    assert market.prices.index.name == "date"
    assert (market.prices.index.day_of_week < 5).all()
    assert list(market.ohlcv.columns) == list(TIDY_COLUMNS)
    assert len(market.ohlcv) == 23 * 26
    assert market.regimes.index.equals(market.prices.index)
    assert set(market.regimes.unique()) <= set(REGIMES)
    assert market.prices.iloc[0].to_dict() == {a.symbol: a.price0 for a in DEFAULT_UNIVERSE}
    pivot = market.ohlcv.pivot(index="date", columns="symbol", values="adj_close")[market.prices.columns]
    np.testing.assert_array_equal(pivot.to_numpy(), market.prices.to_numpy())


def test_bars_are_consistent_and_positive(long_market):
    # given
    bars = long_market.ohlcv

    # then
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["volume"] > 0).all()
    assert (bars["adj_close"] == bars["close"]).all()


def test_regimes_persist_as_the_transition_matrix_says(long_market):
    # given: 40 years of business days
    regimes = long_market.regimes
    codes = regimes.map({r: k for k, r in enumerate(REGIMES)}).to_numpy()

    # when: empirical transition matrix
    counts = np.zeros((3, 3))
    np.add.at(counts, (codes[:-1], codes[1:]), 1)
    empirical = counts / counts.sum(axis=1, keepdims=True)
    runs = regimes.groupby((regimes != regimes.shift()).cumsum()).agg(["first", "size"])
    mean_run = runs.groupby("first")["size"].mean()

    # then: diagonal within sampling error of the configured one, runs of weeks to months
    np.testing.assert_allclose(np.diag(empirical), np.diag(DEFAULT_TRANSITION), atol=0.01)
    durations = expected_durations(DEFAULT_TRANSITION)
    assert durations == pytest.approx({"bull": 1 / 0.004, "bear": 1 / 0.012, "sideways": 1 / 0.007})
    for regime in REGIMES:
        assert mean_run[regime] == pytest.approx(durations[regime], rel=0.35)
        assert mean_run[regime] > 20


def test_regime_frequencies_match_the_stationary_distribution(long_market):
    # given: the stationary distribution pi = pi P (left eigenvector for eigenvalue 1)
    matrix = np.asarray(DEFAULT_TRANSITION)
    values, vectors = np.linalg.eig(matrix.T)
    pi = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    pi = pi / pi.sum()

    # when
    frequencies = long_market.regimes.value_counts(normalize=True)

    # then: within three standard errors of a Markov chain's occupation frequency,
    # pi (1 - pi) / n inflated by (1 + lambda) / (1 - lambda) for the chain's slowest
    # mixing eigenvalue lambda (persistent regimes mix slowly: 40 years ~ 25 bull runs)
    lam = np.sort(np.abs(np.real(values)))[-2]
    n = len(long_market.regimes)
    for k, regime in enumerate(REGIMES):
        stderr = np.sqrt(pi[k] * (1 - pi[k]) / n * (1 + lam) / (1 - lam))
        assert frequencies[regime] == pytest.approx(pi[k], abs=3 * stderr)


def test_bear_regimes_are_more_volatile_and_more_correlated(long_market):
    # given
    returns = np.log(long_market.prices).diff().iloc[1:][_equities(long_market)]
    regimes = long_market.regimes.iloc[1:]

    def vol(regime):
        return float(returns[regimes == regime].std().mean() * np.sqrt(252))

    def mean_corr(regime):
        corr = returns[regimes == regime].corr().to_numpy()
        return float(corr[np.triu_indices_from(corr, 1)].mean())

    # then: the configured multipliers (1.8 vs 0.75) show up, and correlations rise
    assert vol("bear") > 1.8 * vol("bull")
    assert vol("bear") > 1.4 * vol("sideways")
    assert mean_corr("bear") > mean_corr("bull") + 0.15
    assert mean_corr("bear") > mean_corr("sideways") + 0.1
    # and the market falls in bear regimes, rises in bull regimes
    assert returns[regimes == "bear"].mean().mean() < 0 < returns[regimes == "bull"].mean().mean()


def test_bonds_hedge_equities_in_bear_regimes(long_market):
    # given
    returns = np.log(long_market.prices).diff().iloc[1:]
    bear = returns[long_market.regimes.iloc[1:] == "bear"]

    # when
    correlation = bear[["ORBT", "BNKR", "RAIL"]].mean(axis=1).corr(bear["TSY10"])

    # then
    assert correlation < 0


def test_returns_are_fat_tailed(long_market):
    # given
    returns = np.log(long_market.prices).diff().iloc[1:][_equities(long_market)]

    # when: excess kurtosis (a normal has 0) — within one regime too, from the t shocks
    kurtosis = stats.kurtosis(returns.to_numpy(), axis=0)
    bull_only = returns[long_market.regimes.iloc[1:] == "bull"]
    bull_kurtosis = stats.kurtosis(bull_only.to_numpy(), axis=0)

    # then
    assert (kurtosis > 1.0).all()
    assert np.median(bull_kurtosis) > 0.5


def test_bear_regimes_trade_more_volume(long_market):
    # given
    bars = long_market.ohlcv.merge(long_market.regimes.rename("regime"), left_on="date", right_index=True)

    # when
    volume = bars.groupby("regime")["volume"].mean()

    # then
    assert volume["bear"] > 1.3 * volume["bull"]


def test_config_validation_rejects_nonsense():
    with pytest.raises(ValueError, match="rows must be probabilities"):
        simulate_market(SyntheticMarketConfig(transition=((0.5, 0.5, 0.5),) * 3))
    with pytest.raises(ValueError, match="df must be > 2"):
        simulate_market(SyntheticMarketConfig(df=2.0))
    with pytest.raises(ValueError, match="end is before start"):
        simulate_market(SyntheticMarketConfig(start=dt.date(2020, 1, 2), end=dt.date(2020, 1, 1)))


def test_provider_slices_the_path_from_its_epoch():
    # given
    provider = provider_get("synthetic", seed=7)

    # when
    window = provider.fetch(["ORBT", "MMKT"], dt.date(2021, 3, 1), dt.date(2021, 3, 5))
    longer = provider.fetch(["ORBT", "MMKT", "GOLD"], dt.date(2021, 1, 1), dt.date(2021, 6, 30))

    # then: same bars whatever the request, five weekdays × two symbols
    assert isinstance(provider, SyntheticProvider)
    assert len(window) == 10
    assert list(window.columns) == list(TIDY_COLUMNS)
    assert window["date"].min() == pd.Timestamp("2021-03-01")
    assert window["date"].max() == pd.Timestamp("2021-03-05")
    merged = window.merge(longer, on=["date", "symbol"], suffixes=("", "_longer"))
    assert len(merged) == 10
    assert (merged["adj_close"] == merged["adj_close_longer"]).all()


def test_provider_rejects_unknown_symbols():
    with pytest.raises(UnknownSymbolsError) as caught:
        SyntheticProvider().fetch(["ORBT", "NOPE"], dt.date(2021, 1, 1), dt.date(2021, 1, 8))
    assert caught.value.symbols == ["NOPE"]


def test_provider_returns_nothing_for_an_inverted_window():
    frame = SyntheticProvider().fetch(["ORBT"], dt.date(2021, 1, 8), dt.date(2021, 1, 1))
    assert frame.empty
    assert list(frame.columns) == list(TIDY_COLUMNS)
