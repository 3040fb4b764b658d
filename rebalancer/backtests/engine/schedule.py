"""Rebalance calendars: which trading days of a price index start a new period.

The convention is the one the bt library's ``RunDaily/RunWeekly/RunMonthly/...`` algos
use: a day is a rebalance day when it is the first day of the index, or when its
period (ISO week, month, quarter, year) differs from the previous trading day's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "annually", "never")


def period_starts(index: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    """Boolean mask over ``index``: True on the first trading day of each period.

    ``never`` marks only the first day (buy and hold). The first day is always True:
    it is when the initial cash is invested.
    """
    n = len(index)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    mask[0] = True
    if frequency == "never":
        return mask
    if frequency == "daily":
        mask[:] = True
        return mask
    if frequency == "weekly":
        iso = index.isocalendar()
        key = iso["year"].to_numpy() * 100 + iso["week"].to_numpy()
    elif frequency == "monthly":
        key = index.year.to_numpy() * 100 + index.month.to_numpy()
    elif frequency == "quarterly":
        key = index.year.to_numpy() * 10 + index.quarter.to_numpy()
    elif frequency == "annually":
        key = index.year.to_numpy()
    else:
        raise ValueError(f"unknown frequency {frequency!r}; use one of {', '.join(FREQUENCIES)}")
    mask[1:] = key[1:] != key[:-1]
    return mask
