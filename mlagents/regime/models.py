"""Reference markets, fitted regime models, the daily regime history and the policy."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portfolios.strategies import RISK_TIERS


class Regime(models.TextChoices):
    BULL = "bull", "Bull"
    BEAR = "bear", "Bear"
    SIDEWAYS = "sideways", "Sideways"


class ReferenceMarket(models.Model):
    """The index whose regime is detected: a benchmark symbol, or an equal-weight index."""

    name = models.SlugField(max_length=32, unique=True, help_text='Market key used by the API ("default").')
    benchmark_symbol = models.CharField(
        max_length=32,
        blank=True,
        help_text="Use this asset's adjusted close (e.g. SPY) when it has prices; otherwise the "
        "equal-weight index of the active assets of the asset class below.",
    )
    asset_class = models.CharField(
        max_length=16, default="equity", help_text="Constituents of the equal-weight index."
    )
    training_years = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(2), MaxValueValidator(50)],
        help_text="Length of the training window of each refit, in years.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive markets are not detected daily.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RegimeModel(models.Model):
    """A fitted detector (HMM parameters and state labels), stored at each refit."""

    market = models.ForeignKey(ReferenceMarket, on_delete=models.CASCADE, related_name="models")
    created_at = models.DateTimeField(auto_now_add=True)
    trained_from = models.DateField()
    trained_to = models.DateField(help_text="Last day of the training data: nothing later was seen.")
    n_observations = models.PositiveIntegerField()
    params = models.JSONField(help_text="RegimeModelParams.to_dict(): everything needed to filter.")
    labels = models.JSONField(help_text="Regime name of each hidden state, in state order.")
    state_stats = models.JSONField(help_text="Per state: annualised return, volatility, occupancy, duration.")
    log_likelihood = models.FloatField()
    is_active = models.BooleanField(default=False, help_text="The model the daily detection uses.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["market"], condition=models.Q(is_active=True), name="regime_one_active_model_per_market"
            )
        ]

    def __str__(self) -> str:
        return f"{self.market} model trained to {self.trained_to}"


class MarketRegime(models.Model):
    """The regime called for a market on a day, from data up to that day (brief 001's table)."""

    market = models.ForeignKey(ReferenceMarket, on_delete=models.CASCADE, related_name="regimes")
    date = models.DateField()
    regime = models.CharField(max_length=20, choices=Regime.choices)
    confidence = models.DecimalField(max_digits=5, decimal_places=4, help_text="Filtered probability of the regime.")
    probabilities = models.JSONField(help_text='{"bull": p, "bear": p, "sideways": p}, filtered (causal).')
    features = models.JSONField(default=dict, blank=True, help_text="The day's market features.")
    model = models.ForeignKey(RegimeModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["market", "date"], name="regime_one_call_per_market_day")]
        indexes = [models.Index(fields=["date"]), models.Index(fields=["regime"])]

    def __str__(self) -> str:
        return f"{self.market} {self.date}: {self.regime} ({self.confidence})"


TIER_CHOICES = [("*", "every tier")] + [(t, t) for t in RISK_TIERS]


class RegimePolicy(models.Model):
    """Operator-editable rule: in this regime, for this risk tier, use this strategy."""

    regime = models.CharField(max_length=20, choices=Regime.choices)
    risk_tier = models.CharField(max_length=16, choices=TIER_CHOICES, default="*")
    strategy = models.CharField(max_length=64, help_text="A registered strategy, e.g. optimizer:max_sharpe.")
    min_confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.600"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Below this regime confidence the low-confidence strategy is used, without cash buffer.",
    )
    low_confidence_strategy = models.CharField(max_length=64, default="optimizer:risk_parity")
    cash_buffer = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.9"))],
        help_text="Share of the portfolio held back in cash (0.2 = 20 %).",
    )
    is_active = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["regime", "risk_tier"]
        verbose_name_plural = "regime policies"
        constraints = [models.UniqueConstraint(fields=["regime", "risk_tier"], name="regime_policy_one_rule")]

    def __str__(self) -> str:
        return f"{self.regime} / {self.risk_tier} → {self.strategy}"

    def clean(self) -> None:
        from portfolios.strategies import strategy_names

        known = strategy_names()
        errors = {}
        for field in ("strategy", "low_confidence_strategy"):
            value = getattr(self, field)
            if value == "regime_adaptive":
                errors[field] = "The policy cannot choose regime_adaptive itself."
            elif known and value not in known:
                errors[field] = f"Unknown strategy {value!r}; registered: {', '.join(known)}."
        if errors:
            raise ValidationError(errors)
