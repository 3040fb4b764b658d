"""What the portfolio reads of the API are a function of (``common.read_cache`` keys and
``ETag`` s): selectors that read a few version columns, in one query, instead of the state.

* ``Portfolio.ledger_version`` — bumped by every trade, cash movement, split and dividend
  payment, in the transaction of the write (``portfolios.services``);
* ``Portfolio.updated_at`` — the portfolio's own columns (name, currency, lot method...);
* the market-data revision (``marketdata.models.PriceDataRevision``) — every price or
  asset write: holdings and values are priced at the latest closes;
* today's date — values and accrued dividends are as of today;
* the last dividend accrual — an accrual owes cash without moving the ledger.

Each selector filters by owner: another user's portfolio is ``NotFound`` (404), exactly as
``portfolios.selectors.portfolio_get`` says it, before any key exists.
"""

from __future__ import annotations

from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from marketdata.models import PriceDataRevision
from portfolios.models import CorporateActionApplication, Portfolio
from portfolios.selectors import portfolio_get

_LIST_COLUMNS = (
    "pk", "ledger_version", "updated_at", "autonomy__mode", "autonomy__enabled",
    # the broker account's shown fields change on a sync without touching the portfolio
    "broker_account__kind", "broker_account__environment", "broker_account__uses_environment_keys",
    "broker_account__key_hint", "broker_account__account_number", "broker_account__order_type",
    "broker_account__limit_offset_bps", "broker_account__open_orders_policy",
    "broker_account__last_synced_at", "broker_account__last_error",
)


def _revision() -> Subquery:
    return Subquery(PriceDataRevision.objects.filter(pk=1).values("revision")[:1])


def _last_accrual() -> Subquery:
    return Subquery(CorporateActionApplication.objects.filter(portfolio=OuterRef("pk"))
                    .order_by("-pk").values("pk")[:1])


def _row(owner, portfolio_id: int, **annotations) -> tuple:
    row = (Portfolio.objects.filter(pk=portfolio_id, owner=owner).annotate(**annotations)
           .values_list("pk", "ledger_version", "updated_at", *annotations).first())
    if row is None:
        portfolio_get(owner=owner, portfolio_id=portfolio_id)  # raises its NotFound
    return row


def portfolio_ledger_version(*, owner, portfolio_id: int) -> tuple:
    """The ledger and the portfolio's columns: what ``transactions`` shows."""
    return _row(owner, portfolio_id)


def portfolio_holdings_version(*, owner, portfolio_id: int) -> tuple:
    """The ledger, the prices, the day and the accruals: what ``holdings`` shows."""
    return (*_row(owner, portfolio_id, revision=_revision(), accrued=_last_accrual()), timezone.localdate())


def portfolio_list_version(*, owner) -> tuple:
    """Every portfolio of ``owner`` as the list shows it, valued at today's prices."""
    rows = list(Portfolio.objects.filter(owner=owner).order_by("pk")
                .annotate(accrued=Max("action_applications__pk"), revision=_revision())
                .values_list(*_LIST_COLUMNS, "accrued", "revision"))
    revision = rows[0][-1] if rows else None
    return ([row[:-1] for row in rows], revision, timezone.localdate())
