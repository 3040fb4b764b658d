"""Reference labellings to score the detector against, and the scores.

- :func:`drawdown_regimes`: the classic bull/bear dating rule — a bear market runs
  from a peak to the following trough when the index has fallen at least
  ``threshold`` (20 %) below that peak, a bull market from a trough to the next peak
  once the index has risen at least ``threshold`` above that trough (in the spirit
  of Lunde & Timmermann 2004, "Duration dependence in stock prices"). It is dated
  with hindsight (the peak is only known to be a peak later), so it is a yardstick,
  never a live signal.
- :func:`regime_accuracy`: the share of days on which a detector's regime matches a
  reference, optionally after collapsing the detector's three regimes onto two.
- :func:`regime_episodes`: the runs of one regime, to report when a call was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

# bull and sideways are both "not bear" against a two-state bull/bear yardstick
TWO_STATE = {"bull": "bull", "sideways": "bull", "bear": "bear"}


def drawdown_regimes(prices: pd.Series, threshold: float = 0.20) -> pd.Series:
    """Label each day bull or bear with the peak-to-trough rule (hindsight).

    The series starts in a bull market. Days from a confirmed peak (exclusive) to
    the trough that ends the decline (inclusive) are bear; all others bull. A decline
    still under way at the end of the data is labelled bear from its peak once it
    has passed ``threshold``.
    """
    values = pd.Series(prices, dtype=float).dropna()
    p = values.to_numpy()
    labels = np.array(["bull"] * len(p), dtype=object)
    state, extreme_i = "bull", 0  # extreme: running peak in bull, running trough in bear
    for i in range(1, len(p)):
        if state == "bull":
            if p[i] > p[extreme_i]:
                extreme_i = i
            elif p[i] <= p[extreme_i] * (1 - threshold):
                peak_i = extreme_i
                state, extreme_i = "bear", i
                labels[peak_i + 1 : i + 1] = "bear"
        else:
            if p[i] < p[extreme_i]:
                labels[extreme_i + 1 : i + 1] = "bear"
                extreme_i = i
            elif p[i] >= p[extreme_i] * (1 + threshold):
                state, extreme_i = "bull", i
    return pd.Series(labels, index=values.index, name="regime")


def regime_accuracy(
    predicted: pd.Series, truth: pd.Series, mapping: Mapping[str, str] | None = None
) -> float:
    """Share of the common days where ``predicted`` (mapped) equals ``truth``."""
    common = predicted.index.intersection(truth.index)
    if len(common) == 0:
        raise ValueError("predicted and truth share no dates")
    pred = predicted.loc[common]
    if mapping is not None:
        pred = pred.map(mapping)
    return float((pred.to_numpy() == truth.loc[common].to_numpy()).mean())


@dataclass(frozen=True)
class Episode:
    regime: str
    start: pd.Timestamp
    end: pd.Timestamp
    days: int


def regime_episodes(regimes: pd.Series, min_days: int = 1) -> list[Episode]:
    """Consecutive runs of the same regime (runs shorter than ``min_days`` kept out)."""
    if regimes.empty:
        return []
    run_id = (regimes != regimes.shift()).cumsum()
    episodes = []
    for _, run in regimes.groupby(run_id):
        if len(run) >= min_days:
            episodes.append(Episode(run.iloc[0], run.index[0], run.index[-1], len(run)))
    return episodes
