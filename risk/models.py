"""Risk records: nightly risk snapshots and alerts (limits live in ``portfolios.PortfolioLimits``).

Risk figures are floats (ratios of portfolio value, not money); the money amounts
derived from them are Decimal.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class RiskSnapshot(models.Model):
    """Risk of one portfolio at one close (brief 001's portfolio_risk_metrics).

    VaR and ES are positive loss fractions of portfolio value; the metrics are computed
    on the current weights replayed over the look-back window (the risk of what is held).
    """

    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="risk_snapshots")
    date = models.DateField()
    method = models.CharField(max_length=20, default="historical")
    confidence_level = models.FloatField(default=0.95)
    portfolio_value = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    var_1d = models.FloatField(help_text="1-day VaR, positive loss fraction.")
    var_5d = models.FloatField(help_text="5-day VaR, positive loss fraction.")
    expected_shortfall = models.FloatField(help_text="1-day ES, positive loss fraction.")
    volatility = models.FloatField(null=True, blank=True, help_text="Annualised.")
    beta = models.FloatField(null=True, blank=True)
    tracking_error = models.FloatField(null=True, blank=True)
    max_drawdown = models.FloatField(null=True, blank=True, help_text="Positive fraction over the window.")
    current_drawdown = models.FloatField(null=True, blank=True, help_text="Below the running peak now.")
    sharpe_ratio = models.FloatField(null=True, blank=True)
    sortino_ratio = models.FloatField(null=True, blank=True)
    avg_correlation = models.FloatField(null=True, blank=True)
    n_observations = models.PositiveIntegerField(default=0)
    weights = models.JSONField(default=dict, blank=True)
    attribution = models.JSONField(default=dict, blank=True, help_text="Component VaR/ES by asset and class.")
    stress_summary = models.JSONField(default=dict, blank=True, help_text="Worst scenarios and their P&L.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portfolio", "date"], name="risk_snapshot_once_per_day")]
        indexes = [models.Index(fields=["portfolio", "-date"])]
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"risk of portfolio {self.portfolio_id} on {self.date}"


class RiskAlert(models.Model):
    """A breached rule. At most one unresolved alert per (portfolio, rule, symbol)."""

    class Rule(models.TextChoices):
        VAR_BREACH = "var_breach", "VaR breach"
        DRAWDOWN = "drawdown", "Drawdown beyond limit"
        CONCENTRATION = "concentration", "Position concentration"
        CORRELATION_SPIKE = "correlation_spike", "Correlation spike"

    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical"
        WARNING = "warning", "Warning"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="risk_alerts")
    rule = models.CharField(max_length=24, choices=Rule.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    action = models.CharField(max_length=24, help_text="reduce_risk, risk_override, rebalance or diversify.")
    symbol = models.CharField(max_length=20, blank=True, help_text="The position, for concentration alerts.")
    value = models.FloatField()
    limit = models.FloatField()
    message = models.TextField()
    snapshot = models.ForeignKey(RiskSnapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(help_text="The latest evaluation that still found the breach.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "rule", "symbol"],
                condition=~Q(status="resolved"),
                name="risk_alert_one_unresolved_per_rule",
            )
        ]
        indexes = [models.Index(fields=["portfolio", "status"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.severity} {self.rule} on portfolio {self.portfolio_id} ({self.status})"
