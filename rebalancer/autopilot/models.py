"""The autopilot's records: cycle runs (exactly once), the kill switch, notifications.

* :class:`CycleRun` — one row per (portfolio, as-of date), unique; the services lock it
  with ``SELECT ... FOR UPDATE`` and mark it ``done`` in the same transaction that
  writes the decision and executes the trades, so a cycle executes at most once even
  when beat fires twice, two workers race or a worker dies mid-way.
* :class:`KillSwitch` — a single row operators flip in the admin: ``off``, ``halt``
  (no cycle trades; decisions are recorded as skipped) or ``defensive`` (every cycle
  moves its portfolio to the defensive allocation).
* :class:`Notification` — what the app shows the investor (and may push).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CycleRun(models.Model):
    """One autonomous cycle of one portfolio on one as-of date."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    portfolio = models.ForeignKey(  # the unique (portfolio, as_of) index serves lookups by portfolio
        "portfolios.Portfolio", on_delete=models.CASCADE, related_name="cycle_runs", db_index=False
    )
    as_of = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveIntegerField(default=0, help_text="How many times a worker started it.")
    action = models.CharField(
        max_length=10, blank=True, help_text="rebalance | proposed | hold | skipped (when done)."
    )
    reason = models.TextField(blank=True, help_text="Why it held or skipped; the error when it failed.")
    decision = models.ForeignKey(
        "portfolios.Decision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trades_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    policy_state = models.JSONField(
        default=dict, blank=True,
        help_text="What the next cycle starts from: the reviewed targets and the risk overlay's state.",
    )

    class Meta:
        ordering = ["-as_of", "portfolio_id"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "as_of"], name="cycle_run_once_per_day"),
        ]
        indexes = [models.Index(fields=["as_of", "status"])]

    def __str__(self) -> str:
        return f"cycle of portfolio #{self.portfolio_id} on {self.as_of}: {self.status}"


class KillSwitch(models.Model):
    """The global kill switch (one row, id 1)."""

    class Mode(models.TextChoices):
        OFF = "off", "off: autonomy runs normally"
        HALT = "halt", "halt: no autonomous trading at all"
        DEFENSIVE = "defensive", "defensive: move every portfolio to the defensive allocation"

    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.OFF)
    reason = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "kill switch"
        verbose_name_plural = "kill switch"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="kill_switch_single_row")]

    def __str__(self) -> str:
        return f"kill switch: {self.mode}"


class Notification(models.Model):
    """A message for the investor's app about one of their portfolios."""

    class Kind(models.TextChoices):
        REBALANCED = "rebalanced"
        PROPOSAL = "proposal"
        SKIPPED = "skipped"
        RISK = "risk"
        FAILED = "failed"

    user = models.ForeignKey(  # the (user, read_at) index serves lookups by user
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    portfolio = models.ForeignKey(
        "portfolios.Portfolio", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    decision = models.ForeignKey(
        "portfolios.Decision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for user #{self.user_id}: {self.title}"


class NotificationPreference(models.Model):
    """Whether the investor wants a push for one kind of notification (default: yes)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Notification.Kind.choices)
    push = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")]

    def __str__(self) -> str:
        return f"user #{self.user_id}: {self.kind} push {'on' if self.push else 'off'}"


class PushDelivery(models.Model):
    """The outbox: one notification to one device, worked off by ``push_outbox_process``.

    Written in the transaction that writes the notification, so a push is never lost to a
    crash between the two; ``next_attempt_at`` is both the retry schedule and the lease a
    worker takes before sending (another worker skips it until then).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        DEAD_TOKEN = "dead_token", "dead token (device pruned)"
        FAILED = "failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="push_deliveries")
    device = models.ForeignKey("users.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.CharField(max_length=8)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["notification", "device"], name="push_delivery_once_per_device"),
        ]

    def __str__(self) -> str:
        return f"push of notification #{self.notification_id} to device #{self.device_id}: {self.status}"
