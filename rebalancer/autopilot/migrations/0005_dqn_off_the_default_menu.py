"""Portfolios set to the DQN agent move to the default strategy, and their investors are told.

DQN left the default strategy menu (issue 16: its test Sharpe spread 0.45-1.83 across seeds;
docs/RL_EVALUATION.md). A portfolio still naming ``agent:dqn`` would fail every cycle with
"unknown strategy", so unless the operator offers DQN (``MLAGENTS_OPT_IN_AGENTS=dqn``) it
moves to the default (risk parity) and a hybrid that named DQN takes any promoted agent.
Reversing restores nothing (the previous choice is named in the notification).
"""

from django.conf import settings
from django.db import migrations

DQN = "agent:dqn"
DEFAULT = "optimizer:risk_parity"


def dqn_portfolios_move(apps, _schema_editor):
    if "dqn" in {a.strip().lower() for a in getattr(settings, "MLAGENTS_OPT_IN_AGENTS", ())}:
        return
    AutonomySettings = apps.get_model("portfolios", "AutonomySettings")
    Notification = apps.get_model("autopilot", "Notification")
    moved = list(AutonomySettings.objects.filter(strategy=DQN).select_related("portfolio"))
    for row in moved:
        row.strategy = DEFAULT
        row.save(update_fields=["strategy"])
    AutonomySettings.objects.filter(hybrid_agent=DQN).update(hybrid_agent="")
    Notification.objects.bulk_create([
        Notification(
            user_id=row.portfolio.owner_id, portfolio_id=row.portfolio_id, kind="risk",
            title=f"{row.portfolio.name}: a new strategy"[:200],
            body="The DQN agent you chose is no longer offered: tested on years it never saw, its results "
                 "varied too much from one training run to the next. Your portfolio now follows risk parity, "
                 "our default; you can choose another strategy in the app.",
        )
        for row in moved
    ])


class Migration(migrations.Migration):
    dependencies = [
        ("autopilot", "0004_cyclerun_policy_state"),
        ("portfolios", "0005_portfolio_limits"),
    ]

    operations = [migrations.RunPython(dqn_portfolios_move, migrations.RunPython.noop)]
