"""A prior for the regime a fit window never showed (issue 16).

A three-regime HMM fitted on a window with (almost) no sideways market spends its
third state on a second level of the bull or bear regime; :func:`label_states` then
gives two states one name, and the detector cannot call sideways when it comes
(simulator seed 19: 0 sideways days in its 5-year fit window, 270 of 631 later sideways
days called bear; seed 15: 28 sideways days, sideways never called). The data say
nothing about that regime, so its parameters are the prior's, from the structure the
labels already assume (regimes ordered calm -> turbulent by volatility):

- a missing *sideways* regime sits between the calm (bull) and turbulent (bear) groups:
  volatility at their geometric mean (the midpoint on the log-volatility scale), mean
  return at the midpoint of theirs;
- a missing *bear* regime (a window with only bull and sideways markets) lies one
  same-sized step above sideways on the log-volatility scale, with sideways' mean.

The added state persists like the fitted ones (its self-transition is their average),
is entered from every fitted state with half of that state's probability of leaving,
and leaves towards the fitted states in proportion to their occupancy. It has zero
training occupancy. Only the return-only model (one feature) gets the prior; with
several features the interpolation has no single scale and the model is left as fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AddedState:
    """The prior state's parameters, in the fitted model's units."""

    label: str
    mean: float  # standardized feature units
    variance: float  # standardized feature units
    mean_return: float  # annualised, for the stored statistics
    volatility: float  # annualised


def unseen_regime_state(
    labels: tuple[str, ...],
    means: np.ndarray,
    covars: np.ndarray,
    mean_return: np.ndarray,
    volatility: np.ndarray,
    occupancy: np.ndarray,
) -> AddedState | None:
    """The state to add for the regime the labels lack, or None when nothing is missing
    (or the model has more than one feature). ``means`` (K, 1), ``covars`` (K, 1, 1)."""
    if means.shape[1] != 1 or {"bull", "bear", "sideways"} <= set(labels):
        return None
    present = {name for name in labels}
    if present == {"bull", "bear"}:
        calm, turbulent, label = "bull", "bear", "sideways"
        weight = 0.5  # between the two on the log scale
    elif present == {"bull", "sideways"}:
        calm, turbulent, label = "bull", "sideways", "bear"
        weight = 2.0  # one step beyond sideways
    else:
        return None
    lo, hi = _group(labels, calm, occupancy), _group(labels, turbulent, occupancy)
    log_var = np.log(covars[:, 0, 0])
    variance = np.exp(_avg(log_var, lo) + weight * (_avg(log_var, hi) - _avg(log_var, lo)))
    log_vol = np.log(volatility)
    vol = np.exp(_avg(log_vol, lo) + weight * (_avg(log_vol, hi) - _avg(log_vol, lo)))
    step = min(weight, 1.0)  # a missing bear keeps sideways' mean
    mean = _avg(means[:, 0], lo) + step * (_avg(means[:, 0], hi) - _avg(means[:, 0], lo))
    ret = _avg(mean_return, lo) + step * (_avg(mean_return, hi) - _avg(mean_return, lo))
    return AddedState(label, float(mean), float(variance), float(ret), float(vol))


def with_added_state(
    startprob: np.ndarray, transmat: np.ndarray, occupancy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Start probabilities and transition matrix with one more (last) state."""
    k = len(startprob)
    out = np.zeros((k + 1, k + 1))
    leaving = 1.0 - np.diag(transmat)
    out[:k, :k] = transmat * 1.0  # copy
    off = ~np.eye(k, dtype=bool)
    out[:k, :k][off] = (transmat * 0.5)[off]
    out[:k, k] = leaving * 0.5
    stay = float(np.mean(np.diag(transmat)))
    share = np.asarray(occupancy, dtype=float)
    share = share / share.sum() if share.sum() > 0 else np.full(k, 1.0 / k)
    out[k, :k] = (1.0 - stay) * share
    out[k, k] = stay
    start = np.append(startprob, float(np.mean(startprob)))
    return start / start.sum(), out


def _group(labels: tuple[str, ...], name: str, occupancy: np.ndarray) -> tuple[list[int], np.ndarray]:
    states = [k for k, lab in enumerate(labels) if lab == name]
    w = np.asarray(occupancy, dtype=float)[states]
    return states, (w if w.sum() > 0 else np.ones(len(states)))


def _avg(values: np.ndarray, group: tuple[list[int], np.ndarray]) -> float:
    states, w = group
    return float(np.average(np.asarray(values, dtype=float)[states], weights=w))
