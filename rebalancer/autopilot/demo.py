"""Demo hook: one autopilot cycle over the demo investor's portfolios, decisions printed.

Called by ``python manage.py demo`` after the other apps' steps (market, investor and
portfolios, agents, regime). Idempotent by construction: a cycle for (portfolio, as-of)
runs once; a second ``make demo`` prints the decisions already taken.
"""

from __future__ import annotations

from typing import TextIO

from portfolios.models import Decision, Portfolio
from rebalancer.autopilot.services import cycle_run_many, latest_market_date

DEMO_EMAILS = ("demo@example.com", "investor@example.com")


def _demo_email() -> str | None:
    try:  # the portfolios app's demo step names its investor
        from portfolios.demo import DEMO_EMAIL
    except ImportError:
        DEMO_EMAIL = None
    return DEMO_EMAIL


def demo_portfolios() -> list[Portfolio]:
    emails = [e for e in (_demo_email(), *DEMO_EMAILS) if e]
    for email in emails:
        found = list(Portfolio.objects.filter(owner__email__iexact=email).order_by("pk"))
        if found:
            return found
    return []


def demo_load(*, stdout: TextIO) -> None:
    as_of = latest_market_date()
    portfolios = demo_portfolios()
    if as_of is None or not portfolios:
        stdout.write("  no demo portfolios or prices yet; the autopilot has nothing to run")
        return
    results = cycle_run_many(portfolio_ids=[p.pk for p in portfolios], as_of=as_of)
    names = {p.pk: p for p in portfolios}
    for result in results:
        p = names[result.portfolio_id]
        mode = getattr(getattr(p, "autonomy", None), "mode", "?")
        decision = Decision.objects.get(pk=result.decision_id) if result.decision_id else None
        count = (
            f"{len(decision.trades)} proposed trade(s)"
            if decision is not None and result.action == "proposed"
            else f"{result.trades_count} trade(s)"
        )
        stdout.write(
            f"  {p.name} (#{p.pk}, {mode}): {result.status} — {result.action or 'nothing'}, "
            f"{count} on {as_of.isoformat()}"
        )
        if result.error:
            stdout.write(f"    error: {result.error}")
        if decision is not None:
            stdout.write(f"    decision #{decision.pk} [{decision.status}]: {decision.summary}")
            for trade in decision.trades[:25]:
                stdout.write(f"      {trade['side']:4} {trade['quantity']:>14} {trade['symbol']:6} {trade['reason']}")
        elif result.summary:
            stdout.write(f"    {result.summary}")
