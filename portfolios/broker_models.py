"""Records of real-broker trading: accounts, orders and their fills, reconciliations.

Imported by :mod:`portfolios.models` (app label ``portfolios``); kept apart so the ledger's
own module stays readable.

* :class:`BrokerAccount` — how one portfolio reaches its broker: encrypted credentials (or
  the environment's keys, for one portfolio at most), paper or live, order type, and what a
  cycle does with orders still open from an earlier day.
* :class:`Order` — one leg of a decision at the broker, through its life: ``pending`` (ours:
  recorded, not sent — held for the open, or a buy behind its decision's sells), then the
  broker's states ``new``, ``accepted``, ``partially_filled``, and a final one of
  ``filled``, ``canceled``, ``expired``, ``rejected``, ``replaced``. Its ``client_order_id``
  (from the decision and the leg) is unique here and at the broker.
* :class:`OrderFill` — one fill as it arrived, tied to the ledger :class:`~portfolios.models.Trade`
  it became (cash and lots moved in the same transaction).
* :class:`Reconciliation` — one comparison of the broker's positions and cash with the
  ledger; a ``mismatch`` pauses the portfolio's autonomy until an operator resolves it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

MONEY = {"max_digits": 20, "decimal_places": 4}
PRICE = {"max_digits": 20, "decimal_places": 6}
QUANTITY = {"max_digits": 24, "decimal_places": 8}


class BrokerAccount(models.Model):
    """The broker connection of one portfolio whose ``broker`` is not ``paper``."""

    class Kind(models.TextChoices):
        ALPACA = "alpaca"

    class Environment(models.TextChoices):
        PAPER = "paper", "paper trading"
        LIVE = "live", "live trading (real money)"

    class OpenOrdersPolicy(models.TextChoices):
        CANCEL = "cancel", "cancel them, then decide on the ledger they leave"
        WAIT = "wait", "skip the cycle until they are final"

    class OrderType(models.TextChoices):
        MARKET = "market"
        LIMIT = "limit"

    portfolio = models.OneToOneField("portfolios.Portfolio", on_delete=models.CASCADE, related_name="broker_account")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ALPACA)
    environment = models.CharField(max_length=5, choices=Environment.choices, default=Environment.PAPER)
    uses_environment_keys = models.BooleanField(
        default=False, help_text="Trade with ALPACA_API_KEY / ALPACA_SECRET_KEY (one portfolio at most)."
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    secret_key_encrypted = models.TextField(blank=True, editable=False)
    key_hint = models.CharField(max_length=12, blank=True, help_text="The key id's last four characters.")
    account_number = models.CharField(max_length=40, blank=True, help_text="The broker's, from the last sync.")
    order_type = models.CharField(max_length=6, choices=OrderType.choices, default=OrderType.MARKET)
    limit_offset_bps = models.DecimalField(
        max_digits=8, decimal_places=3, default=Decimal("20"),
        help_text="Limit orders: the price the order may pay above (buys) or below (sells) the decision's close.",
    )
    open_orders_policy = models.CharField(
        max_length=6, choices=OpenOrdersPolicy.choices, default=OpenOrdersPolicy.CANCEL,
        help_text="What a cycle does when it finds orders of an earlier decision still open.",
    )
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["uses_environment_keys"], condition=Q(uses_environment_keys=True),
                name="broker_account_one_environment_account",
            ),
            models.CheckConstraint(condition=Q(limit_offset_bps__gte=0), name="broker_account_offset_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.environment} account of portfolio #{self.portfolio_id}"


class Order(models.Model):
    """One leg of a decision at a real broker; see the module docstring for its states."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending (not sent yet)"
        NEW = "new"
        ACCEPTED = "accepted"
        PARTIALLY_FILLED = "partially_filled", "partially filled"
        FILLED = "filled"
        CANCELED = "canceled"
        EXPIRED = "expired"
        REJECTED = "rejected"
        REPLACED = "replaced"

    FINAL = (Status.FILLED, Status.CANCELED, Status.EXPIRED, Status.REJECTED, Status.REPLACED)
    OPEN = (Status.PENDING, Status.NEW, Status.ACCEPTED, Status.PARTIALLY_FILLED)

    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    portfolio = models.ForeignKey(
        "portfolios.Portfolio", on_delete=models.CASCADE, related_name="orders", db_index=False
    )  # the (portfolio, status) index leads with it
    decision = models.ForeignKey("portfolios.Decision", on_delete=models.CASCADE, related_name="orders")
    leg = models.PositiveSmallIntegerField(help_text="Position in the decision, sells first.")
    client_order_id = models.CharField(max_length=64, unique=True)
    broker = models.CharField(max_length=20, default="alpaca")
    broker_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=6, default="market")
    time_in_force = models.CharField(max_length=4, default="day")
    planned_quantity = models.DecimalField(**QUANTITY, help_text="What the decision asked for.")
    quantity = models.DecimalField(**QUANTITY, help_text="What was (or will be) sent; a buy may be cut to the cash.")
    limit_price = models.DecimalField(**PRICE, null=True, blank=True)
    decision_price = models.DecimalField(**PRICE, help_text="The close the decision sized the trade at.")
    est_price = models.DecimalField(**PRICE, help_text="The cost model's expected fill price.")
    est_slippage_bps = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("0"))
    reason = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    lot_ids = models.JSONField(default=list, blank=True, help_text="Sells: the tax lots to close, if named.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    broker_status = models.CharField(max_length=24, blank=True, help_text="The broker's own word, e.g. pending_cancel.")
    status_reason = models.TextField(blank=True)
    filled_quantity = models.DecimalField(**QUANTITY, default=Decimal("0"), help_text="Recorded in the ledger.")
    filled_notional = models.DecimalField(**MONEY, default=Decimal("0"))
    filled_avg_price = models.DecimalField(**PRICE, null=True, blank=True)
    commission = models.DecimalField(**MONEY, default=Decimal("0"))
    broker_filled_quantity = models.DecimalField(**QUANTITY, default=Decimal("0"), help_text="The broker's, last seen.")
    broker_filled_avg_price = models.DecimalField(max_digits=28, decimal_places=12, null=True, blank=True)
    ledger_error = models.TextField(blank=True, help_text="A fill the ledger refused (the portfolio is paused).")
    submit_after = models.DateTimeField(null=True, blank=True, help_text="Held for the market's open.")
    submit_attempts = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    first_fill_at = models.DateTimeField(null=True, blank=True)
    last_fill_at = models.DateTimeField(null=True, blank=True)
    final_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["portfolio", "status"]), models.Index(fields=["status"])]
        constraints = [
            models.UniqueConstraint(fields=["decision", "leg"], name="order_unique_leg"),
            models.CheckConstraint(condition=Q(quantity__gte=0, planned_quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0, filled_quantity__lte=F("quantity")), name="order_filled_within_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} ({self.status}) #{self.client_order_id}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class OrderFill(models.Model):
    """One fill of an order, and the ledger trade it was recorded as."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    trade = models.OneToOneField("portfolios.Trade", on_delete=models.CASCADE, related_name="order_fill")
    fill_ref = models.CharField(max_length=80, help_text="The broker's execution id, or the cumulative quantity.")
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**PRICE)
    executed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["executed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "fill_ref"], name="order_fill_unique_ref"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_fill_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.price} of order #{self.order_id}"


class Reconciliation(models.Model):
    """The broker's positions and cash against the ledger, once; a mismatch is an alert."""

    class Status(models.TextChoices):
        MATCHED = "matched"
        MISMATCH = "mismatch", "mismatch (open)"
        RESOLVED = "resolved"
        FAILED = "failed", "failed (broker unreachable)"

    class Resolution(models.TextChoices):
        ACCEPTED_BROKER = "accepted_broker", "the broker's numbers were accepted as ledger adjustments"
        DISMISSED = "dismissed", "dismissed by an operator (the ledger is kept)"

    portfolio = models.ForeignKey(
        "portfolios.Portfolio", on_delete=models.CASCADE, related_name="reconciliations", db_index=False
    )  # the (portfolio, created_at) index leads with it
    status = models.CharField(max_length=10, choices=Status.choices)
    trigger = models.CharField(max_length=10, default="daily", help_text="daily | on_demand")
    ledger_cash = models.DecimalField(**MONEY, null=True, blank=True)
    broker_cash = models.DecimalField(**MONEY, null=True, blank=True)
    cash_difference = models.DecimalField(**MONEY, null=True, blank=True, help_text="Broker minus ledger.")
    differences = models.JSONField(
        default=list, blank=True,
        help_text='[{"symbol", "ledger_quantity", "broker_quantity", "difference"}] (broker minus ledger).',
    )
    open_orders = models.PositiveIntegerField(default=0, help_text="Orders still open when it ran.")
    error = models.TextField(blank=True)
    paused_autonomy = models.BooleanField(default=False)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    adjustments = models.JSONField(default=dict, blank=True, help_text="Trade and cash-movement ids it wrote.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["portfolio", "created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"reconciliation of portfolio #{self.portfolio_id}: {self.status}"


OrderStatus = Order.Status
"""Module-level name of the order states (the OpenAPI schema names their enum from it)."""
