"""Assets, daily price bars, recorded corporate actions, and the log of data pulls."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    BOND = "bond", "Bond"
    COMMODITY = "commodity", "Commodity"
    REAL_ESTATE = "real_estate", "Real estate"
    CRYPTO = "crypto", "Crypto"
    CASH = "cash", "Cash"


class Asset(models.Model):
    """A tradable instrument. ``symbol`` is the key everything else uses."""

    symbol = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, blank=True)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices, default=AssetClass.EQUITY)
    sector = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    esg_score = models.FloatField(
        null=True, blank=True, help_text="ESG score 0..100 (higher is better); empty when not rated."
    )
    esg_flags = models.JSONField(
        default=list,
        blank=True,
        help_text='Exclusion flags, e.g. ["tobacco", "weapons", "fossil_fuels"].',
    )
    is_active = models.BooleanField(default=True, help_text="Inactive assets are not pulled or traded.")
    price_basis = models.CharField(
        max_length=8,
        choices=[("raw", "Raw: close as traded, adj_close adjusted"), ("adjusted", "Adjusted: close = adjusted close")],
        default="raw",
        db_default="raw",
        help_text="What the bars' close is. Raw closes drop on a split or ex-dividend date, so the ledger "
        "applies the corporate action; adjusted closes (a wide CSV import) already contain it, so it does not.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        indexes = [models.Index(fields=["asset_class", "sector"], name="md_asset_class_sector")]
        constraints = [
            models.CheckConstraint(
                condition=Q(esg_score__isnull=True) | Q(esg_score__gte=0, esg_score__lte=100),
                name="md_asset_esg_score_0_100",
            )
        ]

    def __str__(self) -> str:
        return self.symbol


PRICE = {"max_digits": 18, "decimal_places": 6}


class PriceBar(models.Model):
    """One daily bar. Prices in the asset's currency; ``adj_close`` is split- and
    dividend-adjusted and is what return panels use."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="bars")
    date = models.DateField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    adj_close = models.DecimalField(**PRICE)
    volume = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["asset_id", "date"]
        constraints = [
            # its unique index (asset_id, date) is the range-read index: a panel read is one
            # index range per asset, in date order
            models.UniqueConstraint(fields=["asset", "date"], name="md_bar_asset_date_unique"),
            models.CheckConstraint(
                condition=Q(open__gt=0) & Q(high__gt=0) & Q(low__gt=0) & Q(close__gt=0) & Q(adj_close__gt=0),
                name="md_bar_prices_positive",
            ),
            models.CheckConstraint(condition=Q(volume__gte=0), name="md_bar_volume_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.date}"


class CorporateAction(models.Model):
    """A recorded corporate action. A large move on its date is explained, not suspect.

    ``date`` is the ex-date. Splits: ``numerator`` new shares for every ``denominator``
    held (2:1 → 2/1, a 1-for-10 reverse split → 1/10), ``ratio`` = numerator /
    denominator. Cash dividends: ``ratio`` = cash per share, paid on ``pay_date`` (the
    ex-date when unknown); ``qualified`` as the issuer designates it (None: unknown).
    The portfolios app applies splits and dividends to every holder's ledger once.
    """

    class Kind(models.TextChoices):
        SPLIT = "split", "Split"
        DIVIDEND = "dividend", "Dividend"
        MERGER = "merger", "Merger or spin-off"
        VERIFIED_MOVE = "verified_move", "Verified move (operator confirmed the price is real)"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="corporate_actions")
    date = models.DateField(help_text="The ex-date.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ratio = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="Split ratio or dividend per share."
    )
    numerator = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="Split: new shares..."
    )
    denominator = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="...for this many held."
    )
    pay_date = models.DateField(null=True, blank=True, help_text="Dividend: the date the cash is paid.")
    qualified = models.BooleanField(
        null=True, blank=True, help_text="Dividend: qualified (True), ordinary (False), unknown (empty)."
    )
    note = models.TextField(blank=True)
    ledger_checked_through = models.BigIntegerField(
        null=True, blank=True, editable=False,
        help_text="The ledger applied this action to every portfolio entitled by its trades up to this trade id.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["asset_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "date", "kind"], name="md_action_asset_date_kind_unique"),
            models.CheckConstraint(
                condition=Q(ratio__isnull=True) | Q(ratio__gt=0), name="md_action_ratio_positive"
            ),
            models.CheckConstraint(
                condition=(Q(numerator__isnull=True) & Q(denominator__isnull=True))
                | (Q(numerator__gt=0) & Q(denominator__gt=0)),
                name="md_action_split_terms_positive",
            ),
            models.CheckConstraint(
                condition=Q(pay_date__isnull=True) | Q(pay_date__gte=F("date")), name="md_action_paid_after_ex_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset} {self.kind} {self.date}"

    @property
    def split_terms(self) -> tuple[Decimal, Decimal] | None:
        """(numerator, denominator) of a split (from ``ratio`` when the terms are not stored)."""
        if self.kind != self.Kind.SPLIT:
            return None
        if self.numerator is not None and self.denominator is not None:
            return self.numerator, self.denominator
        return (self.ratio, Decimal(1)) if self.ratio else None


class DataPull(models.Model):
    """One run of a provider (scheduled pull, manual pull, CSV import, demo load)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial (some symbols failed)"
        FAILED = "failed", "Failed"

    provider = models.CharField(max_length=64)
    symbols = models.JSONField(default=list, blank=True)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    rows_inserted = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Messages of what went wrong.")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__isnull=True) | Q(end__gte=F("start")),
                name="md_pull_window_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class PriceDataRevision(models.Model):
    """A counter bumped in the same transaction as every write of bars.

    Return panels are cached per revision, so a panel cached before new bars landed is
    never served after their transaction commits, whatever the cache backend or process.
    A single row (pk=1), created by the migration.
    """

    revision = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"price data revision {self.revision}"
