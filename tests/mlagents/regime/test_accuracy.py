"""Accuracy against the synthetic market's ground truth (marketdata.providers.synthetic).

The detector is fitted on the first five years of the equal-weight index of the
simulated equities and then filters the following years day by day: every call
on the scored days is causal and out of sample.
"""

from __future__ import annotations

import logging

from marketdata.providers.synthetic import SyntheticMarketConfig, simulate_market
from mlagents.regime.engine.features import DEFAULT_FEATURES, equal_weight_index, regime_features
from mlagents.regime.engine.hmm import (
    detector_fit,
    filter_probabilities,
    regimes_from_probabilities,
)
from mlagents.regime.engine.truth import regime_accuracy

logging.getLogger("hmmlearn").setLevel(logging.ERROR)

TRAIN_DAYS = 1260  # five years


def _out_of_sample_accuracy(config: SyntheticMarketConfig) -> float:
    market = simulate_market(config)
    equities = [a.symbol for a in market.assets if a.asset_class == "equity"]
    features = regime_features(equal_weight_index(market.prices[equities]), DEFAULT_FEATURES)
    params = detector_fit(features.iloc[:TRAIN_DAYS], feature_config=DEFAULT_FEATURES)
    called = regimes_from_probabilities(filter_probabilities(params, features)).iloc[TRAIN_DAYS:]
    assert len(called) > 1000
    return regime_accuracy(called, market.regimes)


def test_accuracy_above_the_goal_on_the_default_synthetic_market():
    # given the default simulator (persistent regimes: bull ~250, bear ~83, sideways ~143
    # business days; calm bull at x0.55 volatility; t tails with 8 degrees of freedom), seed 7
    config = SyntheticMarketConfig(seed=7)
    # when the detector fitted on five years filters the next seven day by day (causal)
    # then the goal of 90 % holds (measured 0.904; a filter with the true parameters: 0.926)
    assert _out_of_sample_accuracy(config) >= 0.90
