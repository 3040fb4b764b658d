"""The chunk path of the cycle: many portfolios, one transaction, a constant number of queries.

:func:`cycle_chunk_run` does for a chunk of portfolios what
:func:`rebalancer.autopilot.services.cycle_run` does for one, with the same guarantees:

* **exactly once** — the chunk's ``CycleRun`` rows and portfolio rows are locked
  (``SELECT ... FOR UPDATE``, in id order) before the inputs are read, and every run is
  marked ``done`` in the same transaction that writes the decisions and the ledger; a
  concurrent worker blocks and then finds the runs done; a crash rolls everything back;
* **one failure does not stop the others** — a portfolio whose trades the broker or the
  ledger refuses (in memory, before any write) is recorded as failed in the same
  transaction; if the bulk write itself fails, the caller falls back to the
  per-portfolio path for that chunk.

Queries per chunk, whatever its size: lock runs, lock portfolios, the inputs (seven),
lots and positions, closes, then one bulk write per table (decisions, trades, lots,
closings, positions, portfolios, runs, notifications; the loss closings a buy may wash are one
more read) — on PostgreSQL a ``COPY`` per
inserted table (plus one ``nextval`` query for the decision and the trade ids) and a
``COPY`` into a temporary table plus one ``UPDATE ... FROM`` per updated table
(:mod:`common.bulk_write`). Rows are built as tuples, not model
instances. The ledger arithmetic is the portfolios app's own
(:class:`portfolios.services.execution.Ledger`), applied per portfolio in memory and
flushed for all of them together.
"""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from collections.abc import Sequence
from contextlib import contextmanager
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from common.bulk_write import rows_insert, rows_update
from common.errors import ApplicationError
from portfolios.brokers import BrokerError, Order, PaperBroker
from portfolios.models import Decision, Portfolio, Position, TaxLot
from portfolios.prices import closes_on
from portfolios.services.decisions import proposals_expire
from portfolios.services.execution import (
    Ledger,
    OpenLot,
    PositionState,
    ledgers_flush,
    loss_closings_load,
)
from portfolios.trading import BUY, SELL, CostModel
from rebalancer.autopilot import selectors
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.autopilot.push import push_enqueue
from rebalancer.autopilot.records import (
    SUPERSEDED_REASON,
    CycleOutcome,
    DecisionRecord,
    NotificationRecord,
    RunUpdate,
    cycle_outcome,
    decision_executes,
    error_text,
    run_closed_result,
)
from rebalancer.autopilot.types import CycleContext, CycleDecision, CycleRunResult

logger = logging.getLogger(__name__)


DECISION_COLUMNS = (
    "portfolio_id", "as_of", "mode", "status", "strategy", "triggers", "target_weights", "current_weights",
    "before", "after", "checks", "trades", "prices", "explanation", "summary", "confidence", "status_reason",
    "ledger_version", "created_at", "decided_at", "executed_at", "decided_by_id",
)


def _decision_row(record: DecisionRecord, now) -> tuple:
    """The ``Decision`` row of ``record`` as a tuple of :data:`DECISION_COLUMNS`."""
    return (
        record.portfolio_id, record.as_of, record.mode, record.status, record.strategy,
        record.triggers, record.target_weights, record.current_weights, record.before, record.after,
        record.checks, record.trades, record.prices, record.explanation, record.summary, record.confidence,
        record.status_reason, record.ledger_version, now, None, now if record.executes else None, None,
    )


def _ledger_for(
    portfolio: Portfolio, decision: CycleDecision, *, assets, lots, positions, closes, costs: CostModel,
    loss_closings=None,
) -> Ledger:
    """Apply the decision's orders to the portfolio's ledger in memory (raises on refusal)."""
    orders = [t.order for t in decision.trades]
    ordered = [o for o in orders if o.side == SELL] + [o for o in orders if o.side == BUY]
    broker = PaperBroker(prices=closes, costs=costs)
    fills = broker.execute(
        [Order(o.symbol, o.side, o.quantity, client_ref=f"{portfolio.pk}:{portfolio.ledger_version}:{i}")
         for i, o in enumerate(ordered)],
        decision.as_of,
    )
    ledger = Ledger(
        portfolio, assets, lots, positions, broker_name=getattr(broker, "name", "paper"), loss_closings=loss_closings
    )
    for order, fill in zip(ordered, fills, strict=True):
        ledger.apply(order, fill, decision=None, as_of=decision.as_of)
    return ledger


CYCLE_RUN_COLUMNS = (
    "status", "action", "decision_id", "reason", "trades_count", "error", "finished_at", "policy_state",
)
NOTIFICATION_COLUMNS = ("user_id", "portfolio_id", "decision_id", "kind", "title", "body", "created_at", "read_at")


def _notification_row(note: NotificationRecord, decision_id: int | None, now) -> tuple:
    return (note.user_id, note.portfolio_id, decision_id, note.kind, note.title, note.body, now, None)


def _run_row(run: CycleRun, update: RunUpdate, decision_id: int | None, now) -> tuple:
    """The ``CycleRun`` update of ``update`` as ``(pk, *CYCLE_RUN_COLUMNS)``."""
    return (run.pk, update.status, update.action, update.decision_id_with(decision_id), update.reason,
            update.trades_count, update.error, now, update.policy_state)


@contextmanager
def cyclic_gc_paused():
    """Python's cyclic garbage collector off for the block (and back on after, if it was).

    A chunk allocates hundreds of thousands of short-lived objects (decimals,
    tuples, dicts), which trigger ~1,500 collections per 2,000 portfolios, each walking
    every tracked object of the worker (Django, pandas, the cycle context): a quarter of
    the chunk's CPU, measured. These objects are freed by reference counting; the few
    reference cycles a chunk may leave are collected by the first collection after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cycle_chunk_run(
    *, portfolio_ids: Sequence[int], context: CycleContext, force: bool, fault_point
) -> list[CycleRunResult]:
    """Run the cycle of a chunk in one transaction; see the module docstring.

    The records each portfolio writes are :mod:`rebalancer.autopilot.records`' (the
    per-portfolio path writes the same ones with the ORM)."""
    with cyclic_gc_paused():
        return _chunk_run(portfolio_ids=portfolio_ids, context=context, force=force, fault_point=fault_point)


def _in_request_order(results: list[CycleRunResult], portfolio_ids: Sequence[int]) -> list[CycleRunResult]:
    order = {pid: i for i, pid in enumerate(portfolio_ids)}
    return sorted(results, key=lambda r: order.get(r.portfolio_id, len(order)))


def _runs_lock(portfolio_ids: Sequence[int], as_of) -> tuple[dict[int, CycleRun], list[CycleRunResult], list[int]]:
    """Lock the chunk's cycle runs; the results of those that cannot run, and the ids to run."""
    runs = {
        r.portfolio_id: r
        for r in CycleRun.objects.select_for_update()
        .filter(portfolio_id__in=list(portfolio_ids), as_of=as_of)
        .order_by("portfolio_id")
    }
    results, todo = [], []
    for pid in portfolio_ids:
        closed = run_closed_result(pid, as_of, runs.get(pid))
        if closed is None:
            todo.append(pid)
        else:
            results.append(closed)
    return runs, results, todo


def portfolio_decide(*, inputs: selectors.PortfolioInputs, context: CycleContext) -> CycleDecision:
    """One portfolio's decision on the cycle's shared market view, kill switch, regime and
    targets (the one call of the engine for both paths: patch ``bulk.cycle_decide`` in tests)."""
    held = {s for s, q in inputs.state.quantities.items() if q > 0}
    return cycle_decide(
        state=inputs.state, market=context.market_for(held | set(inputs.config.universe)),
        config=inputs.config, kill_switch=context.kill_switch, regime=context.regime,
        targets_cache=context.targets_cache,
    )


def _decide_all(todo: Sequence[int], inputs: dict, context: CycleContext) -> tuple[dict[int, CycleDecision], dict[int, str]]:
    """Each portfolio's decision, or the error its decision raised."""
    decided: dict[int, CycleDecision] = {}
    errors: dict[int, str] = {}
    for pid in todo:
        item = inputs.get(pid)
        if item is None:
            continue
        try:
            decided[pid] = portfolio_decide(inputs=item, context=context)
        except Exception as exc:  # one portfolio's bug must not stop the chunk
            logger.exception("autopilot decision of portfolio %s on %s failed", pid, context.as_of)
            errors[pid] = error_text(exc)
    return decided, errors


def _ledgers_apply(
    executing: list[int], decided: dict[int, CycleDecision], inputs: dict, locked: dict[int, Portfolio],
    context: CycleContext,
) -> tuple[dict[int, Ledger], dict[int, str]]:
    """The executing portfolios' ledgers after their trades (in memory), or why the broker or
    the ledger refused them; the chunk's lots, positions, closes and loss closings in a few queries."""
    ledgers: dict[int, Ledger] = {}
    refused: dict[int, str] = {}
    if not executing:
        return ledgers, refused
    lots: dict[int, list[OpenLot]] = defaultdict(list)
    positions: dict[int, dict[int, PositionState]] = defaultdict(dict)
    for pid, *lot in TaxLot.objects.filter(portfolio_id__in=executing, quantity_open__gt=0).values_list(
        "portfolio_id", *OpenLot.FIELDS
    ):
        lots[pid].append(OpenLot(*lot))
    for pid, *position in Position.objects.filter(portfolio_id__in=executing).values_list(
        "portfolio_id", *PositionState.FIELDS
    ):
        positions[pid][position[1]] = PositionState(*position)
    asset_rows = context.assets
    symbols = sorted({t.symbol for pid in executing for t in decided[pid].trades})
    closes: dict[str, Decimal] = closes_on(symbols=symbols, on=context.as_of)
    # loss closings a buy may wash (wash-sale rule): one query for the chunk
    losses = loss_closings_load(
        portfolio_ids=executing, asset_ids=[asset_rows[s].pk for s in symbols if s in asset_rows], as_of=context.as_of
    )
    for pid in executing:
        autonomy = inputs[pid].autonomy
        try:
            ledgers[pid] = _ledger_for(
                locked[pid], decided[pid],
                assets={t.symbol: asset_rows[t.symbol] for t in decided[pid].trades},
                lots=lots[pid], positions=positions[pid], closes=closes,
                costs=CostModel(commission_rate=autonomy.commission_rate,
                                commission_min=autonomy.commission_min,
                                slippage_bps=autonomy.slippage_bps),
                loss_closings=losses.get(pid, {}),
            )
        except (ApplicationError, BrokerError, KeyError) as exc:
            refused[pid] = error_text(exc)
    return ledgers, refused


def _outcomes_write(outcomes: list[CycleOutcome], runs: dict[int, CycleRun], ledgers: dict[int, Ledger],
                    fault_point) -> list[CycleRunResult]:
    """Write the chunk's records: one bulk statement per table."""
    now = timezone.now()
    proposing = [o.portfolio_id for o in outcomes if o.supersedes_proposals]
    proposals_expire(portfolio_ids=proposing, reason=SUPERSEDED_REASON, at=now)
    records = [o.decision for o in outcomes if o.decision is not None]
    ids = rows_insert(Decision, DECISION_COLUMNS, [_decision_row(r, now) for r in records], returning_ids=True)
    decision_ids = {r.portfolio_id: i for r, i in zip(records, ids, strict=True)}
    ledgers_flush([(ledgers[r.portfolio_id], decision_ids[r.portfolio_id]) for r in records if r.executes], now=now)
    fault_point("after_execute")
    rows_update(CycleRun, CYCLE_RUN_COLUMNS, [
        _run_row(runs[o.portfolio_id], o.run, decision_ids.get(o.portfolio_id), now) for o in outcomes if o.run
    ])
    notifications = [_notification_row(o.notification, decision_ids.get(o.portfolio_id), now)
                     for o in outcomes if o.notification]
    push_enqueue(notification_ids=rows_insert(Notification, NOTIFICATION_COLUMNS, notifications, returning_ids=True))
    return [o.result(decision_ids.get(o.portfolio_id)) for o in outcomes]


def _chunk_run(*, portfolio_ids: Sequence[int], context: CycleContext, force: bool, fault_point) -> list[CycleRunResult]:
    as_of = context.as_of
    with transaction.atomic():
        runs, results, todo = _runs_lock(portfolio_ids, as_of)
        if not todo:
            return _in_request_order(results, portfolio_ids)
        # Lock order everywhere: cycle run, then portfolio (portfolios in id order).
        locked = {p.pk: p for p in Portfolio.objects.select_for_update().filter(pk__in=todo).order_by("pk")}
        inputs = selectors.cycle_inputs_load(portfolio_ids=todo, as_of=as_of, assets=context.assets, force=force)
        decided, failed = _decide_all(todo, inputs, context)
        fault_point("after_decide")
        executing = [pid for pid, d in decided.items() if decision_executes(d, inputs[pid].config.mode)]
        ledgers, refused = _ledgers_apply(executing, decided, inputs, locked, context)
        failed.update(refused)
        outcomes = [
            cycle_outcome(
                portfolio_id=pid, as_of=as_of, decision=decided.get(pid), error=failed.get(pid, ""), run=runs[pid],
                mode=inputs[pid].config.mode if pid in inputs else "", portfolio=locked.get(pid),
            )
            for pid in todo
        ]
        results += _outcomes_write(outcomes, runs, ledgers, fault_point)
    return _in_request_order(results, portfolio_ids)
