"""A backtest: a portfolio configuration replayed over stored prices, with its results."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Backtest(models.Model):
    """One request: a configuration and one or more strategies, replayed asynchronously.

    ``config`` is the validated request (universe, window, cash, strategies, triggers,
    costs, tax, benchmark). ``results`` is the compact report the API returns (metrics
    per strategy and baseline, the comparison table, a downsampled equity curve);
    ``series`` keeps the full daily equity, drawdown and weights per strategy for
    charts; ``trades`` every fill of every strategy.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests"
    )
    name = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=16, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0..1.")
    config = models.JSONField(default=dict)
    results = models.JSONField(null=True, blank=True)
    series = models.JSONField(null=True, blank=True)
    trades = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("owner", "-created_at"))]

    def __str__(self) -> str:
        strategies = (
            ", ".join(self.config.get("strategies", [])) if isinstance(self.config, dict) else ""
        )
        return f"Backtest #{self.pk} {self.name or strategies} ({self.status})"
