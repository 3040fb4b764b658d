"""Regime detector accuracy: the synthetic market's ground truth and SPY vs the 20 % rule.

Run: .venv/bin/python bench/bench_regime.py [--seeds 7 1 2] [--quick]

Every figure uses causal probabilities (the forward filter) from walk-forward refits
(refit every 252 days on the data known then), so each day's call depends only on
data up to that day. Also printed: the same filter with one model fitted on all the
data ("in-sample parameters"), and for the synthetic market the Bayes bound of a
filter that knows the true parameters (estimated from the ground truth) — no causal
detector on the index can beat it on average.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.getLogger("hmmlearn").setLevel(logging.ERROR)

from marketdata.providers.synthetic import (  # noqa: E402
    DEFAULT_REGIME_PARAMS,
    REGIMES,
    RegimeParams,
    SyntheticMarketConfig,
    simulate_market,
)
from mlagents.regime.engine.features import DEFAULT_FEATURES, equal_weight_index, regime_features  # noqa: E402
from mlagents.regime.engine.hmm import (  # noqa: E402
    detector_fit,
    filter_probabilities,
    forward_filter,
    regimes_from_probabilities,
    walk_forward,
)
from mlagents.regime.engine.truth import (  # noqa: E402
    TWO_STATE,
    drawdown_regimes,
    regime_accuracy,
    regime_episodes,
)

SPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "spy_prices.csv"

# The market-data helper's simulator with regimes that last like real ones (bull ~250,
# bear ~85, sideways ~140 business days) and a calmer bull (vol x0.55) with thinner tails.
DETECTABLE_TRANSITION = ((0.996, 0.002, 0.002), (0.006, 0.988, 0.006), (0.004, 0.003, 0.993))


def detectable_config(seed: int) -> SyntheticMarketConfig:
    params = dict(DEFAULT_REGIME_PARAMS)
    params["bull"] = RegimeParams(0.18, 0.55, 0.20, 1.0, 1.0)
    return SyntheticMarketConfig(seed=seed, transition=DETECTABLE_TRANSITION, regime_params=params, df=8.0)


def bayes_bound(index: pd.Series, truth: pd.Series, transition) -> float:
    """Forward filter on daily log returns with each regime's true mean/variance."""
    r = np.log(index).diff().iloc[1:]
    t = truth.reindex(r.index)
    log_b = np.column_stack(
        [-0.5 * ((r - r[t == g].mean()) / r[t == g].std()) ** 2 - np.log(r[t == g].std()) for g in REGIMES]
    )
    probs = forward_filter(log_b, np.ones(3) / 3, np.asarray(transition))
    return float((np.array(REGIMES)[probs.argmax(axis=1)] == t.to_numpy()).mean())


def synthetic(config: SyntheticMarketConfig, label: str) -> dict:
    market = simulate_market(config)
    equities = [a.symbol for a in market.assets if a.asset_class == "equity"]
    index = equal_weight_index(market.prices[equities])
    features = regime_features(index, DEFAULT_FEATURES)
    start = time.perf_counter()
    wf = walk_forward(features, initial=504, refit_every=252, feature_config=DEFAULT_FEATURES)
    seconds = time.perf_counter() - start
    insample = regimes_from_probabilities(filter_probabilities(detector_fit(features), features))
    first5 = detector_fit(features.iloc[:1260])
    oos = regimes_from_probabilities(filter_probabilities(first5, features)).iloc[1260:]
    row = {
        "market": label,
        "seed": config.seed,
        "days": len(wf.regimes),
        "walk_forward": regime_accuracy(wf.regimes, market.regimes),
        "out_of_sample_5y": regime_accuracy(oos, market.regimes),
        "in_sample_params": regime_accuracy(insample, market.regimes),
        "bayes_bound": bayes_bound(index, market.regimes, config.transition),
        "seconds": seconds,
    }
    print(pd.crosstab(market.regimes.reindex(wf.regimes.index), wf.regimes), flush=True)
    return row


def spy() -> None:
    prices = pd.read_csv(SPY, index_col="date", parse_dates=True)["SPY"]
    features = regime_features(prices, DEFAULT_FEATURES)
    wf = walk_forward(features, initial=756, refit_every=252, feature_config=DEFAULT_FEATURES)
    regimes = wf.regimes
    truth = drawdown_regimes(prices)
    print(f"SPY {regimes.index[0].date()}..{regimes.index[-1].date()}: {len(regimes)} days (walk-forward, "
          f"first fit on 3 years)")
    print(f"  share of days by regime: {regimes.value_counts(normalize=True).round(3).to_dict()}")
    print(f"  20% rule bear days: {(truth.reindex(regimes.index) == 'bear').mean():.3f}")
    acc = regime_accuracy(regimes, truth, TWO_STATE)
    print(f"  accuracy vs the 20% drawdown rule (bull+sideways = not bear): {acc:.3f}")
    bear_truth = truth.reindex(regimes.index) == "bear"
    bear_called = regimes == "bear"
    print(f"  bear recall {bear_called[bear_truth].mean():.3f}, bear precision {bear_truth[bear_called].mean():.3f}")
    print("  20% rule bear markets:")
    for e in regime_episodes(truth, min_days=5):
        if e.regime == "bear":
            print(f"    {e.start.date()} .. {e.end.date()} ({e.days} days)")
    print("  detector's bear calls of 10+ days:")
    for e in regime_episodes(regimes, min_days=10):
        if e.regime == "bear":
            print(f"    {e.start.date()} .. {e.end.date()} ({e.days} days)")
    monthly = regimes.resample("ME").agg(lambda s: s.value_counts().idxmax() if len(s) else None)
    for year in ("2000", "2001", "2002", "2007", "2008", "2009", "2011", "2015", "2016", "2018"):
        months = monthly.loc[year]
        print(f"  {year}: " + " ".join(f"{d.month:02d}:{v[:4]}" for d, v in months.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2])
    parser.add_argument("--skip-spy", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    rows = []
    for seed in [] if args.skip_synthetic else args.seeds:
        rows.append(synthetic(SyntheticMarketConfig(seed=seed), "default config"))
        rows.append(synthetic(detectable_config(seed), "detectable config"))
    if rows:
        table = pd.DataFrame(rows)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        means = table.groupby("market")[["walk_forward", "out_of_sample_5y", "in_sample_params", "bayes_bound"]]
        print(means.mean().round(3).to_string())
    if not args.skip_spy:
        spy()


if __name__ == "__main__":
    main()
