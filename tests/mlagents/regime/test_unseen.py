"""The prior state for a regime the fit window did not show (engine/unseen.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mlagents.regime.engine.unseen import unseen_regime_state, with_added_state


def test_a_missing_sideways_regime_sits_at_the_geometric_mean_of_bull_and_bear():
    # given two bull states (vol 0.08, 0.10; variances 1, 4) and a bear (0.32; variance 16)
    labels = ("bull", "bull", "bear")
    means = np.array([[0.1], [0.0], [-0.5]])
    covars = np.array([[[1.0]], [[4.0]], [[16.0]]])
    # when the prior state is built with equal bull occupancies
    added = unseen_regime_state(labels, means, covars, np.array([0.2, 0.2, -0.4]),
                                np.array([0.08, 0.10, 0.32]), np.array([0.45, 0.45, 0.10]))
    # then it is sideways, halfway on the log scale between the bull group and the bear
    assert added is not None and added.label == "sideways"
    assert added.variance == pytest.approx(np.exp((np.log(2.0) + np.log(16.0)) / 2))
    assert added.volatility == pytest.approx(np.exp((np.log(np.sqrt(0.08 * 0.10)) + np.log(0.32)) / 2))
    assert added.mean == pytest.approx((0.05 - 0.5) / 2)


def test_a_missing_bear_regime_is_one_step_beyond_sideways_and_nothing_missing_adds_nothing():
    covars = np.array([[[1.0]], [[4.0]], [[4.0]]])
    added = unseen_regime_state(("bull", "sideways", "sideways"), np.zeros((3, 1)), covars,
                                np.zeros(3), np.array([0.1, 0.2, 0.2]), np.ones(3) / 3)
    assert added is not None and added.label == "bear"
    assert added.variance == pytest.approx(16.0)
    assert added.volatility == pytest.approx(0.4)
    assert unseen_regime_state(("bull", "sideways", "bear"), np.zeros((3, 1)), covars,
                               np.zeros(3), np.array([0.1, 0.2, 0.4]), np.ones(3) / 3) is None


def test_the_added_state_keeps_every_row_a_distribution():
    transmat = np.array([[0.99, 0.006, 0.004], [0.01, 0.98, 0.01], [0.02, 0.0, 0.98]])
    start, out = with_added_state(np.array([0.5, 0.3, 0.2]), transmat, np.array([0.6, 0.3, 0.1]))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert start.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.diag(out)[:3], np.diag(transmat))
    assert out[0, 3] == pytest.approx(0.005)
    assert out[3, 3] == pytest.approx(np.mean(np.diag(transmat)))
