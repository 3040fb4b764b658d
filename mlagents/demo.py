"""Demo hook: small default agents on the demo market, idempotently.

Called by the ``demo`` command after the market data is loaded. Each algorithm is
trained once, briefly (seconds), on the demo market with the last quarter held out;
a second run trains nothing. The promotion gate applies as always: an agent that
does not beat the baselines stays a candidate (the demo says so), and the
``agent:*`` strategies then report that no agent is active.
"""

from __future__ import annotations

from typing import TextIO

DEMO_EPISODES = {"ppo": 256, "primal_dual": 640}
"""The default menu's agents (DQN is off it: docs/RL_EVALUATION.md)."""


def demo_load(*, stdout: TextIO) -> None:
    import torch

    from mlagents.models import AgentModel
    from mlagents.services import agent_train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for algorithm, episodes in DEMO_EPISODES.items():
            if AgentModel.objects.filter(algorithm=algorithm).exists():
                stdout.write(f"mlagents: a {algorithm} agent exists; skipped\n")
                continue
            model = agent_train(algorithm=algorithm, episodes=episodes, seed=0)
            stdout.write(f"mlagents: {model} in {model.training_seconds:.1f}s: {model.promotion_reason}\n")
    finally:
        torch.set_num_threads(threads)
