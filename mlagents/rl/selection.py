"""Model selection on the validation window: keep the best snapshot of one training run.

Training runs to its budget. At a few fractions of it (:data:`SNAPSHOT_FRACTIONS`: a
quarter, half, three quarters, the end) the agent's current policy is scored by a
function the caller gives — the validation Sharpe ratio
(:func:`mlagents.rl.evaluation.validation_sharpe`, which is handed the returns up to the
validation window's end only) — and its weights are saved in memory. The snapshot with
the best score is the trained model: early stopping on a validation set (Prechelt,
"Early stopping — but when?", 1998), the usual guard against a policy that keeps
fitting the training years' market after it stopped generalising.

Scoring a snapshot only runs the deterministic policy (no random draws), so a run with
snapshots trains exactly as one without them; the kept snapshot is reloaded from its
bytes after training, never during it (loading reseeds the global RNG).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

from mlagents.rl.common import ProgressFn

SNAPSHOT_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
"""Fractions of the training budget at which the policy is scored on validation."""


@dataclass(frozen=True)
class Snapshot:
    fraction: float
    """Share of the training budget done when the snapshot was taken."""
    score: float
    """Validation score (higher is better; ``-inf`` when undefined)."""


@dataclass(frozen=True)
class Selection:
    """The kept agent, the training statistics and every snapshot's validation score."""

    agent: object
    history: list[dict]
    snapshots: tuple[Snapshot, ...]
    chosen: Snapshot

    def to_dict(self) -> dict:
        return {
            "chosen_fraction": self.chosen.fraction,
            "chosen_score": _finite(self.chosen.score),
            "snapshots": [{"fraction": s.fraction, "score": _finite(s.score)} for s in self.snapshots],
        }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def train_selected(
    agent,
    env,
    *,
    score: Callable[[object], float],
    fractions: tuple[float, ...] = SNAPSHOT_FRACTIONS,
    progress: ProgressFn | None = None,
    **train_options,
) -> Selection:
    """Train ``agent`` on ``env`` and keep its best snapshot by ``score(agent)``.

    ``score`` must read only the validation window (see the module docstring). Ties keep
    the later snapshot (more training for the same validation result).
    """
    marks = sorted(set(fractions) | {1.0})
    taken: list[tuple[Snapshot, bytes]] = []

    def snapshot(frac: float) -> None:
        buffer = io.BytesIO()
        agent.save(buffer)
        value = float(score(agent))
        taken.append((Snapshot(round(frac, 4), value if math.isfinite(value) else -math.inf), buffer.getvalue()))

    def on_progress(frac: float, stats: dict) -> None:
        due = [m for m in marks if m <= frac + 1e-12]
        if due:  # a short run may cross several marks in one update: one snapshot
            snapshot(frac)
            del marks[: len(due)]
        if progress:
            progress(frac, stats)

    history = agent.train(env, progress=on_progress, **train_options)
    if not taken or taken[-1][0].fraction < 1.0 - 1e-12:
        snapshot(1.0)
    best_index = max(range(len(taken)), key=lambda i: (taken[i][0].score, i))
    chosen, blob = taken[best_index]
    # the blob holds the weights, normalisation statistics and meta of that moment
    kept = agent if best_index == len(taken) - 1 else type(agent).load(io.BytesIO(blob))
    return Selection(kept, history, tuple(s for s, _ in taken), chosen)
