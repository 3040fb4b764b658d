"""Corporate actions in the ledger: splits and cash dividends applied to holders once.

:func:`corporate_actions_apply` takes the splits and cash dividends recorded in
``marketdata`` (imported with ``import_actions``, reported by a provider's pull, or added
in the admin) and applies each to every portfolio it concerns, **once** per (portfolio,
action): a :class:`~portfolios.models.CorporateActionApplication` row records what it
did under a unique constraint, written in the same transaction as the ledger change,
with the portfolio row locked. Running it again (the beat, the cycle, a rerun of the
pull) changes nothing.

Rules
-----
* **When**: an action is applied once the asset has a bar on or after its ex-date (the
  close then shows it) and the ex-date is on or before ``as_of``.
* **Who**: the portfolios holding shares at the close *before* the ex-date — shares
  bought up to that day minus shares sold, plus shares earlier splits added; shares
  bought on the ex-date are not entitled, shares sold on it are.
* **Splits** (``numerator`` for ``denominator``): every open lot's quantity is multiplied
  by the one lot arithmetic (:meth:`portfolios.tax.LotBook.split`); its total basis,
  acquisition date and holding period are unchanged, so its basis per share is divided
  and no gain or loss appears. The position becomes the sum of the lots; the ledger
  version moves (a proposal sized before the split is stale). A lot already partly
  sold keeps its closed shares and the open ones move to a new lot split off it (so
  every lot's original quantity still equals its open plus closed shares). A
  whole-share portfolio (``fractional_shares`` off) receives **cash in lieu** of a
  fractional share: the fraction is sold at the ex-date's close, without costs.
* **Cash dividends**: entitled shares x cash per share, rounded to the cent, accrue at
  the ex-date and are credited as a ``dividend`` cash movement on the pay date (the
  ex-date when the pay date is unknown), with the issuer's qualified/ordinary
  designation; a portfolio with ``reinvest_dividends`` buys the asset with it at the
  pay date's close, without costs (the buy can wash a recent loss: it is a purchase).
* **Adjusted prices**: an asset whose closes are adjusted closes (``price_basis``
  ``adjusted``, e.g. a wide CSV import) already contains its splits and dividends, so
  applying them would count them twice: the application is recorded as
  ``not_applicable`` and the ledger is unchanged.
* **Late actions**: a split recorded after the portfolio already traded the asset on or
  after its ex-date cannot be applied safely (those trades were sized on post-split
  closes with pre-split shares); the application is ``needs_review``, nothing changes,
  and the portfolio's autonomy is paused with the reason until an operator resolves it.
  A dividend is always computable and is applied.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from marketdata.models import Asset, CorporateAction, PriceBar
from portfolios.brokers import Fill
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    CorporateActionApplication,
    Portfolio,
    Position,
    TaxLot,
    Trade,
)
from portfolios.services._locks import portfolio_lock
from portfolios.tax import BookLot, LotBook
from portfolios.trading import BUY, SELL, ProposedTrade
from portfolios.trading.costs import money

logger = logging.getLogger(__name__)

Status = CorporateActionApplication.Status
CENTS = Decimal("0.01")
SHARES = Decimal("0.00000001")
ZERO = Decimal(0)
PAY_TIME = time(12, 0)
"""Dividends are credited at midday UTC of the pay date (trades fill at the 21:00 UTC close)."""
KINDS = (CorporateAction.Kind.SPLIT, CorporateAction.Kind.DIVIDEND)


@dataclass
class ActionsApplied:
    """What one run of :func:`corporate_actions_apply` did (counts by outcome)."""

    applied: int = 0
    accrued: int = 0
    paid: int = 0
    not_applicable: int = 0
    needs_review: int = 0
    applications: list[CorporateActionApplication] = field(default_factory=list)

    def add(self, application: CorporateActionApplication) -> None:
        self.applications.append(application)
        attr = {
            Status.APPLIED: "applied", Status.ACCRUED: "accrued", Status.PAID: "paid",
            Status.NOT_APPLICABLE: "not_applicable", Status.NEEDS_REVIEW: "needs_review",
        }[application.status]
        setattr(self, attr, getattr(self, attr) + 1)

    @property
    def total(self) -> int:
        return len(self.applications)


def _shares_before(portfolio_id: int, asset_id: int, day: date) -> Decimal:
    """Shares held at the close before ``day``: trades dated before it plus earlier splits."""
    total = ZERO
    for side, quantity in Trade.objects.filter(
        portfolio_id=portfolio_id, asset_id=asset_id, trade_date__lt=day
    ).values_list("side", "quantity"):
        total += quantity if side == Trade.Side.BUY else -quantity
    for delta in CorporateActionApplication.objects.filter(
        portfolio_id=portfolio_id, asset_id=asset_id, ex_date__lt=day, status=Status.APPLIED
    ).values_list("quantity_delta", flat=True):
        total += delta
    return total


def _candidates(
    actions: Sequence[CorporateAction], portfolio_ids: Sequence[int] | None
) -> list[tuple[int, CorporateAction]]:
    """(portfolio id, action) pairs that may be entitled and have no application yet.

    For an action the ledger has not checked yet: every portfolio that traded the asset
    before the ex-date and still holds it or traded it since (otherwise it held nothing
    at the ex-date). For an action checked through trade id ``n``
    (``ledger_checked_through``): only portfolios with a later trade dated before the
    ex-date (a cycle run for an earlier date) can have become entitled. A handful of
    queries whatever the number of portfolios or of past actions.
    """
    fresh = [a for a in actions if a.ledger_checked_through is None]
    checked = [a for a in actions if a.ledger_checked_through is not None]
    pairs: set[tuple[int, int]] = set()
    if fresh:
        trades = Trade.objects.filter(asset_id__in={a.asset_id for a in fresh})
        if portfolio_ids is not None:
            trades = trades.filter(portfolio_id__in=list(portfolio_ids))
        spans = {
            (row["portfolio_id"], row["asset_id"]): (row["first"], row["last"])
            for row in trades.values("portfolio_id", "asset_id").annotate(first=Min("trade_date"), last=Max("trade_date"))
        }
        held = set(
            Position.objects.filter(
                portfolio_id__in={pid for pid, _ in spans}, asset_id__in={a.asset_id for a in fresh}, quantity__gt=0
            ).values_list("portfolio_id", "asset_id")
        ) if spans else set()
        for action in fresh:
            for (pid, asset_id), (first, last) in spans.items():
                if asset_id == action.asset_id and first < action.date and ((pid, asset_id) in held or last >= action.date):
                    pairs.add((pid, action.pk))
    if checked:
        since = min(a.ledger_checked_through for a in checked)
        late = Trade.objects.filter(pk__gt=since, asset_id__in={a.asset_id for a in checked})
        if portfolio_ids is not None:
            late = late.filter(portfolio_id__in=list(portfolio_ids))
        by_asset: dict[int, list[CorporateAction]] = defaultdict(list)
        for action in checked:
            by_asset[action.asset_id].append(action)
        for pk, pid, asset_id, day in late.values_list("pk", "portfolio_id", "asset_id", "trade_date"):
            for action in by_asset[asset_id]:
                if pk > action.ledger_checked_through and day < action.date:
                    pairs.add((pid, action.pk))
    if not pairs:
        return []
    done = set(
        CorporateActionApplication.objects.filter(
            portfolio_id__in={pid for pid, _ in pairs}, action_id__in={aid for _, aid in pairs}
        ).values_list("portfolio_id", "action_id")
    )
    by_id = {a.pk: a for a in actions}
    out = [(pid, by_id[aid]) for pid, aid in pairs - done]
    return sorted(out, key=lambda item: (item[0], item[1].date, item[1].kind != "split", item[1].pk))


def _due_actions(as_of: date, action_ids: Sequence[int] | None) -> list[CorporateAction]:
    """Splits and dividends dated on or before ``as_of`` whose asset has a bar on or after the ex-date."""
    actions = CorporateAction.objects.filter(kind__in=KINDS, date__lte=as_of).select_related("asset")
    if action_ids is not None:
        actions = actions.filter(pk__in=list(action_ids))
    actions = list(actions)
    if not actions:
        return []
    last_bar = dict(
        PriceBar.objects.filter(asset_id__in={a.asset_id for a in actions}, date__lte=as_of)
        .values("asset_id").annotate(last=Max("date")).values_list("asset_id", "last")
    )
    return [a for a in actions if last_bar.get(a.asset_id) is not None and last_bar[a.asset_id] >= a.date]


def corporate_actions_apply(
    *,
    as_of: date | None = None,
    portfolio_ids: Sequence[int] | None = None,
    action_ids: Sequence[int] | None = None,
) -> ActionsApplied:
    """Apply every due split and dividend to the portfolios it concerns, once; pay accrued
    dividends whose pay date has come. See the module docstring.

    ``as_of`` defaults to today; ``portfolio_ids`` / ``action_ids`` limit the work (an
    approval passes its portfolio). Each portfolio's changes commit in their own
    transaction. A run over every portfolio (the beat, the cycle, ``import_actions``)
    marks the due actions checked through the latest trade, so that later runs look only
    at new actions and new trades.
    """
    as_of = as_of or timezone.now().date()
    result = ActionsApplied()
    watermark = Trade.objects.aggregate(last=Max("pk"))["last"] or 0
    actions = _due_actions(as_of, action_ids)
    by_portfolio: dict[int, list[CorporateAction]] = defaultdict(list)
    for pid, action in _candidates(actions, portfolio_ids) if actions else []:
        by_portfolio[pid].append(action)
    for pid, own in sorted(by_portfolio.items()):
        for application in _apply_portfolio(pid, own, as_of):
            result.add(application)
    if portfolio_ids is None and actions:
        CorporateAction.objects.filter(pk__in=[a.pk for a in actions]).exclude(
            ledger_checked_through__gte=watermark
        ).update(ledger_checked_through=watermark)
    due = CorporateActionApplication.objects.filter(status=Status.ACCRUED, pay_date__lte=as_of)
    if portfolio_ids is not None:
        due = due.filter(portfolio_id__in=list(portfolio_ids))
    for application_id in due.order_by("portfolio_id", "pay_date", "pk").values_list("pk", flat=True):
        paid = dividend_pay(application_id=application_id)
        if paid is not None:
            result.add(paid)
    return result


@transaction.atomic
def _apply_portfolio(portfolio_id: int, actions: Sequence[CorporateAction], as_of: date) -> list[CorporateActionApplication]:
    portfolio = portfolio_lock(portfolio=portfolio_id)
    done = set(
        CorporateActionApplication.objects.filter(portfolio=portfolio, action__in=actions).values_list("action_id", flat=True)
    )  # re-read under the lock: a concurrent run may have applied some
    out = []
    for action in actions:
        if action.pk in done:
            continue
        shares = _shares_before(portfolio.pk, action.asset_id, action.date)
        if shares <= 0:
            continue  # held nothing at the close before the ex-date
        if action.kind == CorporateAction.Kind.SPLIT:
            out.append(_split_apply(portfolio, action, shares))
        else:
            application = _dividend_accrue(portfolio, action, shares)
            out.append(application)
            if application.status == Status.ACCRUED and application.pay_date <= as_of:
                out[-1] = _dividend_pay_locked(portfolio, application)
    return out


def _application(portfolio: Portfolio, action: CorporateAction, status: str, shares: Decimal, **fields) -> CorporateActionApplication:
    return CorporateActionApplication.objects.create(
        portfolio=portfolio, action=action, asset_id=action.asset_id, kind=action.kind, status=status,
        ex_date=action.date, shares=shares, **fields,
    )


# --- splits --------------------------------------------------------------------------------


def _split_apply(portfolio: Portfolio, action: CorporateAction, shares: Decimal) -> CorporateActionApplication:
    asset: Asset = action.asset
    terms = action.split_terms
    if asset.price_basis == "adjusted" or terms is None:
        return _application(
            portfolio, action, Status.NOT_APPLICABLE, shares,
            note=f"{asset.symbol}'s closes are adjusted closes: the split is already in its prices."
            if terms is not None else "the split has no ratio",
        )
    traded_since = Trade.objects.filter(portfolio=portfolio, asset_id=asset.pk, trade_date__gte=action.date).exists()
    if traded_since:
        reason = (
            f"{asset.symbol} split {terms[0].normalize()}-for-{terms[1].normalize()} on {action.date} was recorded after "
            f"the portfolio traded it on or after that date; an operator must review the ledger"
        )
        from portfolios.services.portfolio import autonomy_pause

        autonomy_pause(portfolios=[portfolio], reason=reason[:255])
        logger.warning("portfolio %s: %s", portfolio.pk, reason)
        return _application(portfolio, action, Status.NEEDS_REVIEW, shares, note=reason)

    numerator, denominator = terms
    rows = list(TaxLot.objects.filter(portfolio=portfolio, asset_id=asset.pk, quantity_open__gt=0).order_by("pk"))
    book = LotBook(lots=[BookLot(r.pk, asset.symbol, r.acquired_on, r.quantity_open, r.cost_basis_open) for r in rows])
    moved = {lot.lot_id: after for lot, _before, after in book.split(symbol=asset.symbol, numerator=numerator, denominator=denominator)}
    changed = []
    for row in rows:
        after = moved[row.pk]
        if row.quantity_original == row.quantity_open:
            row.quantity_original = row.quantity_open = after
            changed.append(row)
            continue
        # partly sold: the closed shares stay on this lot, the open ones move to a new lot
        TaxLot.objects.create(
            portfolio=portfolio, asset_id=asset.pk, opening_trade_id=row.opening_trade_id, acquired_on=row.acquired_on,
            quantity_original=after, quantity_open=after, cost_basis=row.cost_basis_open,
            cost_basis_open=row.cost_basis_open, holding_from=row.holding_from, wash_replacement=row.wash_replacement,
            split_from=row,
        )
        row.quantity_original -= row.quantity_open
        row.cost_basis -= row.cost_basis_open
        row.quantity_open, row.cost_basis_open = ZERO, ZERO
        changed.append(row)
    TaxLot.objects.bulk_update(changed, ["quantity_original", "quantity_open", "cost_basis", "cost_basis_open"])
    total = sum(moved.values(), ZERO)
    position = Position.objects.select_for_update().get(portfolio=portfolio, asset_id=asset.pk)
    before = position.quantity
    position.quantity = total
    position.save(update_fields=["quantity", "updated_at"])
    portfolio.ledger_version += 1
    portfolio.save(update_fields=["ledger_version", "updated_at"])
    note = (
        f"{asset.symbol} {numerator.normalize()}-for-{denominator.normalize()} split on {action.date}: "
        f"{before.normalize()} shares became {total.normalize()}; total basis and dates unchanged."
    )
    application = _application(portfolio, action, Status.APPLIED, before, quantity_delta=total - before, note=note)
    _cash_in_lieu(portfolio, action, total)
    return application


def _cash_in_lieu(portfolio: Portfolio, action: CorporateAction, quantity: Decimal) -> None:
    """Sell the fractional share a split left in a whole-share portfolio at the ex-date's close."""
    fractional = AutonomySettings.objects.filter(portfolio=portfolio).values_list("fractional_shares", flat=True).first()
    fraction = quantity - quantity.to_integral_value(rounding=ROUND_DOWN)
    if fractional is not False or fraction <= 0:
        return
    close = _close(action.asset_id, action.date)
    note = f"Cash in lieu of {fraction.normalize()} {action.asset.symbol} share after the split of {action.date}."
    _ledger_fill(portfolio, action.asset, SELL, fraction, close, action.date, f"cash-in-lieu:{action.pk}", note,
                 ("cash_in_lieu",), broker="corporate_action")


# --- dividends -----------------------------------------------------------------------------


def _dividend_accrue(portfolio: Portfolio, action: CorporateAction, shares: Decimal) -> CorporateActionApplication:
    asset: Asset = action.asset
    pay_date = action.pay_date or action.date
    if asset.price_basis == "adjusted":
        return _application(
            portfolio, action, Status.NOT_APPLICABLE, shares, pay_date=pay_date,
            note=f"{asset.symbol}'s closes are adjusted closes: the dividend is already in its prices.",
        )
    amount = (shares * action.ratio).quantize(CENTS, rounding=ROUND_HALF_EVEN)
    if amount <= 0:
        return _application(portfolio, action, Status.NOT_APPLICABLE, shares, pay_date=pay_date,
                            note="less than half a cent is due")
    qualified = amount if action.qualified else ZERO
    character = {True: "qualified", False: "ordinary", None: "character not reported"}[action.qualified]
    note = (
        f"{asset.symbol} dividend of {action.ratio.normalize()} per share on {shares.normalize()} shares "
        f"(ex-date {action.date}, paid {pay_date}; {character})."
    )
    return _application(
        portfolio, action, Status.ACCRUED, shares, pay_date=pay_date, amount=amount, qualified_amount=qualified,
        note=note,
    )


@transaction.atomic
def dividend_pay(*, application_id: int) -> CorporateActionApplication | None:
    """Credit an accrued dividend (once: a paid one is left alone); returns it, or None."""
    portfolio_id = CorporateActionApplication.objects.filter(pk=application_id).values_list("portfolio_id", flat=True).first()
    if portfolio_id is None:
        return None
    portfolio = portfolio_lock(portfolio=portfolio_id)
    application = CorporateActionApplication.objects.select_for_update().get(pk=application_id)
    if application.status != Status.ACCRUED:
        return None
    return _dividend_pay_locked(portfolio, application)


def _dividend_pay_locked(portfolio: Portfolio, application: CorporateActionApplication) -> CorporateActionApplication:
    from portfolios.services.ledger import cash_movement_record

    at = datetime.combine(application.pay_date, PAY_TIME, tzinfo=UTC)
    movement = cash_movement_record(
        portfolio=portfolio, kind=CashMovement.Kind.DIVIDEND, amount=application.amount, at=at,
        note=application.note[:255],
    )
    application.status = Status.PAID
    application.cash_movement = movement
    fields = ["status", "cash_movement", "updated_at"]
    if portfolio.reinvest_dividends:
        application.reinvestment = _reinvest(portfolio, application)
        fields.append("reinvestment")
    application.save(update_fields=fields)
    return application


def _reinvest(portfolio: Portfolio, application: CorporateActionApplication) -> Trade | None:
    close = _close(application.asset_id, application.pay_date)
    fractional = AutonomySettings.objects.filter(portfolio=portfolio).values_list("fractional_shares", flat=True).first()
    step = SHARES if fractional is not False else Decimal(1)
    quantity = (application.amount / close).quantize(step, rounding=ROUND_DOWN)
    if money(quantity * close) > application.amount:  # rounding must not spend more than was paid
        quantity -= step
    if quantity <= 0:
        return None
    asset = Asset.objects.get(pk=application.asset_id)
    note = f"Dividend reinvested: {quantity.normalize()} {asset.symbol} at {close.normalize()}."
    return _ledger_fill(portfolio, asset, BUY, quantity, close, application.pay_date,
                        f"drip:{application.pk}", note, ("dividend_reinvestment",), broker="drip")


# --- shared ----------------------------------------------------------------------------------


def _close(asset_id: int, day: date) -> Decimal:
    """The asset's close on ``day``, or its last close before it."""
    close = PriceBar.objects.filter(asset_id=asset_id, date__lte=day).order_by("-date").values_list("close", flat=True).first()
    if close is None:
        raise ValueError(f"no close for asset {asset_id} on or before {day}")
    return close


def _ledger_fill(
    portfolio: Portfolio, asset: Asset, side: str, quantity: Decimal, close: Decimal, day: date, ref: str,
    reason: str, tags: tuple[str, ...], *, broker: str,
) -> Trade:
    """Book a costless fill at ``close`` through the one :class:`Ledger` (lots, positions, cash)."""
    from portfolios.services.execution import Ledger

    gross = money(quantity * close)
    fill = Fill(
        symbol=asset.symbol, side=side, quantity=quantity, price=close, market_price=close, commission=ZERO,
        slippage=ZERO, cash_flow=-gross if side == BUY else gross,
        executed_at=datetime.combine(day, PAY_TIME if side == BUY else time(21, 0), tzinfo=UTC), broker_ref=ref,
    )
    trade = ProposedTrade(symbol=asset.symbol, side=side, quantity=quantity, est_price=close, est_cost=ZERO,
                          reason=reason, price=close, tags=tags)
    lots = list(TaxLot.objects.filter(portfolio=portfolio, asset=asset, quantity_open__gt=0))
    positions = {p.asset_id: p for p in Position.objects.filter(portfolio=portfolio, asset=asset)}
    ledger = Ledger(portfolio, {asset.symbol: asset}, lots, positions, broker_name=broker)
    ledger.apply(trade, fill, decision=None, as_of=day)
    (created,) = ledger.flush()
    return created




@dataclass(frozen=True)
class ActionsImportResult:
    rows: int
    created: int
    updated: int
    unchanged: int
    applied: ActionsApplied


@transaction.atomic
def corporate_actions_import(*, path: str, as_of: date | None = None) -> ActionsImportResult:
    """``import_actions``: record a corporate-action file and apply it to the ledgers, all or nothing.

    The file (``date,symbol,type,value`` — see
    :func:`marketdata.providers.csvfile.actions_csv_parse`) is validated completely first:
    a bad cell, an unknown symbol, or a change to an action already applied to a ledger
    raises :class:`~common.errors.ValidationFailed` (code ``invalid_csv``, ``field`` the
    column, ``extra`` the line) and nothing is written. Re-importing the same file
    changes nothing. Due actions are then applied (:func:`corporate_actions_apply`).
    """
    import os

    from common.errors import ApplicationError, ValidationFailed
    from marketdata.providers.csvfile import CsvRowError, actions_csv_parse
    from marketdata.services import corporate_actions_upsert

    try:
        rows = actions_csv_parse(path)
    except CsvRowError as exc:
        raise ValidationFailed(
            f"{os.fspath(path)}: {exc}", code="invalid_csv", field=exc.column or None,
            extra={"line": exc.line, "column": exc.column},
        ) from exc
    except OSError as exc:
        raise ValidationFailed(f"Cannot read {os.fspath(path)}: {exc.strerror}.", code="unreadable", field="path") from exc
    applied_terms = {
        (a.asset.symbol, a.date, a.kind): a
        for a in CorporateAction.objects.filter(
            applications__status__in=[Status.APPLIED, Status.ACCRUED, Status.PAID],
            asset__symbol__in={r.symbol for r in rows},
        ).select_related("asset").distinct()
    }
    for row in rows:
        action = applied_terms.get((row.symbol, row.date, row.kind))
        if action is None:
            continue
        same = (
            (action.numerator, action.denominator) == (row.numerator, row.denominator)
            if row.kind == "split"
            else (action.ratio, action.pay_date or action.date, action.qualified)
            == (row.amount, row.pay_date or row.date, row.qualified)
        )
        if not same:
            raise ValidationFailed(
                f"{os.fspath(path)}: line {row.line}, column 'value': the {row.kind} of {row.symbol} on {row.date} "
                f"is already applied to portfolios with other terms; it cannot be changed by an import",
                code="invalid_csv", field="value", extra={"line": row.line, "column": "value"},
            )
    try:
        upserted = corporate_actions_upsert(rows=rows, source=os.path.basename(os.fspath(path)))
    except ApplicationError as exc:
        raise ValidationFailed(f"{os.fspath(path)}: {exc.message}", code="invalid_csv", field=exc.field,
                               extra=exc.extra) from exc
    applied = corporate_actions_apply(as_of=as_of)
    return ActionsImportResult(len(rows), upserted.created, upserted.updated, upserted.unchanged, applied)


__all__ = ["ActionsApplied", "ActionsImportResult", "corporate_actions_apply", "corporate_actions_import", "dividend_pay"]
