"""The ledger under real concurrency on PostgreSQL: racing approvals and withdrawals.

Each contender runs in its own OS process against the committed test database; the
portfolio row lock (``select_for_update``) and the proposal's status check must let
exactly one approval execute and keep cash from going negative.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration import conftest as integration

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2024, 5, 15)
APPROVE = """
import sys, django
django.setup()
from common.errors import ApplicationError
from portfolios.services import decision_approve
try:
    decision_approve(decision=int(sys.argv[1]))
    print("OUTCOME executed", flush=True)
except ApplicationError as exc:
    print("OUTCOME", exc.status_code, exc.code, flush=True)
"""
WITHDRAW = """
import sys, django
django.setup()
from decimal import Decimal
from common.errors import ApplicationError
from portfolios.models import Portfolio
from portfolios.services import cash_withdraw
try:
    cash_withdraw(portfolio=Portfolio.objects.get(pk=int(sys.argv[1])), amount=Decimal(sys.argv[2]))
    print("OUTCOME withdrawn", flush=True)
except ApplicationError as exc:
    print("OUTCOME", exc.status_code, exc.code, flush=True)
"""


def _spawn(script: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rebalancer.settings.test",
        "DATABASE_URL": integration.worker_database_url(),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _outcomes(processes: list[subprocess.Popen]) -> list[str]:
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outcomes.append(next(line for line in out.splitlines() if line.startswith("OUTCOME"))[8:])
    return sorted(outcomes)


@pytest.fixture
def funded(transactional_db, investor):
    from marketdata.models import Asset, PriceBar
    from portfolios.services import cash_deposit, portfolio_create

    asset = Asset.objects.create(symbol="AAA", asset_class="equity")
    price = Decimal("100")
    PriceBar.objects.create(asset=asset, date=DAY, open=price, high=price, low=price, close=price, adj_close=price)
    portfolio = portfolio_create(owner=investor, name="Race")
    cash_deposit(portfolio=portfolio, amount=Decimal("10000"))
    return portfolio


def test_two_processes_approving_one_proposal_execute_it_once(funded):
    from portfolios.models import Trade
    from portfolios.services import decision_create, ledger_audit
    from portfolios.trading import ProposedTrade

    # given
    decision = decision_create(
        portfolio=funded, as_of=DAY, mode="advise",
        trades=[ProposedTrade("AAA", "buy", Decimal(50), Decimal("100.05"), Decimal(5), "buy", price=Decimal(100))],
    )
    # when
    outcomes = _outcomes([_spawn(APPROVE, str(decision.pk)) for _ in range(3)])
    # then
    assert outcomes == ["409 proposal_not_pending", "409 proposal_not_pending", "executed"]
    assert Trade.objects.filter(decision=decision).count() == 1
    assert ledger_audit() == []


def test_racing_withdrawals_never_overdraw(funded):
    from portfolios.services import ledger_audit

    # when two processes each withdraw 6000 of 10000
    outcomes = _outcomes([_spawn(WITHDRAW, str(funded.pk), "6000") for _ in range(2)])
    # then
    assert outcomes == ["422 insufficient_cash", "withdrawn"]
    funded.refresh_from_db()
    assert funded.cash == Decimal("4000")
    assert ledger_audit() == []
