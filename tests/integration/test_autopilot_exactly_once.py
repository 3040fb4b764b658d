"""Exactly once on real PostgreSQL: racing processes and a process killed mid-cycle.

Each cycle runs in its own OS process (``python -c``) against the test database, as two
Celery workers or a beat double-fire would; the test data is committed first
(``transaction=True``) so the processes see it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration import conftest as integration

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2024-05-15"
SCRIPT = """
import sys, django
django.setup()
from datetime import date
from rebalancer.autopilot.services import cycle_run_many
ids = [int(i) for i in sys.argv[1].split(",")]
for r in cycle_run_many(portfolio_ids=ids, as_of=date.fromisoformat(sys.argv[2])):
    print("RESULT", r.status, r.action, r.trades_count, flush=True)
"""


def _cycle_process(portfolio_id: int | str, fault: str | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rebalancer.settings.test",
        "DATABASE_URL": integration.worker_database_url(),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AUTOPILOT_FAULT", None)
    if fault:
        env["AUTOPILOT_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(portfolio_id), AS_OF],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out + err


@pytest.fixture
def autopilot_portfolio(transactional_db, investor):
    """A funded autopilot portfolio over a committed four-asset market ending on AS_OF."""
    from datetime import date

    import numpy as np
    import pandas as pd

    from marketdata.models import Asset, PriceBar
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create

    rng = np.random.default_rng(11)
    days = pd.bdate_range(end=pd.Timestamp(date.fromisoformat(AS_OF)), periods=300)
    bars = []
    for symbol, asset_class in {"AAA": "equity", "BBB": "equity", "BND": "bond", "TIP": "bond"}.items():
        asset = Asset.objects.create(symbol=symbol, asset_class=asset_class)
        path = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01, len(days)))
        for day, close in zip(days, path, strict=True):
            price = Decimal(f"{close:.4f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                                 close=price, adj_close=price, volume=1_000_000))
    PriceBar.objects.bulk_create(bars)
    portfolio = portfolio_create(owner=investor, name="Race", mode="autopilot", strategy="equal_weight")
    autonomy_update(portfolio=portfolio, data={"calendar": "none"})
    cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
    return portfolio


def _ledger(portfolio_id: int) -> tuple[int, int, Decimal, str | None]:
    from portfolios.models import Decision, Portfolio, Trade
    from rebalancer.autopilot.models import CycleRun

    run = CycleRun.objects.filter(portfolio_id=portfolio_id).first()
    return (
        Trade.objects.filter(portfolio_id=portfolio_id).count(),
        Decision.objects.filter(portfolio_id=portfolio_id).count(),
        Portfolio.objects.get(pk=portfolio_id).cash,
        run.status if run else None,
    )


def test_two_racing_processes_execute_one_set_of_trades(autopilot_portfolio):
    # given two workers starting the same (portfolio, as-of) cycle at once; the first to
    # lock holds its transaction open for two seconds
    pid = autopilot_portfolio.pk
    first = _cycle_process(pid, fault="slow_after_decide")
    second = _cycle_process(pid, fault="slow_after_decide")
    # when both finish
    outcomes = sorted(_finish(p)[1].split("RESULT", 1)[-1].split()[0] for p in (first, second))
    # then one executed and the other found it done
    assert outcomes == ["already_done", "done"]
    trades, decisions, cash, status = _ledger(pid)
    assert (trades, decisions, status) == (4, 1, "done")
    from portfolios.models import Trade

    assert cash == Decimal("100000") + sum(t.cash_flow for t in Trade.objects.filter(portfolio_id=pid))


@pytest.mark.parametrize("fault", ["after_decide", "after_execute"])
def test_process_killed_mid_cycle_leaves_nothing_and_a_rerun_finishes(autopilot_portfolio, fault):
    # given a worker killed inside the cycle's transaction (after deciding / after the
    # broker filled and the ledger rows were written, before commit)
    pid = autopilot_portfolio.pk
    code, output = _finish(_cycle_process(pid, fault=fault))
    assert code == -9, output
    # then no partial trade, decision or cash change is left; the run is still pending
    assert _ledger(pid) == (0, 0, Decimal("100000"), "pending")
    # when the cycle is run again (the redelivered task)
    code, output = _finish(_cycle_process(pid))
    # then it finishes the job exactly once
    assert code == 0, output
    assert "RESULT done rebalance 4" in output
    trades, decisions, _, status = _ledger(pid)
    assert (trades, decisions, status) == (4, 1, "done")
    from rebalancer.autopilot.models import CycleRun

    assert CycleRun.objects.get(portfolio_id=pid).attempt == 2


def test_chunk_killed_mid_write_leaves_nothing_and_a_rerun_finishes(autopilot_portfolio, investor):
    # given a second portfolio: two portfolios go through the chunk path (one transaction)
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create

    other = portfolio_create(owner=investor, name="Second", mode="autopilot", strategy="equal_weight")
    autonomy_update(portfolio=other, data={"calendar": "none"})
    cash_deposit(portfolio=other, amount=Decimal("50000"))
    ids = f"{autopilot_portfolio.pk},{other.pk}"
    # when the worker dies after the bulk ledger writes, before commit
    code, output = _finish(_cycle_process(ids, fault="after_execute"))
    assert code == -9, output
    # then neither portfolio changed
    assert _ledger(autopilot_portfolio.pk) == (0, 0, Decimal("100000"), "pending")
    assert _ledger(other.pk) == (0, 0, Decimal("50000"), "pending")
    # when rerun, both finish once
    code, output = _finish(_cycle_process(ids))
    assert code == 0, output
    assert output.count("RESULT done rebalance 4") == 2
    assert _ledger(autopilot_portfolio.pk)[:2] == (4, 1)
    assert _ledger(other.pk)[:2] == (4, 1)
