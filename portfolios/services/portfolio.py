"""Portfolio lifecycle, targets and autonomy settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from common.errors import Conflict, Unprocessable, ValidationFailed
from marketdata.models import Asset
from portfolios import strategies
from portfolios.models import (
    AutonomySettings,
    LotClosing,
    Portfolio,
    TargetAllocation,
    TaxLot,
    Trade,
)
from portfolios.services._locks import portfolio_lock
from portfolios.services.broker_accounts import portfolio_broker_set

# Risk tiers of users.InvestorProfile map onto the autonomy's risk tolerance one to one.
_PORTFOLIO_FIELDS = ("name", "base_currency", "benchmark_symbol", "lot_method", "reinvest_dividends")


def _default_risk_tolerance(owner: Any) -> str:
    profile = getattr(owner, "profile", None) if owner is not None else None
    tier = getattr(profile, "risk_tier", "") if profile is not None else ""
    return tier if tier in AutonomySettings.RiskTolerance.values else AutonomySettings.RiskTolerance.BALANCED


@transaction.atomic
def portfolio_create(
    *,
    owner: Any,
    name: str,
    base_currency: str = "USD",
    benchmark_symbol: str = "SPY",
    lot_method: str = "tax_min",
    reinvest_dividends: bool = False,
    mode: str = AutonomySettings.Mode.ADVISE,
    strategy: str | None = None,
    broker: str = "paper",
    broker_account: Mapping[str, Any] | None = None,
) -> Portfolio:
    """Create a portfolio with zero cash and its autonomy settings (tier from the owner's profile).

    ``broker``/``broker_account``: see :func:`~portfolios.services.broker_accounts.portfolio_broker_set`.
    """
    portfolio = Portfolio.objects.create(
        owner=owner,
        name=name,
        base_currency=base_currency.upper(),
        benchmark_symbol=benchmark_symbol,
        lot_method=lot_method,
        reinvest_dividends=reinvest_dividends,
    )
    AutonomySettings.objects.create(
        portfolio=portfolio,
        mode=mode,
        strategy=strategy or AutonomySettings.DEFAULT_STRATEGY,
        risk_tolerance=_default_risk_tolerance(owner),
    )
    if broker != "paper" or broker_account:
        portfolio_broker_set(portfolio=portfolio, broker=broker, account=broker_account)
    return portfolio


@transaction.atomic
def portfolio_update(*, portfolio: Portfolio, data: Mapping[str, Any]) -> Portfolio:
    """Change the portfolio's descriptive fields (never cash: that goes through the ledger)."""
    portfolio = portfolio_lock(portfolio=portfolio)
    changed = []
    for field in _PORTFOLIO_FIELDS:
        if field in data:
            value = data[field]
            setattr(portfolio, field, value.upper() if field == "base_currency" else value)
            changed.append(field)
    if changed:
        portfolio.save(update_fields=[*changed, "updated_at"])
    if "broker" in data or "broker_account" in data:
        portfolio_broker_set(portfolio=portfolio, broker=data.get("broker"), account=data.get("broker_account"))
    return portfolio


@transaction.atomic
def portfolio_delete(*, portfolio: Portfolio) -> None:
    """Delete an empty portfolio; one holding cash or positions must be emptied first (409)."""
    portfolio = portfolio_lock(portfolio=portfolio)
    if portfolio.cash != 0 or portfolio.positions.filter(quantity__gt=0).exists():
        raise Conflict(
            "the portfolio still holds cash or positions; sell and withdraw everything first",
            code="portfolio_not_empty",
            extra={"cash": str(portfolio.cash)},
        )
    # Lots and trades are PROTECTed against deleting assets/decisions; remove them first.
    LotClosing.objects.filter(lot__portfolio=portfolio).delete()
    TaxLot.objects.filter(portfolio=portfolio).delete()
    Trade.objects.filter(portfolio=portfolio).delete()
    portfolio.delete()


def strategy_validate(name: str) -> str:
    """Raise ValidationFailed (400, field ``strategy``) unless ``name`` is registered."""
    known = strategies.strategy_names()
    if name not in known:
        raise ValidationFailed(
            f"unknown strategy {name!r}; known strategies: {', '.join(known) or 'none'}",
            code="unknown_strategy",
            field="strategy",
        )
    return name


_AUTONOMY_FIELDS = (
    "enabled",
    "paused_reason",
    "mode",
    "strategy",
    "risk_tolerance",
    "investment_horizon",
    "rebalance_threshold",
    "calendar",
    "tax_optimization",
    "tax_loss_threshold",
    "esg_constraints",
    "constraints",
    "limits",
    "min_trade_value",
    "fractional_shares",
    "cash_buffer",
    "commission_rate",
    "commission_min",
    "slippage_bps",
)


@transaction.atomic
def autonomy_update(*, portfolio: Portfolio, data: Mapping[str, Any]) -> AutonomySettings:
    """Update the autonomy settings (missing keys keep their values); strategy is validated."""
    portfolio = portfolio_lock(portfolio=portfolio)
    settings, _ = AutonomySettings.objects.get_or_create(portfolio=portfolio)
    if "strategy" in data:
        strategy_validate(data["strategy"])
    changed = [f for f in _AUTONOMY_FIELDS if f in data]
    for field in changed:
        setattr(settings, field, data[field])
    if changed:
        settings.save()
    return settings


@transaction.atomic
def autonomy_pause(*, portfolios: Sequence[Portfolio], reason: str) -> int:
    """Switch autonomy off for ``portfolios`` (the admin's "pause" action); returns how many."""
    return AutonomySettings.objects.filter(portfolio__in=portfolios).update(enabled=False, paused_reason=reason)


@dataclass(frozen=True)
class TargetInput:
    """One target: a symbol or an asset class (exactly one), and its weight in [0, 1]."""

    weight: Decimal
    symbol: str | None = None
    asset_class: str | None = None


@transaction.atomic
def targets_set(*, portfolio: Portfolio, targets: Sequence[TargetInput]) -> list[TargetAllocation]:
    """Replace the portfolio's target allocation; weights must sum to at most 1 (rest is cash)."""
    portfolio = portfolio_lock(portfolio=portfolio)
    total = sum((t.weight for t in targets), Decimal(0))
    if total > 1:  # the request alone contradicts the rule: 400, as in rebalance/predict
        raise ValidationFailed(
            f"target weights sum to {total}; they must sum to at most 1 (the rest is cash)",
            code="weights_exceed_one",
            field="targets",
        )
    symbols = [t.symbol for t in targets if t.symbol]
    if len(set(symbols)) != len(symbols):
        raise ValidationFailed("each symbol may appear once", code="duplicate_target", field="targets")
    classes = [t.asset_class for t in targets if not t.symbol]
    if len(set(classes)) != len(classes):
        raise ValidationFailed("each asset class may appear once", code="duplicate_target", field="targets")
    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    unknown = sorted(set(symbols) - set(assets))
    if unknown:
        raise Unprocessable(f"unknown symbols: {', '.join(unknown)}", code="unknown_symbol", field="targets")
    TargetAllocation.objects.filter(portfolio=portfolio).delete()
    rows = [
        TargetAllocation(
            portfolio=portfolio,
            asset=assets[t.symbol] if t.symbol else None,
            asset_class="" if t.symbol else (t.asset_class or ""),
            weight=t.weight,
        )
        for t in targets
    ]
    return TargetAllocation.objects.bulk_create(rows)
