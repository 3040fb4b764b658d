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
- :func:`bayes_filter_calls`: the calls of the forward filter that knows the true
  parameters (the Bayes bound a causal detector on the index can reach on average);
- :func:`bear_call_report`: how a detector's bear calls on a real index compare with
  the 20 % rule's bear markets and NBER recessions — precision (share of bear calls
  inside a reference bear), recall, and per bear market the *detection lag*: trading
  days from the rule's first bear day (the day after the peak) to the detector's first
  bear call in it (0 when it was already calling bear).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

# bull and sideways are both "not bear" against a two-state bull/bear yardstick
TWO_STATE = {"bull": "bull", "sideways": "bull", "bear": "bear"}

NBER_RECESSIONS: tuple[tuple[str, str], ...] = (
    ("1990-08-01", "1991-03-31"),
    ("2001-04-01", "2001-11-30"),
    ("2008-01-01", "2009-06-30"),
    ("2020-03-01", "2020-04-30"),
)
"""US business-cycle contractions (NBER), from the month after the peak to the trough
month: https://www.nber.org/research/data/us-business-cycle-expansions-and-contractions."""


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


@dataclass(frozen=True)
class BearEpisodeCall:
    """One reference bear market and how the detector met it."""

    start: pd.Timestamp
    end: pd.Timestamp
    days: int
    lag: int | None
    """Trading days from ``start`` to the first bear call inside the episode (None: never)."""
    share_called: float
    """Share of the episode's days called bear."""


@dataclass(frozen=True)
class BearCallReport:
    days: int
    bear_share: float
    """Share of days the detector called bear."""
    precision: float
    """Share of bear calls inside a 20 %-rule bear market (nan if no bear call)."""
    precision_with_recessions: float
    """The same against the union of 20 %-rule bears and NBER recessions."""
    recall: float
    """Share of 20 %-rule bear days called bear."""
    episodes: list[BearEpisodeCall]


def bear_call_report(
    called: pd.Series, prices: pd.Series, *, threshold: float = 0.20,
    recessions: tuple[tuple[str, str], ...] = NBER_RECESSIONS, min_days: int = 5,
) -> BearCallReport:
    """Score a detector's daily calls (``bull``/``bear``/``sideways``) on a real index.

    The reference is :func:`drawdown_regimes` of ``prices`` (hindsight), restricted to
    the days of ``called``; bear markets shorter than ``min_days`` are not episodes.
    """
    truth = drawdown_regimes(prices, threshold).reindex(called.index)
    bear_called = called == "bear"
    bear_true = truth == "bear"
    recession = pd.Series(False, index=called.index)
    for start, end in recessions:
        recession.loc[start:end] = True
    either = bear_true | recession
    n_called = int(bear_called.sum())
    episodes = []
    for episode in regime_episodes(truth.dropna(), min_days=min_days):
        if episode.regime != "bear":
            continue
        inside = bear_called.loc[episode.start : episode.end].to_numpy()
        lag = int(inside.argmax()) if inside.any() else None
        episodes.append(BearEpisodeCall(episode.start, episode.end, episode.days, lag, float(inside.mean())))
    return BearCallReport(
        days=len(called),
        bear_share=float(bear_called.mean()),
        precision=float(bear_true[bear_called].mean()) if n_called else float("nan"),
        precision_with_recessions=float(either[bear_called].mean()) if n_called else float("nan"),
        recall=float(bear_called[bear_true].mean()) if bear_true.any() else float("nan"),
        episodes=episodes,
    )


def bayes_filter_calls(index: pd.Series, truth: pd.Series, transition, regimes=("bull", "bear", "sideways")) -> pd.Series:
    """The true-parameter filter's regime per day: the forward filter on the index's daily
    log returns with each regime's true mean and variance (measured on the ground truth)
    and the true transition matrix (rows and columns in ``regimes`` order). A regime that
    never occurs gets zero likelihood."""
    from .hmm import forward_filter

    r = np.log(pd.Series(index, dtype=float)).diff().iloc[1:]
    t = truth.reindex(r.index)
    columns = []
    for g in regimes:
        sample = r[t == g]
        if len(sample) < 2:
            columns.append(np.full(len(r), -1e9))
        else:
            columns.append(-0.5 * ((r.to_numpy() - sample.mean()) / sample.std()) ** 2 - np.log(sample.std()))
    probs = forward_filter(np.column_stack(columns), np.ones(len(regimes)) / len(regimes), np.asarray(transition))
    return pd.Series(np.array(regimes, dtype=object)[probs.argmax(axis=1)], index=r.index, name="regime")
