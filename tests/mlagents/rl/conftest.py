"""Toy markets for the RL engine tests (DB-free, tiny, seeded)."""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # small nets are faster single-threaded, and the machine is shared
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def noise_market() -> np.ndarray:
    return np.random.default_rng(0).normal(0.0004, 0.01, size=(300, 4))


@pytest.fixture
def dominant_market() -> np.ndarray:
    """Asset 0 earns 40 bp a day at low volatility; the others lose or drift."""
    rng = np.random.default_rng(0)
    n = 400
    return np.column_stack(
        [rng.normal(0.004, 0.005, n), rng.normal(-0.001, 0.01, n), rng.normal(0.0, 0.01, n)]
    )
