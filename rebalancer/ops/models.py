"""Records of the operator's console.

* :class:`AuditRecord` — one row per operator action (who, when, what, before → after,
  why, and whether the action went through). Append-only: a saved record refuses to be
  saved again or deleted, and the admin offers neither.
* :class:`IntradayPrice` — the latest intraday quote of each asset (one row per asset),
  what the intraday risk monitor values holdings at.
* :class:`AlertResponse` — what was done about one risk alert (one breach episode: an
  alert stays unresolved for as long as the breach lasts). One row per alert, so the
  investor is told, and a cycle requested, once per episode.
* :class:`SweepAction` — one piece of stuck work the sweeper re-enqueued or failed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """An audit record cannot be changed or deleted once written."""


class AuditRecord(models.Model):
    """One operator action. Written by :mod:`rebalancer.ops.services` only."""

    class Action(models.TextChoices):
        KILL_SWITCH = "kill_switch", "Kill switch flipped"
        AUTONOMY_PAUSE = "autonomy_pause", "Autonomy paused"
        AUTONOMY_RESUME = "autonomy_resume", "Autonomy resumed"
        CYCLES_RETRY = "cycles_retry", "Cycles retried"
        CYCLE_RUN = "cycle_run", "Cycle run now"
        PROPOSAL_APPROVE = "proposal_approve", "Proposal approved for the investor"
        PROPOSAL_REJECT = "proposal_reject", "Proposal rejected for the investor"
        AGENT_PROMOTE = "agent_promote", "Agent promoted through the gate"
        AGENT_ROLLBACK = "agent_rollback", "Agent rolled back through the gate"

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(
        max_length=254, help_text="The operator's email when acting (kept if the user is deleted)."
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=40, help_text="portfolio, decision, agent, kill_switch, cycles.")
    target_id = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=200, blank=True, help_text="What was acted on, in words.")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(help_text="Why, in the operator's words.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.DONE)
    detail = models.TextField(blank=True, help_text="What the system answered (the refusal's message).")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_email}: {self.action} {self.target_type} {self.target_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit records are append-only")


class IntradayPrice(models.Model):
    """The latest intraday quote of one asset."""

    asset = models.OneToOneField("marketdata.Asset", on_delete=models.CASCADE, related_name="intraday_price")
    price = models.DecimalField(max_digits=18, decimal_places=6)
    at = models.DateTimeField(help_text="When the quote was made (exchange time, stored in UTC).")
    provider = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset_id"]
        constraints = [models.CheckConstraint(condition=models.Q(price__gt=0), name="ops_intraday_price_positive")]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.price} at {self.at:%Y-%m-%d %H:%M}"


class AlertResponse(models.Model):
    """What the autopilot's rules did about one breach episode (one risk alert)."""

    class Response(models.TextChoices):
        NOTIFY = "notify", "Notify the investor"
        PROPOSE = "propose", "Notify and request a cycle (a proposal in advise mode)"
        DERISK = "de-risk", "Notify and request a cycle (its risk overlay de-risks)"

    class Status(models.TextChoices):
        NOTIFIED = "notified", "Investor notified"
        REQUESTED = "requested", "Cycle requested"
        DEFERRED = "deferred", "Cycle requested for the next close"
        NOT_MANAGED = "not_managed", "Autonomy off: investor notified only"

    alert = models.OneToOneField("risk.RiskAlert", on_delete=models.CASCADE, related_name="response")
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="+", db_index=False)
    response = models.CharField(max_length=8, choices=Response.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    notification = models.ForeignKey(
        "autopilot.Notification", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cycle_as_of = models.DateField(null=True, blank=True, help_text="The as-of of the requested cycle.")
    deferred_after = models.DateField(
        null=True, blank=True, help_text="Deferred: the cycle of this date was already done; run the next one."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["portfolio", "created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.response} for alert #{self.alert_id}: {self.status}"


class SweepAction(models.Model):
    """One stuck item the sweeper acted on."""

    class Kind(models.TextChoices):
        BACKTEST = "backtest", "Backtest"
        CYCLE_RUNS = "cycle_runs", "Cycle runs (a chunk)"
        DATA_PULL = "data_pull", "Data pull"
        TRAINING = "training", "Agent training"

    class Outcome(models.TextChoices):
        REQUEUED = "requeued", "Re-enqueued"
        FAILED = "failed", "Marked failed"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=64, db_index=True, help_text='What was swept, e.g. "backtest:12".')
    object_ids = models.JSONField(default=list, help_text="Ids of the stuck rows (a chunk's cycle runs).")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}: {self.reason[:60]}"
