"""Portfolio lifecycle, targets and autonomy settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction

from common.errors import Conflict, Unprocessable, ValidationFailed
from marketdata.models import Asset
from portfolios import strategies
from portfolios.models import (
    AutonomySettings,
    LotClosing,
    Portfolio,
    PortfolioLimits,
    TargetAllocation,
    TaxLot,
    Trade,
)
from portfolios.services._locks import portfolio_lock
from portfolios.services.broker_accounts import portfolio_broker_set

if TYPE_CHECKING:
    from portfolios.policy.limits import PolicyLimits

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
    "hybrid_agent",
    "hybrid_alpha",
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
    # The API's serializer names the groups after their source ("..._overrides").
    groups = {
        name: data[key]
        for name in ("constraints", "limits")
        for key in (name, f"{name}_overrides")
        if key in data
    }
    if groups:
        limit_overrides_set(portfolio=portfolio, **groups)
    return settings


LIMIT_GROUPS = {
    "constraints": ("max_position", "max_asset_class", "max_holdings", "asset_class_bounds"),
    "limits": ("max_var_95", "max_drawdown", "max_turnover"),
}


@transaction.atomic
def limit_overrides_set(
    *, portfolio: Portfolio, constraints: Mapping[str, Any] | None = None, limits: Mapping[str, Any] | None = None,
    **fields: Any,
) -> PortfolioLimits:
    """Replace groups of the portfolio's limit overrides (a group given replaces all its keys;
    a key left out of it goes back to the tier's value). ``fields`` sets single fields.

    Raises :class:`Unprocessable` naming the field when the result cannot hold together
    (e.g. sleeve minimums above 100 %); see :func:`limits_validate`.
    """
    row = PortfolioLimits.objects.select_for_update().filter(portfolio=portfolio).first()
    row = row or PortfolioLimits(portfolio=portfolio)
    for group, values in (("constraints", constraints), ("limits", limits)):
        if values is None:
            continue
        for key in LIMIT_GROUPS[group]:
            default = {} if key == "asset_class_bounds" else None
            setattr(row, key, values.get(key, default) if values.get(key) is not None else default)
    for key, value in fields.items():
        setattr(row, key, value)
    limits_validate(portfolio_id=portfolio.pk, overrides=row)
    row.save()
    return row


def limits_validate(*, portfolio_id: int | None, overrides: PortfolioLimits) -> PolicyLimits:
    """The limits that would be in force with ``overrides`` (a ``PortfolioLimits`` row, saved or
    not): the portfolio's tier, horizon and cash buffer, then the overrides, resolved.

    The one check of overrides, for the autonomy API (through :func:`limit_overrides_set`) and
    the admin's limits form. ``portfolio_id`` None (a portfolio not saved yet) checks them
    against the defaults (balanced tier, default horizon, 2 % buffer). Raises
    :class:`Unprocessable` (422, code ``inconsistent_limits``) whose ``field`` names the
    override (``max_position``, ``asset_class_bounds.equity``...) when they cannot hold together.
    """
    from portfolios.policy import policy_limits
    from portfolios.policy.limits import LimitsError
    from portfolios.selectors import limit_overrides_of

    autonomy = (
        AutonomySettings.objects.filter(portfolio_id=portfolio_id).first() if portfolio_id is not None else None
    )
    try:
        return policy_limits(
            tier=autonomy.risk_tolerance if autonomy else "balanced",
            horizon_years=autonomy.investment_horizon if autonomy else None,
            overrides=limit_overrides_of(overrides),
            cash_buffer=float(autonomy.cash_buffer) if autonomy else 0.02,
        )
    except LimitsError as exc:
        raise Unprocessable(exc.message, code="inconsistent_limits", field=exc.field) from exc


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


def targets_check_limits(*, portfolio: Portfolio, targets: Sequence[TargetInput], assets: Mapping[str, Asset]) -> None:
    """Refuse targets above a cap of the portfolio's limits (422 naming the cap and the target).

    The same limits the autopilot projects every strategy onto: the cap on one position,
    the highest weight of each sleeve and asset class, and the ESG exclusions. (Floors
    are not refused: the projection fills them and the explanation says so.)
    """
    from portfolios.policy.tiers import sleeve_of
    from portfolios.selectors import policy_limits_get

    limits = policy_limits_get(portfolio=portfolio, assets=list(assets.values()))
    sleeves: dict[str, Decimal] = {}
    for i, t in enumerate(targets):
        asset_class = assets[t.symbol].asset_class if t.symbol else (t.asset_class or "")
        sleeve = sleeve_of(asset_class)
        sleeves[sleeve] = sleeves.get(sleeve, Decimal(0)) + t.weight
        cap = limits.position_cap(asset_class)
        if t.symbol and float(t.weight) > cap + 1e-9:
            raise Unprocessable(
                f"{t.symbol} at {float(t.weight):.1%} is above the {cap:.0%} cap on a single "
                f"position of your {limits.tier} limits",
                code="above_position_cap", field=f"targets.{i}.weight",
                extra={"cap": "max_position", "limit": cap},
            )
        if t.symbol and t.symbol in limits.excluded_symbols:
            raise Unprocessable(f"{t.symbol} is excluded by your ESG settings", code="excluded_symbol",
                                field=f"targets.{i}.symbol")
        class_cap = limits.class_cap(asset_class)
        if not t.symbol and float(t.weight) > class_cap + 1e-9:
            raise Unprocessable(
                f"{asset_class} at {float(t.weight):.1%} is above its {class_cap:.0%} cap in your {limits.tier} limits",
                code="above_class_cap", field=f"targets.{i}.weight",
                extra={"cap": f"asset_class:{asset_class}", "limit": class_cap},
            )
    for sleeve, total in sorted(sleeves.items()):
        if sleeve == "cash":
            continue
        highest = limits.sleeve_ranges[sleeve][1]
        if float(total) > highest + 1e-9:
            raise Unprocessable(
                f"the {sleeve} targets add up to {float(total):.1%}, above the {highest:.0%} your {limits.tier} "
                "limits allow",
                code="above_sleeve_cap", field="targets", extra={"cap": f"sleeve:{sleeve}", "limit": highest},
            )


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
    targets_check_limits(portfolio=portfolio, targets=targets, assets=assets)
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
