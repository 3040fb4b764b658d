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
from rebalancer.autopilot.explain import decision_explanation
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.autopilot.notifications import decision_notification_texts
from rebalancer.autopilot.push import push_enqueue
from rebalancer.autopilot.types import CycleDecision, policy_state_to_dict

logger = logging.getLogger(__name__)


DECISION_COLUMNS = (
    "portfolio_id", "as_of", "mode", "status", "strategy", "triggers", "target_weights", "current_weights",
    "before", "after", "checks", "trades", "prices", "explanation", "summary", "confidence", "status_reason",
    "ledger_version", "created_at", "decided_at", "executed_at", "decided_by_id",
)


def _decision_row(decision: CycleDecision, portfolio: Portfolio, mode: str, status: str, now) -> tuple:
    """The ``Decision`` row of ``decision`` as a tuple of :data:`DECISION_COLUMNS`."""
    explanation = decision_explanation(decision)
    orders = [t.order for t in decision.trades]
    return (
        portfolio.pk, decision.as_of, mode, status, decision.strategy or "",
        explanation["triggers"], explanation["target_weights"], explanation["current_weights"],
        explanation["before"] or {}, explanation["after"] or {}, explanation["checks"],
        [o.to_dict() for o in orders], {o.symbol: str(o.price) for o in orders}, explanation,
        decision.summary, max(0.0, min(1.0, decision.confidence)),
        decision.skipped_reason or ("" if decision.trades else decision.summary),
        portfolio.ledger_version, now, None, now if status == Decision.Status.EXECUTED else None, None,
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


def _notification(decision: CycleDecision, decision_id: int, portfolio: Portfolio, mode: str, now) -> tuple:
    kind, title, body = decision_notification_texts(
        explanation=decision_explanation(decision), portfolio_name=portfolio.name,
        currency=portfolio.base_currency, mode=mode, defensive=decision.override is not None,
    )
    return (portfolio.owner_id, portfolio.pk, decision_id, kind, title, body, now, None)


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


def cycle_chunk_run(*, portfolio_ids: Sequence[int], context, force: bool, fault_point) -> list:
    """Run the cycle of a chunk in one transaction; see the module docstring.

    Returns ``CycleRunResult`` values (imported lazily to avoid an import cycle).
    """
    with cyclic_gc_paused():
        return _chunk_run(portfolio_ids=portfolio_ids, context=context, force=force, fault_point=fault_point)


def _chunk_run(*, portfolio_ids: Sequence[int], context, force: bool, fault_point) -> list:  # noqa: C901 - issue 22 splits it (tests/test_code_health.py)
    from rebalancer.autopilot.services import CycleRunResult

    as_of = context.as_of
    results: list = []
    with transaction.atomic():
        runs = {
            r.portfolio_id: r
            for r in CycleRun.objects.select_for_update()
            .filter(portfolio_id__in=list(portfolio_ids), as_of=as_of)
            .order_by("portfolio_id")
        }
        todo = []
        for pid in portfolio_ids:
            run = runs.get(pid)
            if run is None:
                results.append(CycleRunResult(pid, as_of, status="not_eligible", error="no cycle run row"))
            elif run.status == CycleRun.Status.DONE:
                results.append(CycleRunResult(
                    pid, as_of, status="already_done", action=run.action,
                    decision_id=run.decision_id, trades_count=run.trades_count, summary=run.reason,
                ))
            else:
                todo.append(pid)
        if not todo:
            order = {pid: i for i, pid in enumerate(portfolio_ids)}
            return sorted(results, key=lambda r: order.get(r.portfolio_id, len(order)))
        # Lock order everywhere: cycle run, then portfolio (portfolios in id order).
        locked = {p.pk: p for p in Portfolio.objects.select_for_update().filter(pk__in=todo).order_by("pk")}
        inputs = selectors.cycle_inputs_load(portfolio_ids=todo, as_of=as_of, assets=context.assets, force=force)
        decided: dict[int, CycleDecision] = {}
        decision_errors: dict[int, str] = {}
        for pid in todo:
            item = inputs.get(pid)
            if item is None:
                continue
            held = {s for s, q in item.state.quantities.items() if q > 0}
            try:
                decided[pid] = cycle_decide(
                    state=item.state, market=context.market_for(held | set(item.config.universe)),
                    config=item.config, kill_switch=context.kill_switch, regime=context.regime,
                    targets_cache=context.targets_cache,
                )
            except Exception as exc:  # one portfolio's bug must not stop the chunk
                logger.exception("autopilot decision of portfolio %s on %s failed", pid, as_of)
                decision_errors[pid] = f"{type(exc).__name__}: {exc}"
        fault_point("after_decide")

        executing = [
            pid for pid, d in decided.items()
            if d.action == "rebalance" and inputs[pid].config.mode == "autopilot"
        ]
        lots: dict[int, list[OpenLot]] = defaultdict(list)
        losses: dict[int, dict] = {}
        positions: dict[int, dict[int, PositionState]] = defaultdict(dict)
        closes: dict[str, Decimal] = {}
        asset_rows = context.assets
        if executing:
            for pid, *lot in TaxLot.objects.filter(portfolio_id__in=executing, quantity_open__gt=0).values_list(
                "portfolio_id", *OpenLot.FIELDS
            ):
                lots[pid].append(OpenLot(*lot))
            for pid, *position in Position.objects.filter(portfolio_id__in=executing).values_list(
                "portfolio_id", *PositionState.FIELDS
            ):
                positions[pid][position[1]] = PositionState(*position)
            symbols = sorted({t.symbol for pid in executing for t in decided[pid].trades})
            closes = closes_on(symbols=symbols, on=as_of)
            # loss closings a buy may wash (wash-sale rule): one query for the chunk
            losses = loss_closings_load(
                portfolio_ids=executing, asset_ids=[asset_rows[s].pk for s in symbols if s in asset_rows], as_of=as_of
            )
        now = timezone.now()
        ledgers: dict[int, Ledger] = {}
        failed: dict[int, str] = dict(decision_errors)
        for pid in executing:
            portfolio = locked[pid]
            autonomy = inputs[pid].autonomy
            try:
                symbols = {t.symbol for t in decided[pid].trades}
                ledgers[pid] = _ledger_for(
                    portfolio, decided[pid],
                    assets={s: asset_rows[s] for s in symbols},
                    lots=lots[pid], positions=positions[pid], closes=closes,
                    costs=CostModel(commission_rate=autonomy.commission_rate,
                                    commission_min=autonomy.commission_min,
                                    slippage_bps=autonomy.slippage_bps),
                    loss_closings=losses.get(pid, {}),
                )
            except (ApplicationError, BrokerError, KeyError) as exc:
                failed[pid] = f"{type(exc).__name__}: {exc}"

        rows: dict[int, tuple] = {}
        statuses: dict[int, str] = {}
        for pid, decision in decided.items():
            if pid in failed or (decision.action == "hold" and not decision.triggers):
                continue
            mode = inputs[pid].config.mode
            if decision.action != "rebalance":
                status = Decision.Status.SKIPPED.value
            elif mode == "autopilot":
                status = Decision.Status.EXECUTED.value
            else:
                status = Decision.Status.PROPOSED.value
            statuses[pid] = status
            rows[pid] = _decision_row(decision, locked[pid], mode, status, now)
        proposing = [pid for pid, status in statuses.items() if status == Decision.Status.PROPOSED]
        if proposing:
            Decision.objects.filter(portfolio_id__in=proposing, status=Decision.Status.PROPOSED).update(
                status=Decision.Status.EXPIRED, status_reason="superseded by a newer proposal", decided_at=now,
            )
        decision_ids = dict(zip(rows, rows_insert(Decision, DECISION_COLUMNS, list(rows.values()),
                                                  returning_ids=True), strict=True))
        ledgers_flush([(ledgers[pid], decision_ids[pid]) for pid in executing if pid in ledgers], now=now)
        fault_point("after_execute")

        notifications, changed = [], []
        for pid in todo:
            run = runs[pid]
            decision = decided.get(pid)
            if decision is None and pid not in failed:
                results.append(CycleRunResult(pid, as_of, status="not_eligible", error="no autonomy settings"))
                continue
            if pid in failed:
                changed.append((run.pk, CycleRun.Status.FAILED.value, run.action, run.decision_id, run.reason,
                                run.trades_count, failed[pid][:2000], now, run.policy_state or {}))
                results.append(CycleRunResult(pid, as_of, status="failed", error=failed[pid]))
                continue
            mode = inputs[pid].config.mode
            action = "proposed" if decision.action == "rebalance" and mode == "advise" else decision.action
            trades_count = len(decision.trades) if action == "rebalance" else 0
            decision_id = decision_ids.get(pid)
            changed.append((run.pk, CycleRun.Status.DONE.value, action, decision_id, decision.summary,
                            trades_count, "", now, policy_state_to_dict(decision.policy_state)))
            if decision_id is not None and decision.action == "rebalance":
                notifications.append(_notification(decision, decision_id, locked[pid], mode, now))
            results.append(CycleRunResult(
                pid, as_of, status="done", action=action, decision_id=decision_id,
                trades_count=trades_count, summary=decision.summary,
            ))
        rows_update(CycleRun, CYCLE_RUN_COLUMNS, changed)
        push_enqueue(notification_ids=rows_insert(Notification, NOTIFICATION_COLUMNS, notifications,
                                                  returning_ids=True))
    order = {pid: i for i, pid in enumerate(portfolio_ids)}
    return sorted(results, key=lambda r: order.get(r.portfolio_id, len(order)))
