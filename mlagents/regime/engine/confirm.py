"""A causal confirmation rule for bear calls on a real index (issue 16).

The HMM's filtered bear probability alone calls every sharp correction a bear market
(SPY 1996-2007: 21 % of days called bear, precision 0.20 against the 20 % rule). A
bear call here needs both

- the detector's evidence: the filtered bear probability at least ``min_probability``
  on ``persistence`` consecutive days, and
- the market's confirmation: the index at least ``min_drawdown`` below its running peak
  (the peak of the data seen so far, so known on the day);

and it ends only after ``persistence`` consecutive days below ``min_probability``
(hysteresis: a one-day dip in the probability does not end a bear market). Each day's
call uses the probabilities and prices up to that day only.

The defaults were chosen on SPY 1996-2007 only (the highest precision with a lag of at
most 20 trading days on the 2000 fall, over drawdowns 0-10 %, persistence 1-10 days,
thresholds 0.5 / 0.7) and confirmed on 2008-2019 (docs/REGIME.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BearConfirmation:
    """When a bear probability becomes a bear call."""

    min_probability: float = 0.5
    """Filtered bear probability that counts as the detector's evidence."""
    persistence: int = 1
    """Consecutive days of evidence to enter, and of its absence to leave."""
    min_drawdown: float = 0.10
    """Fall below the running peak that confirms the call (a fraction)."""


def confirmed_bear_calls(
    bear_probability: pd.Series, prices: pd.Series, config: BearConfirmation | None = None
) -> pd.Series:
    """Boolean series on ``bear_probability``'s days: the confirmed bear call of each day.

    ``prices`` must cover those days (extra earlier days set the running peak).
    """
    config = config or BearConfirmation()
    level = pd.Series(prices, dtype=float)
    drawdown = (level / level.cummax() - 1.0).reindex(bear_probability.index).to_numpy()
    hot = bear_probability.to_numpy(dtype=float) >= config.min_probability
    out = np.zeros(len(hot), dtype=bool)
    bear, hot_run, cold_run = False, 0, 0
    for t, is_hot in enumerate(hot):
        hot_run, cold_run = (hot_run + 1, 0) if is_hot else (0, cold_run + 1)
        if not bear and hot_run >= config.persistence and drawdown[t] <= -config.min_drawdown:
            bear = True
        elif bear and cold_run >= config.persistence:
            bear = False
        out[t] = bear
    return pd.Series(out, index=bear_probability.index, name="bear")
