import io

import pytest

from mlagents import demo
from mlagents.models import AgentModel


@pytest.mark.slow  # trains an agent per algorithm (~4 s here): make test runs it in its slow stage
def test_demo_trains_each_algorithm_once(small_market, torch_one_thread, monkeypatch):
    # given: tiny budgets so the hook runs in seconds on the test market
    monkeypatch.setattr(demo, "DEMO_EPISODES", {**demo.DEMO_EPISODES, "ppo": 32, "primal_dual": 32})
    out = io.StringIO()
    # when
    demo.demo_load(stdout=out)
    demo.demo_load(stdout=out)
    # then
    # then: the default menu's agents (DQN is off it)
    assert sorted(AgentModel.objects.values_list("algorithm", flat=True)) == ["ppo", "primal_dual"]
    assert out.getvalue().count("skipped") == 2
