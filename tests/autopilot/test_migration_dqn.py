"""The data migration that moves portfolios off the DQN agent when it left the menu."""

import importlib

from django.apps import apps

from portfolios.models import AutonomySettings
from portfolios.services import portfolio_create
from rebalancer.autopilot.models import Notification

migration = importlib.import_module("rebalancer.autopilot.migrations.0005_dqn_off_the_default_menu")


def _dqn_portfolio(owner, name):
    p = portfolio_create(owner=owner, name=name)
    AutonomySettings.objects.filter(portfolio=p).update(strategy="agent:dqn")
    return p


def test_dqn_portfolios_move_to_the_default_and_their_investors_are_told(investor, settings):
    settings.MLAGENTS_OPT_IN_AGENTS = []
    mine = _dqn_portfolio(investor, "Growth")
    other = portfolio_create(owner=investor, name="Kept", strategy="optimizer:min_volatility")
    AutonomySettings.objects.filter(portfolio=other).update(hybrid_agent="agent:dqn")
    # when
    migration.dqn_portfolios_move(apps, None)
    # then the DQN portfolio follows the default, the hybrid takes any promoted agent
    assert AutonomySettings.objects.get(portfolio=mine).strategy == "optimizer:risk_parity"
    kept = AutonomySettings.objects.get(portfolio=other)
    assert (kept.strategy, kept.hybrid_agent) == ("optimizer:min_volatility", "")
    (note,) = Notification.objects.filter(user=investor)
    assert (note.portfolio_id, note.kind) == (mine.pk, "risk")
    assert "no longer offered" in note.body and "risk parity" in note.body


def test_nothing_moves_while_the_operator_offers_dqn(investor, settings):
    settings.MLAGENTS_OPT_IN_AGENTS = ["dqn"]
    mine = _dqn_portfolio(investor, "Growth")
    migration.dqn_portfolios_move(apps, None)
    assert AutonomySettings.objects.get(portfolio=mine).strategy == "agent:dqn"
    assert not Notification.objects.exists()
