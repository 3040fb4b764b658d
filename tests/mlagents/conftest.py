"""Fixtures of the agents app: a small market in the database, one thread for torch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


@pytest.fixture
def torch_one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def small_market(db):
    """Four assets, 420 business days from 2020-01-01 (seeded); returns the price frame."""
    from marketdata.services import asset_upsert, prices_upsert

    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2020-01-01", periods=420)
    drift = np.array([0.0008, 0.0002, 0.0004, -0.0002])
    vol = np.array([0.01, 0.006, 0.015, 0.012])
    prices = 100 * np.cumprod(1 + rng.normal(drift, vol, size=(len(dates), 4)), axis=0)
    classes = ("equity", "bond", "equity", "commodity")
    rows = []
    for j, (symbol, cls) in enumerate(zip(SYMBOLS, classes, strict=True)):
        asset_upsert(symbol=symbol, asset_class=cls)
        for d, p in zip(dates, prices[:, j], strict=True):
            rows.append({"symbol": symbol, "date": d.date(), "open": p, "high": p, "low": p,
                         "close": p, "adj_close": p, "volume": 1000})
    prices_upsert(frame=pd.DataFrame(rows), provider="test")
    return pd.DataFrame(prices, index=dates, columns=list(SYMBOLS))


@pytest.fixture
def dqn_offered():
    """``agent:dqn`` registered, as where the operator opts in (MLAGENTS_OPT_IN_AGENTS=dqn)."""
    from mlagents.strategies import register_agent_strategies
    from portfolios.strategies import unregister

    register_agent_strategies(opt_in=["dqn"])
    yield
    unregister("agent:dqn")
