"""The evaluation's interval of the median Δ Sharpe: a circular-block bootstrap, against arch's."""

import numpy as np
import pytest
from arch.bootstrap import CircularBlockBootstrap

from rebalancer.backtests.evaluation import block_bootstrap_median


def _arch_interval(values: np.ndarray, block: int) -> tuple[float, float]:
    bs = CircularBlockBootstrap(block, values, seed=1)
    medians = np.array([np.median(data[0][0]) for data in bs.bootstrap(20_000)])
    return float(np.quantile(medians, 0.05)), float(np.quantile(medians, 0.95))


@pytest.mark.parametrize("m", [14, 21, 53])
def test_the_interval_matches_archs_circular_block_bootstrap(m):
    # given dependent values (an AR(1) series, like overlapping windows' results)
    rng = np.random.default_rng(m)
    values = np.empty(m)
    values[0] = rng.normal()
    for i in range(1, m):
        values[i] = 0.7 * values[i - 1] + rng.normal(scale=0.1)
    # when
    ours = block_bootstrap_median(values, block=8, n=20_000)
    peer = _arch_interval(values, 8)
    # then both quantiles agree within the Monte Carlo error of 20,000 draws
    assert ours == pytest.approx(peer, abs=0.02 * values.std() + 1e-3)


def test_every_value_is_drawn_alike_so_the_interval_covers_the_median_of_a_trend():
    # given 14 windows whose middle is worse than both ends (the hold-out's shape); the plain
    # moving-block bootstrap over-draws the middle and its interval missed the median
    values = np.array([0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3])
    low, high = block_bootstrap_median(values, block=8)
    assert low <= np.median(values) <= high


def test_one_value_and_none():
    assert block_bootstrap_median(np.array([0.5])) == (0.5, 0.5)
    assert all(np.isnan(block_bootstrap_median(np.array([]))))
