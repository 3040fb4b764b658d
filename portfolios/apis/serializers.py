"""Input/output serializers of the portfolio endpoints (shared by the api modules)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from portfolios import strategies
from portfolios.models import AutonomySettings, BrokerAccount, Decision, Portfolio

MONEY_FIELD = {"max_digits": 20, "decimal_places": 4}


class BrokerAccountOutputSerializer(serializers.ModelSerializer):
    """A portfolio's broker account as the API shows it: never the keys, only the key id's end."""

    class Meta:
        model = BrokerAccount
        fields = [
            "kind", "environment", "uses_environment_keys", "key_hint", "account_number", "order_type",
            "limit_offset_bps", "open_orders_policy", "last_synced_at", "last_error",
        ]
        read_only_fields = fields


class BrokerAccountInputSerializer(serializers.Serializer):
    """Credentials (write-only, stored encrypted) and options of a portfolio's broker account."""

    api_key = serializers.CharField(max_length=128, required=False, write_only=True, trim_whitespace=True,
                                    help_text="Alpaca API key id (give with secret_key).")
    secret_key = serializers.CharField(max_length=256, required=False, write_only=True, trim_whitespace=True,
                                       help_text="Alpaca secret key; stored encrypted, never returned.")
    environment = serializers.ChoiceField(choices=BrokerAccount.Environment.choices, required=False,
                                          help_text="paper (default) or live (only where the server enables it).")
    order_type = serializers.ChoiceField(choices=BrokerAccount.OrderType.choices, required=False)
    limit_offset_bps = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0"),
                                                max_value=Decimal("1000"), required=False)
    open_orders_policy = serializers.ChoiceField(
        choices=BrokerAccount.OpenOrdersPolicy.choices, required=False,
        help_text="What a cycle does with orders still open from an earlier day: cancel or wait.",
    )


class PortfolioOutputSerializer(serializers.ModelSerializer):
    value = serializers.DecimalField(
        max_digits=24, decimal_places=4, read_only=True, allow_null=True,
        help_text="Cash plus positions at their latest closes.",
    )
    mode = serializers.SerializerMethodField(help_text="Autonomy mode: advise or autopilot.")
    autonomy_enabled = serializers.SerializerMethodField()
    broker_account = BrokerAccountOutputSerializer(read_only=True, allow_null=True,
                                                   help_text="Null on the paper broker.")

    class Meta:
        model = Portfolio
        fields = [
            "id", "name", "base_currency", "benchmark_symbol", "lot_method", "reinvest_dividends", "cash", "value",
            "mode", "autonomy_enabled", "broker", "broker_account", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_mode(self, obj: Portfolio) -> str:
        autonomy = getattr(obj, "autonomy", None)
        return autonomy.mode if autonomy else AutonomySettings.Mode.ADVISE

    def get_autonomy_enabled(self, obj: Portfolio) -> bool:
        autonomy = getattr(obj, "autonomy", None)
        return bool(autonomy and autonomy.enabled)


class PortfolioInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, trim_whitespace=True)
    base_currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3, default="USD", help_text="ISO 4217 code.")
    benchmark_symbol = serializers.CharField(max_length=20, default="SPY", allow_blank=True)
    lot_method = serializers.ChoiceField(
        choices=Portfolio._meta.get_field("lot_method").choices, default="tax_min",
        help_text="Which lots a sale closes: tax_min (default: losses, then long-term gains first), fifo, lifo, hifo.",
    )
    reinvest_dividends = serializers.BooleanField(
        default=False, help_text="Reinvest cash dividends in the paying asset on their pay date."
    )
    broker = serializers.ChoiceField(
        choices=Portfolio._meta.get_field("broker").choices, required=False,
        help_text="Where trades execute: paper (default) or alpaca. Left out: unchanged.",
    )
    broker_account = BrokerAccountInputSerializer(
        required=False, help_text="Alpaca credentials and options (broker alpaca only).",
    )


class PortfolioCreateInputSerializer(PortfolioInputSerializer):
    mode = serializers.ChoiceField(choices=AutonomySettings.Mode.choices, default=AutonomySettings.Mode.ADVISE)


class HoldingSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    name = serializers.CharField()
    asset_class = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8)
    price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True, help_text="Latest close.")
    price_date = serializers.DateField(allow_null=True)
    market_value = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    weight = serializers.FloatField(allow_null=True, help_text="Fraction of total value (cash included).")
    cost_basis = serializers.DecimalField(max_digits=24, decimal_places=4)
    unrealized_pnl = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)


class HoldingsOutputSerializer(serializers.Serializer):
    cash = serializers.DecimalField(max_digits=20, decimal_places=4)
    accrued_dividends = serializers.DecimalField(
        max_digits=20, decimal_places=4, help_text="Dividends past their ex-date, paid on their pay date."
    )
    value = serializers.DecimalField(max_digits=24, decimal_places=4)
    holdings = HoldingSerializer(many=True)


TRANSACTION_KINDS = ["deposit", "withdrawal", "dividend", "fee", "interest", "buy", "sell"]


class TransactionSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="Unique among the portfolio's transactions and stable: twice the cash movement's id, "
        "or twice the trade's id plus one."
    )
    source = serializers.ChoiceField(choices=["cash_movement", "trade"], help_text="The ledger record's table.")
    source_id = serializers.IntegerField(help_text="The ledger record's own id in that table.")
    kind = serializers.ChoiceField(choices=TRANSACTION_KINDS)
    at = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="Signed effect on cash.")
    symbol = serializers.CharField(allow_null=True)
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)
    price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    commission = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    realized_gain = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    decision_id = serializers.IntegerField(allow_null=True)


class CashInputSerializer(serializers.Serializer):
    operation = serializers.ChoiceField(choices=["deposit", "withdraw"])
    amount = serializers.DecimalField(**MONEY_FIELD, min_value=Decimal("0.0001"), max_value=Decimal("1000000000"))
    note = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class CashOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.DecimalField(**MONEY_FIELD, help_text="Signed: negative for withdrawals.")
    at = serializers.DateTimeField()
    note = serializers.CharField(allow_blank=True)
    cash = serializers.DecimalField(**MONEY_FIELD, help_text="The portfolio's cash after the movement.")


class TargetSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    asset_class = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    weight = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=Decimal(0), max_value=Decimal(1))

    def validate(self, attrs):
        if bool(attrs.get("symbol")) == bool(attrs.get("asset_class")):
            raise serializers.ValidationError({"symbol": "give exactly one of symbol and asset_class"})
        return attrs


class TargetsSerializer(serializers.Serializer):
    targets = TargetSerializer(many=True, max_length=200)


class EsgConstraintsSerializer(serializers.Serializer):
    excluded_flags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50,
        help_text='Never buy assets carrying any of these flags, e.g. "tobacco".',
    )
    min_score = serializers.FloatField(min_value=0, max_value=100, required=False, allow_null=True)


class AutonomyConstraintsSerializer(serializers.Serializer):
    max_position = serializers.FloatField(min_value=0.01, max_value=1, required=False, allow_null=True)
    max_asset_class = serializers.FloatField(min_value=0.01, max_value=1, required=False, allow_null=True)
    max_holdings = serializers.IntegerField(min_value=1, max_value=500, required=False, allow_null=True)
    asset_class_bounds = serializers.DictField(
        child=serializers.ListField(
            child=serializers.FloatField(min_value=0, max_value=1), min_length=2, max_length=2
        ),
        required=False,
        help_text='Lowest and highest share of value per asset class or sleeve (equity, bond/bonds, '
        'alternatives, cash, commodity, real_estate, crypto), e.g. {"equity": [0.2, 0.8], "bond": [0.1, 0.5]}; '
        "they replace the risk tier's range; every strategy's targets are projected onto them.",
    )

    def validate_asset_class_bounds(self, value: dict) -> dict:
        from marketdata.models import AssetClass

        known = set(AssetClass.values) | {"bonds", "alternatives"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise serializers.ValidationError(
                f"unknown asset class {', '.join(unknown)}; use {', '.join(sorted(known))}"
            )
        for asset_class, (lowest, highest) in value.items():
            if lowest > highest:
                raise serializers.ValidationError(f"{asset_class}: the lowest share {lowest} exceeds the highest {highest}")
        if sum(lowest for lowest, _ in value.values()) > 1:
            raise serializers.ValidationError("the lowest shares add up to more than 100 % of the portfolio")
        return {k: [float(lo), float(hi)] for k, (lo, hi) in sorted(value.items())}


class RiskLimitsSerializer(serializers.Serializer):
    max_var_95 = serializers.FloatField(
        min_value=0.001, max_value=1, required=False, allow_null=True,
        help_text="One-day 95 % VaR forecast, fraction of value.",
    )
    max_drawdown = serializers.FloatField(min_value=0.01, max_value=1, required=False, allow_null=True)
    max_turnover = serializers.FloatField(min_value=0.01, max_value=2, required=False, allow_null=True)


class _HybridAgentField(serializers.ChoiceField):
    """A nullable agent choice: the model stores "any promoted agent" as blank, the API says null
    (a blank outside the enum would break generated clients' enum types)."""

    def to_representation(self, value):
        return value or None


class AutonomySerializer(serializers.ModelSerializer):
    """The autonomy settings; PUT replaces the given fields (others keep their values)."""

    strategy = serializers.CharField(
        max_length=80, required=False,
        help_text="A registered strategy, e.g. optimizer:max_sharpe, optimizer:min_volatility, agent:ppo, "
        "agent:primal_dual. agent:dqn is off the default menu (its results vary too much across training "
        "seeds: docs/RL_EVALUATION.md) and is accepted only where the operator offers it.",
    )
    esg_constraints = EsgConstraintsSerializer(required=False)
    constraints = AutonomyConstraintsSerializer(
        required=False, source="constraints_overrides",
        help_text="Overrides of the risk tier's position, holdings and asset-class limits (null: the tier's).",
    )
    limits = RiskLimitsSerializer(
        required=False, source="limits_overrides",
        help_text="Overrides of the risk tier's VaR, drawdown and turnover limits (null: the tier's).",
    )
    hybrid_agent = _HybridAgentField(
        choices=["agent:ppo", "agent:primal_dual", "agent:dqn"], required=False, allow_blank=True, allow_null=True,
        help_text="The hybrid strategy's RL agent; null: the first promoted of agent:primal_dual, agent:ppo. "
        "agent:dqn is accepted only where the operator offers it (off the default menu).",
    )
    hybrid_alpha = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal("0"), max_value=Decimal("1"), required=False,
        help_text="The hybrid strategy's weight on technical signals (the agent gets the rest).",
    )
    rebalance_threshold = serializers.DecimalField(
        max_digits=6, decimal_places=4, min_value=Decimal("0.001"), max_value=Decimal("0.5"), required=False
    )
    tax_loss_threshold = serializers.DecimalField(
        max_digits=6, decimal_places=4, min_value=Decimal("0.001"), max_value=Decimal("0.9"), required=False
    )
    cash_buffer = serializers.DecimalField(
        max_digits=6, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("0.5"), required=False
    )
    min_trade_value = serializers.DecimalField(
        **MONEY_FIELD, min_value=Decimal("0"), max_value=Decimal("1000000"), required=False
    )
    commission_rate = serializers.DecimalField(
        max_digits=8, decimal_places=6, min_value=Decimal("0"), max_value=Decimal("0.05"), required=False
    )
    commission_min = serializers.DecimalField(
        **MONEY_FIELD, min_value=Decimal("0"), max_value=Decimal("1000"), required=False
    )
    slippage_bps = serializers.DecimalField(
        max_digits=8, decimal_places=3, min_value=Decimal("0"), max_value=Decimal("500"), required=False
    )
    paused_reason = serializers.CharField(max_length=255, required=False, allow_blank=True)
    risk_tolerance = serializers.ChoiceField(choices=strategies.RISK_TIERS, required=False)

    class Meta:
        model = AutonomySettings
        fields = [
            "enabled", "paused_reason", "mode", "strategy", "risk_tolerance", "investment_horizon",
            "rebalance_threshold", "calendar", "tax_optimization", "tax_loss_threshold", "esg_constraints",
            "constraints", "limits", "hybrid_agent", "hybrid_alpha", "min_trade_value", "fractional_shares",
            "cash_buffer", "commission_rate", "commission_min", "slippage_bps", "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_hybrid_agent(self, value: str | None) -> str:
        if value and value not in strategies.strategy_names():
            raise serializers.ValidationError(
                f"{value} is not offered here; use agent:ppo or agent:primal_dual (or null for any promoted one)"
            )
        return value or ""  # stored blank; null and "" both mean "any promoted agent"

    def validate_strategy(self, value: str) -> str:
        known = strategies.strategy_names()
        if value not in known:
            raise serializers.ValidationError(
                f"unknown strategy {value!r}; known strategies: {', '.join(known) or 'none'}"
            )
        return value


class ProposedTradeSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    quantity = serializers.CharField(help_text="Decimal shares as a string.")
    price = serializers.CharField(help_text="The close the trade was sized at.")
    est_price = serializers.CharField(help_text="Estimated fill price incl. slippage.")
    est_cost = serializers.CharField(help_text="Estimated commission + slippage.")
    est_cash_flow = serializers.CharField(required=False)
    reason = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), required=False)


class ProposalSerializer(serializers.ModelSerializer):
    trades = ProposedTradeSerializer(many=True, read_only=True)
    triggers = serializers.ListField(child=serializers.DictField(), read_only=True, help_text="Each trigger with its numbers.")
    checks = serializers.ListField(child=serializers.DictField(), read_only=True, help_text="Each pre-trade check's outcome.")
    target_weights = serializers.DictField(child=serializers.FloatField(), read_only=True)
    current_weights = serializers.DictField(child=serializers.FloatField(), read_only=True)
    before = serializers.DictField(read_only=True, help_text="expected_return, volatility, var_95 before.")
    after = serializers.DictField(read_only=True, help_text="The same after the trades.")
    explanation = serializers.DictField(read_only=True)
    explanation_text = serializers.SerializerMethodField(
        help_text="The decision in plain words, in the request's language (Accept-Language), amounts in the "
        "portfolio's currency."
    )

    class Meta:
        model = Decision
        fields = [
            "id", "as_of", "status", "mode", "strategy", "summary", "confidence", "triggers", "checks",
            "target_weights", "current_weights", "before", "after", "trades", "explanation", "explanation_text",
            "status_reason", "created_at", "decided_at", "executed_at",
        ]
        read_only_fields = fields

    def get_explanation_text(self, obj: Decision) -> str:
        from portfolios.selectors import decision_explanation_text

        return decision_explanation_text(decision=obj)


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TwrPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.FloatField()
    daily_return = serializers.FloatField()
    cumulative_return = serializers.FloatField()
    drawdown = serializers.FloatField()


class PerformanceMetricsSerializer(serializers.Serializer):
    total_return = serializers.FloatField()
    annualized_return = serializers.FloatField()
    annualized_volatility = serializers.FloatField()
    sharpe_ratio = serializers.FloatField(allow_null=True)
    max_drawdown = serializers.FloatField()
    days = serializers.IntegerField()


class PerformanceOutputSerializer(serializers.Serializer):
    series = TwrPointSerializer(many=True)
    metrics = PerformanceMetricsSerializer()
    realized_gain = serializers.DecimalField(max_digits=24, decimal_places=4)
    net_deposits = serializers.DecimalField(max_digits=24, decimal_places=4)


class PerformanceQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "end is before start"})
        return attrs
