"""A traced frontier path: its segments, where the frontier's points go, its tangency.

A path is the piecewise-linear solution ``w(lam) = a + lam b`` of a parametric QP, segment by
segment in ``lam``, with the net return affine on each segment (:mod:`.rebalancing` traces it).
:class:`RebalancingPath` turns it into frontier points at any net-return targets, and finds
its exact max-Sharpe point; :func:`place_targets` decides where the points go and what
becomes of targets beyond the path's end.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass
class SegmentParts:
    """One active set's KKT solution: weights, gradients and the kink weight ``c``, affine in lam."""

    a: np.ndarray
    b: np.ndarray
    eta0: np.ndarray
    eta1: np.ndarray
    g0: np.ndarray
    g1: np.ndarray
    c0: float
    c1: float
    s: np.ndarray
    """``s_i`` of every weight (see :meth:`RebalancingQP._sides`)."""
    free: np.ndarray
    """Which weights are free (boolean)."""


@dataclass
class RebalancingSegment:
    """``w(lam) = a + lam b`` on ``[start, end]``; net return ``net0 + lam net1`` (no offset).

    ``parts`` keeps the gradient and kink weight of the segment's KKT solution, from which a
    weight pinned at zero gets its reduced cost (:meth:`RebalancingQP.entry_costs`).
    """

    start: float
    end: float
    a: np.ndarray
    b: np.ndarray
    net0: float
    net1: float
    parts: SegmentParts | None = None


def place_targets(
    targets: np.ndarray | None, low: float, high: float, points: int
) -> tuple[np.ndarray, int]:
    """Where the frontier's points go, and how many asked-for targets lie beyond its end.

    ``None``: ``points`` evenly spaced from ``low`` (the min-volatility return) to ``high`` (the
    highest return the constraints allow). Explicit targets below ``low`` are met by the
    min-volatility portfolio; those above ``high`` cannot be met (e.g. under a turnover cap):
    they are dropped and the frontier ends at ``high`` -- its end, not a failure.
    """
    if targets is None:
        return np.linspace(low, max(low, high), points), 0
    targets = np.sort(np.asarray(targets, dtype=float))
    reach = high + 1e-10 * max(1.0, abs(high))
    beyond = targets > reach
    placed = np.maximum(targets[~beyond], low)
    if beyond.any() and not (len(placed) and placed[-1] >= high - 1e-12 * max(1.0, abs(high))):
        placed = np.append(placed, high)
    return placed, int(beyond.sum())


@dataclass
class RebalancingPath:
    """The traced path with its corner net returns, ready to place frontier points."""

    segments: list[RebalancingSegment]
    corner_nets: np.ndarray

    @classmethod
    def trace(cls, qp) -> RebalancingPath:
        """The path of ``qp`` (a :class:`.rebalancing.RebalancingQP`), traced to its end."""
        segments = qp.path()
        nets = np.array([s.net0 + s.start * s.net1 for s in segments])
        return cls(segments, nets)

    @property
    def min_net(self) -> float:
        return float(self.corner_nets[0])

    @property
    def max_net(self) -> float:
        last = self.segments[-1]
        return float(last.net0 + last.start * last.net1)

    def at(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(weights, segment index, lam)`` of the frontier at net-return ``targets``.

        Targets below the min-volatility corner get that corner (the return constraint is
        slack there); targets above the path's end get the end (callers flag them).
        """
        targets = np.clip(np.asarray(targets, dtype=float), self.min_net, self.max_net)
        k = np.clip(
            np.searchsorted(self.corner_nets, targets, side="right") - 1, 0, len(self.segments) - 1
        )
        starts, ends, slopes, A, B = self._stacked
        starts, ends, slopes = starts[k], ends[k], slopes[k]
        lam = starts.copy()
        rising = slopes > 0
        lam[rising] += (targets[rising] - self.corner_nets[k][rising]) / slopes[rising]
        lam = np.minimum(lam, ends)
        return A[k] + lam[:, None] * B[k], k, lam

    @functools.cached_property
    def _stacked(self):
        segs = self.segments
        return (
            np.array([s.start for s in segs]),
            np.array([s.end for s in segs]),
            np.array([s.net1 for s in segs]),
            np.stack([s.a for s in segs]),
            np.stack([s.b for s in segs]),
        )

    def weights_at(self, targets: np.ndarray) -> np.ndarray:
        return self.at(targets)[0]

    def tangency(self, sigma: np.ndarray, offset: float, rf: float) -> np.ndarray:
        """The max-Sharpe weights on the path (net return): per segment a ratio of an affine
        function and the root of a quadratic in lam, its stationary point in closed form."""
        best, best_weights = -np.inf, self.segments[0].a
        for seg in self.segments:
            end = seg.end if np.isfinite(seg.end) else seg.start
            e, q = seg.net0 + offset - rf, seg.net1
            sigma_a, sigma_b = sigma @ seg.a, sigma @ seg.b
            s0, s1, s2 = seg.a @ sigma_a, seg.a @ sigma_b, seg.b @ sigma_b
            candidates = [seg.start, end]
            denominator = q * s1 - e * s2
            if abs(denominator) > 1e-300:
                lam = (e * s1 - q * s0) / denominator
                if seg.start < lam < end:
                    candidates.append(lam)
            for lam in candidates:
                vol = np.sqrt(max(s0 + 2 * lam * s1 + lam * lam * s2, 0.0))
                sharpe = (e + lam * q) / vol if vol > 0 else -np.inf
                if sharpe > best:
                    best, best_weights = sharpe, seg.a + lam * seg.b
        return best_weights
