"""The portfolio ledger, targets, autonomy settings and decisions.

Ledger invariants (enforced by the services in one transaction each, by the database
constraints below where SQL can express them, and checked by ``audit_ledger``):

* ``Portfolio.cash`` == sum of ``CashMovement.amount`` + sum of ``Trade.cash_flow``;
* cash is never negative unless ``allow_negative_cash``; quantities never negative;
* ``Position.quantity`` == sum of the open ``TaxLot.quantity_open`` of that asset
  == shares bought - shares sold + the shares splits added (``CorporateActionApplication``);
* a lot's ``quantity_original - quantity_open`` == the shares its ``LotClosing`` rows closed;
* a closing's ``wash_disallowed`` == the sum of its ``WashSale`` rows, each added to the
  basis of its replacement lot;
* every paid dividend application has its ``CashMovement`` of the same amount.

Money: 4 decimal places; prices 6; share quantities 8 (fractional shares).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

MONEY = {"max_digits": 20, "decimal_places": 4}
PRICE = {"max_digits": 20, "decimal_places": 6}
QUANTITY = {"max_digits": 24, "decimal_places": 8}


class Portfolio(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolios"
    )
    name = models.CharField(max_length=120)
    base_currency = models.CharField(max_length=3, default="USD")
    benchmark_symbol = models.CharField(max_length=20, default="SPY", blank=True)
    cash = models.DecimalField(**MONEY, default=Decimal("0"))
    allow_negative_cash = models.BooleanField(
        default=False, help_text="Allow cash below zero (a margin account). Off for investors."
    )
    lot_method = models.CharField(
        max_length=8,
        choices=[("tax_min", "Tax-minimizing"), ("fifo", "FIFO"), ("lifo", "LIFO"), ("hifo", "HIFO")],
        default="tax_min",
        help_text="Which tax lots a sale closes when the trade does not name them; tax-minimizing "
        "sells the lots whose sale costs the least tax first (losses, then long-term gains).",
    )
    reinvest_dividends = models.BooleanField(
        default=False, db_default=False, help_text="Buy more of the asset with each cash dividend on its pay date."
    )
    ledger_version = models.PositiveBigIntegerField(
        default=0, help_text="Incremented by every ledger change; proposals made on an older version are stale."
    )
    broker = models.CharField(
        max_length=12, choices=[("paper", "paper (fills at the close)"), ("alpaca", "Alpaca")], default="paper",
        db_default="paper",  # bulk writers (COPY) that do not name the column get the paper broker too
        help_text="Where trades execute; a real broker needs a broker account (portfolios.BrokerAccount).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_negative_cash=True) | Q(cash__gte=0), name="portfolio_cash_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class CashMovement(models.Model):
    """Cash in or out of a portfolio other than trades; ``amount`` is signed."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        DIVIDEND = "dividend"
        FEE = "fee"
        INTEREST = "interest"

    INFLOWS = (Kind.DEPOSIT, Kind.DIVIDEND, Kind.INTEREST)
    OUTFLOWS = (Kind.WITHDRAWAL, Kind.FEE)
    EXTERNAL = (Kind.DEPOSIT, Kind.WITHDRAWAL)

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="cash_movements")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(**MONEY, help_text="Signed: positive in, negative out.")
    at = models.DateTimeField()
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["portfolio", "at"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["deposit", "dividend", "interest"], amount__gt=0))
                | (Q(kind__in=["withdrawal", "fee"], amount__lt=0)),
                name="cash_movement_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class Position(models.Model):
    """Shares of one asset held; kept equal to the sum of its open tax lots."""

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="positions", db_index=False
    )  # the composite index below leads with it
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="positions")
    quantity = models.DecimalField(**QUANTITY, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio_id", "asset_id"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "asset"], name="position_unique_asset"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="position_quantity_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} x {self.quantity}"


class Decision(models.Model):
    """One cycle's decision for one portfolio, explained; in advise mode, the proposal."""

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXECUTED = "executed"
        SUBMITTED = "submitted"  # orders at a real broker, not all final yet
        SKIPPED = "skipped"
        FAILED = "failed"
        EXPIRED = "expired"

    class Mode(models.TextChoices):
        ADVISE = "advise"
        AUTOPILOT = "autopilot"

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="decisions", db_index=False
    )  # the composite index below leads with it
    as_of = models.DateField(help_text="The close the decision was made at.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ADVISE)
    strategy = models.CharField(max_length=80, blank=True)
    triggers = models.JSONField(default=list, blank=True, help_text="Every trigger with its numbers.")
    target_weights = models.JSONField(default=dict, blank=True)
    current_weights = models.JSONField(default=dict, blank=True)
    before = models.JSONField(default=dict, blank=True, help_text="Expected return, volatility, VaR before.")
    after = models.JSONField(default=dict, blank=True, help_text="The same numbers after the trades.")
    checks = models.JSONField(default=list, blank=True, help_text="Each pre-trade check's outcome.")
    trades = models.JSONField(default=list, blank=True, help_text="Proposed trades with their reasons.")
    prices = models.JSONField(default=dict, blank=True, help_text="The closes the trades were sized at.")
    explanation = models.JSONField(default=dict, blank=True, help_text="Override, harvest and other details.")
    summary = models.TextField(blank=True, help_text="Plain-language summary for the investor.")
    confidence = models.FloatField(null=True, blank=True)
    status_reason = models.TextField(blank=True, help_text="Why it was skipped, failed, expired or rejected.")
    ledger_version = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The portfolio's ledger version the trades were planned on."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-as_of", "-id"]
        indexes = [models.Index(fields=["portfolio", "status", "as_of"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="decision_confidence_unit_interval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} decision for portfolio #{self.portfolio_id} on {self.as_of}"


class Trade(models.Model):
    """One executed fill; ``cash_flow`` is its signed effect on cash (commission included)."""

    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="trades", db_index=False
    )  # the composite index below leads with it
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="trades")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**PRICE, help_text="Fill price per share, slippage included.")
    market_price = models.DecimalField(**PRICE, help_text="The close the fill was made against.")
    commission = models.DecimalField(**MONEY, default=Decimal("0"))
    slippage = models.DecimalField(**MONEY, default=Decimal("0"), help_text="Money lost to slippage.")
    cash_flow = models.DecimalField(**MONEY, help_text="Signed cash impact; buys negative.")
    realized_gain = models.DecimalField(**MONEY, null=True, blank=True, help_text="Sells: total over closed lots.")
    executed_at = models.DateTimeField()
    trade_date = models.DateField()
    broker = models.CharField(max_length=40, default="paper")
    broker_ref = models.CharField(max_length=64)
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="executed_trades"
    )
    reason = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["executed_at", "id"]
        indexes = [models.Index(fields=["portfolio", "trade_date"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
            models.CheckConstraint(condition=Q(commission__gte=0), name="trade_commission_non_negative"),
            models.CheckConstraint(condition=Q(slippage__gte=0), name="trade_slippage_non_negative"),
            models.UniqueConstraint(fields=["portfolio", "broker", "broker_ref"], name="trade_unique_broker_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.asset_id} @ {self.price}"


class TaxLot(models.Model):
    """Shares bought by one trade; partly or fully closed by later sells."""

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="lots", db_index=False
    )  # the composite index below leads with it
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="lots")
    opening_trade = models.ForeignKey(Trade, null=True, blank=True, on_delete=models.PROTECT, related_name="opened_lots")
    acquired_on = models.DateField()
    quantity_original = models.DecimalField(**QUANTITY)
    quantity_open = models.DecimalField(**QUANTITY)
    cost_basis = models.DecimalField(
        **MONEY, help_text="Total cost of the original shares, commission and wash-sale adjustment included."
    )
    cost_basis_open = models.DecimalField(**MONEY, help_text="Cost basis of the shares still open.")
    holding_from = models.DateField(
        null=True, blank=True,
        help_text="Start of the holding period when a wash sale added the sold shares' (else acquired_on).",
    )
    wash_adjustment = models.DecimalField(
        **MONEY, default=Decimal("0"), db_default=Decimal("0"),
        help_text="Disallowed loss of a wash sale added to the basis.",
    )
    wash_replacement = models.BooleanField(
        default=False, db_default=False, help_text="These shares replaced shares sold at a loss (they wash one loss only)."
    )
    split_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The lot these shares were split off (a partial wash sale or a split of a partly sold lot).",
    )

    class Meta:
        ordering = ["acquired_on", "id"]
        indexes = [models.Index(fields=["portfolio", "asset"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity_original__gt=0), name="lot_original_positive"),
            models.CheckConstraint(condition=Q(quantity_open__gte=0), name="lot_open_non_negative"),
            models.CheckConstraint(
                condition=Q(quantity_open__lte=F("quantity_original")), name="lot_open_within_original"
            ),
            models.CheckConstraint(condition=Q(cost_basis_open__gte=0), name="lot_basis_non_negative"),
            models.CheckConstraint(condition=Q(wash_adjustment__gte=0), name="lot_wash_adjustment_non_negative"),
        ]

    def __str__(self) -> str:
        return f"lot #{self.pk}: {self.quantity_open}/{self.quantity_original} of {self.asset_id}"

    @property
    def cost_per_share(self) -> Decimal:
        return self.cost_basis / self.quantity_original


class LotClosing(models.Model):
    """Shares of a lot closed by a sell, with the gain or loss they realized."""

    class HoldingPeriod(models.TextChoices):
        SHORT = "short"
        LONG = "long"

    lot = models.ForeignKey(TaxLot, on_delete=models.CASCADE, related_name="closings")
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="lot_closings")
    quantity = models.DecimalField(**QUANTITY)
    proceeds = models.DecimalField(**MONEY, help_text="Net of the sell's commission, pro rata.")
    cost_basis = models.DecimalField(**MONEY)
    realized_gain = models.DecimalField(**MONEY, help_text="Economic gain: proceeds - cost basis.")
    holding_period = models.CharField(max_length=5, choices=HoldingPeriod.choices)
    closed_on = models.DateField()
    washed_quantity = models.DecimalField(
        **QUANTITY, default=Decimal("0"), db_default=Decimal("0"), help_text="Loss shares matched with replacement shares (wash sale)."
    )
    wash_disallowed = models.DecimalField(
        **MONEY, default=Decimal("0"), db_default=Decimal("0"),
        help_text="Part of the loss the wash-sale rule disallows (moved to the replacements' basis).",
    )

    class Meta:
        ordering = ["closed_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="lot_closing_quantity_positive"),
            models.CheckConstraint(
                condition=Q(washed_quantity__gte=0, washed_quantity__lte=F("quantity"), wash_disallowed__gte=0),
                name="lot_closing_wash_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of lot #{self.lot_id}: {self.realized_gain} ({self.holding_period})"

    @property
    def recognized_gain(self) -> Decimal:
        """The gain or loss reported for tax (the economic gain less the disallowed loss)."""
        return self.realized_gain + self.wash_disallowed


class WashSale(models.Model):
    """Loss shares of a closing washed by replacement shares bought within 30 days."""

    closing = models.ForeignKey(LotClosing, on_delete=models.CASCADE, related_name="wash_sales")
    replacement_lot = models.ForeignKey(TaxLot, on_delete=models.CASCADE, related_name="wash_sales")
    quantity = models.DecimalField(**QUANTITY)
    disallowed_loss = models.DecimalField(**MONEY, help_text="Added to the replacement lot's basis.")
    holding_days = models.PositiveIntegerField(help_text="Days of the sold shares' holding period added.")
    matched_on = models.DateField(help_text="The sale or purchase that made the match.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["matched_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0, disallowed_loss__gte=0), name="wash_sale_positive"),
        ]

    def __str__(self) -> str:
        return f"wash sale: {self.disallowed_loss} of closing #{self.closing_id} into lot #{self.replacement_lot_id}"


class CorporateActionApplication(models.Model):
    """What one recorded corporate action did to one portfolio — once (unique per pair).

    Splits: every open lot of the asset multiplied (total basis and dates unchanged)
    and the position with them, at the ex-date. Cash dividends: the shares held at the
    close before the ex-date are entitled (``accrued``); the cash is credited on the pay
    date as a ``dividend`` movement (``paid``) and reinvested when the portfolio does so.
    """

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied (split)"
        ACCRUED = "accrued", "Accrued (dividend due on the pay date)"
        PAID = "paid", "Paid (dividend credited)"
        NOT_APPLICABLE = "not_applicable", "Not applicable (already in the asset's adjusted closes)"
        NEEDS_REVIEW = "needs_review", "Needs review (the ledger traded the asset since the ex-date)"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="action_applications")
    action = models.ForeignKey(
        "marketdata.CorporateAction", on_delete=models.PROTECT, related_name="applications"
    )
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices)
    ex_date = models.DateField()
    pay_date = models.DateField(null=True, blank=True)
    shares = models.DecimalField(
        **QUANTITY, help_text="Split: shares held before it; dividend: shares entitled (held before the ex-date)."
    )
    quantity_delta = models.DecimalField(
        **QUANTITY, default=Decimal("0"), help_text="Shares the split added (negative for a reverse split)."
    )
    amount = models.DecimalField(**MONEY, null=True, blank=True, help_text="Dividend: gross cash due.")
    qualified_amount = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="Dividend: the part designated qualified by the issuer."
    )
    cash_movement = models.OneToOneField(
        CashMovement, null=True, blank=True, on_delete=models.PROTECT, related_name="action_application"
    )
    reinvestment = models.ForeignKey(
        Trade, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The buy that reinvested the dividend.",
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ex_date", "id"]
        indexes = [models.Index(fields=["portfolio", "status", "ex_date"])]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "action"], name="action_applied_once_per_portfolio"),
            models.CheckConstraint(condition=Q(shares__gte=0), name="action_application_shares_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.asset_id} on {self.ex_date} for portfolio #{self.portfolio_id}: {self.status}"


class TargetAllocation(models.Model):
    """A target weight for one asset or one asset class (exactly one of them)."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="targets")
    asset = models.ForeignKey("marketdata.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    asset_class = models.CharField(max_length=32, blank=True)
    weight = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )

    class Meta:
        ordering = ["portfolio_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=0, weight__lte=1), name="target_weight_unit_interval"),
            models.CheckConstraint(
                condition=(Q(asset__isnull=False) & Q(asset_class=""))
                | (Q(asset__isnull=True) & ~Q(asset_class="")),
                name="target_asset_xor_class",
            ),
            models.UniqueConstraint(
                fields=["portfolio", "asset"], condition=Q(asset__isnull=False), name="target_unique_asset"
            ),
            models.UniqueConstraint(
                fields=["portfolio", "asset_class"], condition=Q(asset__isnull=True), name="target_unique_class"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id or self.asset_class}: {self.weight}"


class AutonomySettings(models.Model):
    """How (and whether) the autopilot manages one portfolio."""

    class Mode(models.TextChoices):
        ADVISE = "advise"
        AUTOPILOT = "autopilot"

    class Calendar(models.TextChoices):
        NONE = "none"
        MONTHLY = "monthly"
        QUARTERLY = "quarterly"

    class RiskTolerance(models.TextChoices):
        CONSERVATIVE = "conservative"
        MODERATE = "moderate"
        BALANCED = "balanced"
        GROWTH = "growth"
        AGGRESSIVE = "aggressive"

    DEFAULT_STRATEGY = "optimizer:risk_parity"
    """Chosen by the walk-forward evaluation on its tuning windows (docs/EVIDENCE.md)."""

    portfolio = models.OneToOneField(Portfolio, on_delete=models.CASCADE, related_name="autonomy")
    enabled = models.BooleanField(default=True, help_text="Off: the autopilot leaves this portfolio alone.")
    paused_reason = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ADVISE)
    strategy = models.CharField(max_length=80, default=DEFAULT_STRATEGY)
    risk_tolerance = models.CharField(max_length=12, choices=RiskTolerance.choices, default=RiskTolerance.BALANCED)
    investment_horizon = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(60)], help_text="Years."
    )
    rebalance_threshold = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal("0.05"),
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("0.5"))],
        help_text="The no-trade band: an asset trades when it is more than min(this, half its target) "
        "away from its target.",
    )
    calendar = models.CharField(
        max_length=10, choices=Calendar.choices, default=Calendar.MONTHLY,
        help_text="How often the strategy's targets are reviewed (trades only follow the no-trade bands).",
    )
    tax_optimization = models.BooleanField(default=False, help_text="Harvest tax losses (wash-sale aware).")
    tax_loss_threshold = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.05"))
    esg_constraints = models.JSONField(
        default=dict, blank=True,
        help_text='{"excluded_flags": ["tobacco", ...], "min_score": 40} — assets failing them are not bought.',
    )
    hybrid_agent = models.CharField(
        max_length=32, blank=True,
        help_text="The hybrid strategy's agent (agent:ppo, agent:primal_dual, agent:dqn); empty: any promoted one.",
    )
    hybrid_alpha = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.5"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="The hybrid strategy's weight on technical signals (the agent gets the rest).",
    )
    min_trade_value = models.DecimalField(**MONEY, default=Decimal("50"))
    fractional_shares = models.BooleanField(default=True)
    cash_buffer = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal("0.02"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("0.5"))],
    )
    commission_rate = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.0005"))
    commission_min = models.DecimalField(**MONEY, default=Decimal("0"))
    slippage_bps = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("5"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "autonomy settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(rebalance_threshold__gt=0, cash_buffer__gte=0, cash_buffer__lt=1,
                            min_trade_value__gte=0, commission_rate__gte=0, commission_min__gte=0,
                            slippage_bps__gte=0),
                name="autonomy_settings_ranges",
            ),
        ]

    def __str__(self) -> str:
        return f"autonomy of portfolio #{self.portfolio_id}: {self.mode}"

    @property
    def limit_overrides(self) -> PortfolioLimits:
        """The portfolio's limit overrides (an unsaved empty row when it has none)."""
        try:
            return self.portfolio.limit_overrides
        except PortfolioLimits.DoesNotExist:
            return PortfolioLimits(portfolio=self.portfolio)

    # The autonomy API shows the overrides as two groups, ``constraints`` and ``limits``.
    constraints_overrides = limit_overrides
    limits_overrides = limit_overrides


class PortfolioLimits(models.Model):
    """Overrides of the limits a portfolio's risk tier sets; an empty field keeps the tier's.

    The one model of limits (``portfolios.policy`` resolves tier, horizon and these):
    the autopilot, predict, backtests, risk alerts and the risk page all read them
    through ``portfolios.selectors.policy_limits_get``.
    """

    portfolio = models.OneToOneField(Portfolio, on_delete=models.CASCADE, related_name="limit_overrides")
    max_position = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01), MaxValueValidator(1)],
        help_text="Largest weight of one asset.",
    )
    max_asset_class = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01), MaxValueValidator(1)],
        help_text="Largest weight of any sleeve or asset class.",
    )
    max_holdings = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    asset_class_bounds = models.JSONField(
        default=dict, blank=True,
        help_text='Lowest and highest weight per asset class or sleeve, e.g. {"equity": [0.2, 0.8]}.',
    )
    max_var_95 = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.001), MaxValueValidator(1)],
        help_text="One-day 95 % VaR forecast, fraction of value.",
    )
    max_drawdown = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01), MaxValueValidator(1)],
        help_text="A fall this far below the peak de-risks the portfolio once.",
    )
    max_turnover = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.01), MaxValueValidator(2)])
    volatility_target = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01), MaxValueValidator(1)],
        help_text="Annualised volatility the risk overlay scales toward.",
    )
    max_avg_correlation = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Average pairwise correlation of the holdings above which the risk alerts warn.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "limit overrides"
        verbose_name_plural = "limit overrides"

    def __str__(self) -> str:
        return f"limit overrides of portfolio #{self.portfolio_id}"


class PortfolioSnapshot(models.Model):
    """The portfolio's value at one close, for performance (time-weighted return)."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="snapshots")
    date = models.DateField()
    value = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    invested = models.DecimalField(**MONEY)
    net_flows = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="Deposits minus withdrawals dated on this day."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["portfolio_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "date"], name="snapshot_unique_date"),
        ]

    def __str__(self) -> str:
        return f"portfolio #{self.portfolio_id} on {self.date}: {self.value}"


class PortfolioOptimization(models.Model):
    """One optimization run for a portfolio (brief 001's portfolio_optimizations)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        OPTIMAL = "optimal"
        FAILED = "failed"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="optimizations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    objective = models.CharField(max_length=50)
    constraints = models.JSONField(default=dict)
    weights = models.JSONField(default=dict)
    expected_return = models.FloatField(null=True, blank=True)
    volatility = models.FloatField(null=True, blank=True)
    sharpe = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["portfolio", "created_at"])]

    def __str__(self) -> str:
        return f"{self.objective} for portfolio #{self.portfolio_id}: {self.status}"


# Real-broker records (accounts, orders, fills, reconciliations) live in their own module.
from portfolios.broker_models import BrokerAccount, Order, OrderFill, Reconciliation  # noqa: E402,F401
