"""Row locks shared by the ledger services (callers must be inside ``transaction.atomic``)."""

from __future__ import annotations

from common.errors import NotFound
from portfolios.models import Portfolio


def portfolio_lock(*, portfolio: Portfolio | int) -> Portfolio:
    """Re-read the portfolio row with ``SELECT ... FOR UPDATE`` (serializes ledger writes)."""
    pk = portfolio if isinstance(portfolio, int) else portfolio.pk
    try:
        return Portfolio.objects.select_for_update().get(pk=pk)
    except Portfolio.DoesNotExist:
        raise NotFound(f"portfolio {pk} does not exist", field="portfolio") from None
