"""Services of the portfolios app: every function that writes (ledger, decisions, settings).

Keyword-only, typed, atomic; each ledger write locks the portfolio row first. Other modules
and apps that must serialize with the ledger take the same lock through ``portfolio_lock``
(exported here; ``_locks`` is this package's own module).
"""

from portfolios.services._locks import portfolio_lock
from portfolios.services.audit import LedgerViolation, ledger_audit
from portfolios.services.corporate_actions import (
    ActionsApplied,
    corporate_actions_apply,
    corporate_actions_import,
    dividend_pay,
)
from portfolios.services.decisions import (
    PRICE_MOVE_TOLERANCE,
    approval_check_register,
    decision_approve,
    decision_create,
    decision_execute,
    decision_reject,
    decision_staleness,
    decision_trades,
    proposals_expire,
)
from portfolios.services.execution import cost_model_get, paper_broker_get, trades_execute
from portfolios.services.ledger import (
    cash_deposit,
    cash_movement_record,
    cash_withdraw,
    ledger_as_of_check,
    ledger_last_dates,
    snapshot_take,
    snapshots_backfill,
    snapshots_take,
)
from portfolios.services.portfolio import (
    TargetInput,
    autonomy_pause,
    autonomy_update,
    limit_overrides_set,
    limits_validate,
    portfolio_create,
    portfolio_delete,
    portfolio_update,
    strategy_validate,
    targets_set,
)

__all__ = [
    "PRICE_MOVE_TOLERANCE",
    "ActionsApplied",
    "LedgerViolation",
    "TargetInput",
    "approval_check_register",
    "autonomy_pause",
    "autonomy_update",
    "cash_deposit",
    "cash_movement_record",
    "cash_withdraw",
    "corporate_actions_apply",
    "corporate_actions_import",
    "cost_model_get",
    "decision_approve",
    "decision_create",
    "decision_execute",
    "decision_reject",
    "decision_staleness",
    "decision_trades",
    "dividend_pay",
    "ledger_as_of_check",
    "ledger_audit",
    "ledger_last_dates",
    "limit_overrides_set",
    "limits_validate",
    "paper_broker_get",
    "portfolio_create",
    "portfolio_delete",
    "portfolio_lock",
    "portfolio_update",
    "proposals_expire",
    "snapshot_take",
    "snapshots_backfill",
    "snapshots_take",
    "strategy_validate",
    "targets_set",
    "trades_execute",
]
