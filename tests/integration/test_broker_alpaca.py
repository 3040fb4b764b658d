"""A real broker end to end on PostgreSQL with a real Celery worker and the fake Alpaca on loopback.

The cycle runs in the worker (``autopilot.cycle_run_task``); its commit enqueues the
submission (``portfolios.orders_submit_task``), which the worker sends to the fake Alpaca;
polls are ``portfolios.orders_sync_task`` in the worker; the fake server is scripted from
here (``tick`` moves the orders). The test data is committed (``transactional_db``) so the
worker sees it. The fake listens on the port the session plugin exported as
``ALPACA_FAKE_PORT`` before the worker started (its ``ALPACA_BASE_URL``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration import conftest as integration
from tests.portfolios.brokers.fake_alpaca import FakeAlpaca

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2024, 5, 15)  # a Wednesday; the fake's clock starts at 10:00 New York that day
SATURDAY = datetime(2024, 5, 18, 15, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2024, 5, 20, 13, 31, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="module")
def fake_server():
    with FakeAlpaca(port=int(os.environ["ALPACA_FAKE_PORT"])) as server:
        yield server


@pytest.fixture
def fake(fake_server, celery_worker_process):
    fake_server.reset(cash=D("100000"))
    return fake_server


@pytest.fixture
def alpaca_portfolio(transactional_db, investor, fake):
    """A funded autopilot portfolio on Alpaca (the environment's keys) over a committed four-asset market."""
    import numpy as np
    import pandas as pd

    from marketdata.models import Asset, PriceBar
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create

    rng = np.random.default_rng(11)
    days = pd.bdate_range(end=pd.Timestamp(AS_OF), periods=300)
    bars = []
    for symbol, asset_class in {"AAA": "equity", "BBB": "equity", "BND": "bond", "TIP": "bond"}.items():
        asset = Asset.objects.create(symbol=symbol, asset_class=asset_class)
        path = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01, len(days)))
        for day, close in zip(days, path, strict=True):
            price = Decimal(f"{close:.4f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                                 close=price, adj_close=price, volume=1_000_000))
        fake.prices[symbol] = Decimal(f"{path[-1]:.4f}")
    PriceBar.objects.bulk_create(bars)
    portfolio = portfolio_create(owner=investor, name="Real", mode="autopilot", strategy="equal_weight",
                                 broker="alpaca")
    autonomy_update(portfolio=portfolio, data={"calendar": "none"})
    cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
    return portfolio


def _wait(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _cycle(portfolio_id: int) -> dict:
    from rebalancer.autopilot.tasks import cycle_run_task

    return cycle_run_task.delay(portfolio_id=portfolio_id, as_of=AS_OF.isoformat()).get(timeout=120)


def _poll() -> dict:
    from portfolios.tasks import orders_sync_task

    return orders_sync_task.delay().get(timeout=120)


def _ledger(portfolio_id: int) -> tuple[Decimal, dict[str, Decimal], int]:
    from portfolios.models import Portfolio, Position, Trade

    positions = dict(Position.objects.filter(portfolio_id=portfolio_id, quantity__gt=0)
                     .values_list("asset__symbol", "quantity"))
    return Portfolio.objects.get(pk=portfolio_id).cash, positions, Trade.objects.filter(portfolio_id=portfolio_id).count()


def _orders(portfolio_id: int) -> dict:
    from portfolios.models import Order

    return {o.symbol: o for o in Order.objects.filter(portfolio_id=portfolio_id)}


def test_a_full_cycle_with_partial_fills_over_two_polls(alpaca_portfolio, fake):
    from portfolios.models import Decision, Trade
    from portfolios.services import ledger_audit

    pid = alpaca_portfolio.pk
    # when the worker runs the cycle; its commit sends the four buys
    result = _cycle(pid)
    assert (result["status"], result["action"]) == ("done", "rebalance")
    _wait(lambda: fake.posts() == 4, "four orders at the broker")
    orders = _wait(lambda: (o := _orders(pid)) and all(x.broker_order_id for x in o.values()) and o, "order ids")
    # given AAA fills half at its price + 0.05, then the rest at + 0.15; the others fill whole at once
    aaa = orders["AAA"]
    half = (aaa.quantity / 2).quantize(D("0.00000001"))
    price = fake.prices["AAA"]
    fake.script("AAA", ("fill", str(half), str(price + D("0.05"))), ("fill", None, str(price + D("0.15"))))
    # when the first poll runs
    fake.tick()
    _poll()
    # then the ledger holds half the AAA and all of the rest, cash down by exactly the fills
    cash, positions, trades = _ledger(pid)
    assert positions["AAA"] == half
    assert {s: positions[s] for s in ("BBB", "BND", "TIP")} == {s: orders[s].quantity for s in ("BBB", "BND", "TIP")}
    assert cash == D("100000") + sum(t.cash_flow for t in Trade.objects.filter(portfolio_id=pid))
    assert trades == 4
    assert Decision.objects.get(pk=aaa.decision_id).status == Decision.Status.SUBMITTED
    assert ledger_audit(portfolio=alpaca_portfolio) == []
    # when the second poll sees the rest of AAA
    fake.tick()
    _poll()
    # then every order is filled, the decision executed, ledger and broker agree
    cash, positions, trades = _ledger(pid)
    assert (positions["AAA"], trades) == (aaa.quantity, 5)
    second = Trade.objects.filter(portfolio_id=pid, asset__symbol="AAA").order_by("id").last()
    assert (second.quantity, second.price) == (aaa.quantity - half, price + D("0.15"))
    assert Decision.objects.get(pk=aaa.decision_id).status == Decision.Status.EXECUTED
    assert ledger_audit(portfolio=alpaca_portfolio) == []
    assert abs(cash - fake.cash) <= D("0.01")


def test_a_rejected_order_is_recorded_and_changes_nothing_else(alpaca_portfolio, fake):
    from portfolios.models import Decision, Trade

    pid = alpaca_portfolio.pk
    fake.script("BBB", ("reject",))
    _cycle(pid)
    _wait(lambda: fake.posts() == 4, "four orders at the broker")
    _wait(lambda: all(o.broker_order_id for o in _orders(pid).values()), "order ids")
    fake.tick()
    _poll()
    orders = _orders(pid)
    assert orders["BBB"].status == "rejected"
    decision = Decision.objects.get(pk=orders["BBB"].decision_id)
    assert decision.status == Decision.Status.EXECUTED
    assert decision.status_reason == "3 of 4 orders filled in full; buy BBB rejected: rejected by the broker"
    cash, positions, _ = _ledger(pid)
    assert "BBB" not in positions
    assert not Trade.objects.filter(portfolio_id=pid, asset__symbol="BBB").exists()
    spent = sum(orders[s].filled_notional for s in ("AAA", "BND", "TIP"))
    assert cash == D("100000") - spent


SUBMIT_SCRIPT = """
import sys, django
django.setup()
from datetime import date
from rebalancer.autopilot.services import cycle_run
print("RESULT", cycle_run(portfolio_id=int(sys.argv[1]), as_of=date.fromisoformat(sys.argv[2])).status, flush=True)
"""


def test_a_worker_killed_after_submitting_resubmits_the_same_client_order_id_without_a_duplicate(
    alpaca_portfolio, fake,
):
    from portfolios.models import Order
    from portfolios.tasks import orders_submit_task

    pid = alpaca_portfolio.pk
    # given a worker that runs the cycle, submits (in process, after its commit) and is killed
    # right after the broker accepted the first order, before recording the answer
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rebalancer.settings.test",
           "DATABASE_URL": integration.worker_database_url(), "PYTHONPATH": str(ROOT),
           "CELERY_TASK_ALWAYS_EAGER": "1", "BROKER_FAULT": "after_submit"}
    process = subprocess.run([sys.executable, "-c", SUBMIT_SCRIPT, str(pid), AS_OF.isoformat()], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == -9, process.stdout + process.stderr
    orders = list(Order.objects.filter(portfolio_id=pid).order_by("leg"))
    first = orders[0]
    assert (len(orders), fake.posts(), len(fake.orders)) == (4, 1, 1)
    assert (first.status, first.submit_attempts, first.broker_order_id) == ("pending", 1, "")
    # when the task is redelivered to the real worker
    orders_submit_task.delay(decision_id=first.decision_id).get(timeout=120)
    # then the first order was resubmitted with the same client_order_id and found, not doubled
    orders = list(Order.objects.filter(portfolio_id=pid).order_by("leg"))
    assert (fake.posts(), len(fake.orders)) == (5, 4)
    assert sorted(fake.by_client) == sorted(o.client_order_id for o in orders)
    assert {o.broker_order_id for o in orders} == set(fake.orders)
    assert orders[0].submit_attempts == 2


def test_a_weekend_holds_the_orders_for_mondays_open(alpaca_portfolio, fake):
    pid = alpaca_portfolio.pk
    # given the cycle runs on a Saturday (the broker's clock)
    fake.set_time(SATURDAY)
    _cycle(pid)
    orders = _wait(lambda: (o := _orders(pid)) and all(x.submit_after for x in o.values()) and o, "held orders")
    # then nothing was sent; every order waits for Monday 09:30 New York
    assert fake.posts() == 0
    assert {o.status for o in orders.values()} == {"pending"}
    assert {o.submit_after for o in orders.values()} == {datetime(2024, 5, 20, 13, 30, tzinfo=UTC)}
    # when a poll runs on Saturday nothing moves; at Monday's open the orders go out and fill
    _poll()
    assert fake.posts() == 0
    fake.set_time(MONDAY_OPEN)
    _poll()
    assert fake.posts() == 4
    fake.tick()
    _poll()
    assert {o.status for o in _orders(pid).values()} == {"filled"}
    _, positions, trades = _ledger(pid)
    assert (len(positions), trades) == (4, 4)


def test_reconciliation_catches_an_injected_difference_and_pauses_the_portfolio(alpaca_portfolio, fake):
    from portfolios.models import AutonomySettings, Reconciliation
    from portfolios.tasks import reconciliations_run_task
    from rebalancer.autopilot.services import eligible_portfolio_ids

    pid = alpaca_portfolio.pk
    _cycle(pid)
    _wait(lambda: fake.posts() == 4, "four orders at the broker")
    _wait(lambda: all(o.broker_order_id for o in _orders(pid).values()), "order ids")
    fake.tick()
    _poll()
    # given the ledger and the broker agree
    statuses = reconciliations_run_task.delay(portfolio_id=pid, trigger="on_demand").get(timeout=120)
    assert statuses == {str(pid): "matched"}
    # when one more TIP appears at the broker
    qty, avg = fake.positions["TIP"]
    fake.positions["TIP"] = (qty + 1, avg)
    statuses = reconciliations_run_task.delay(portfolio_id=pid, trigger="daily").get(timeout=120)
    # then the mismatch is recorded with the difference and the portfolio is paused
    assert statuses == {str(pid): "mismatch"}
    row = Reconciliation.objects.filter(portfolio_id=pid).latest("id")
    assert [(d["symbol"], D(d["difference"])) for d in row.differences] == [("TIP", D("1"))]
    autonomy = AutonomySettings.objects.get(portfolio_id=pid)
    assert (autonomy.enabled, autonomy.paused_reason.startswith(f"reconciliation #{row.pk}")) == (False, True)
    assert pid not in eligible_portfolio_ids()
