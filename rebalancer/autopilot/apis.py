"""The autopilot's API: ``POST rebalance/predict`` (stateless).

Holdings (share quantities and cash) or weights (with a notional portfolio value), a
strategy and constraints in; target weights, the trades that would get there and the
decision's explanation out. Inputs are validated and capped (at most 100 symbols) so
that a request cannot make the server work unboundedly.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import MONEY_QUANTUM, RejectUnknownFields, error_responses, money_field
from portfolios.models import AutonomySettings
from rebalancer.autopilot.explain import decision_explanation
from rebalancer.autopilot.predict import PredictInput, rebalance_predict
from rebalancer.autopilot.wording import investor_text

MAX_SYMBOLS = 100
MAX_QUANTITY = 1e12
MAX_MONEY = 1e13
RISK_TIERS = ("conservative", "moderate", "balanced", "growth", "aggressive")


def _symbol_map(value_field: serializers.Field, help_text: str) -> serializers.DictField:
    return serializers.DictField(child=value_field, required=False, default=dict, help_text=help_text)


class LimitsSerializer(serializers.Serializer):
    max_position = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=1.0)
    max_asset_class = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=1.0)
    max_var_95 = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0001, max_value=1.0,
        help_text="Largest one-day 95% VaR forecast (loss fraction); the risk overlay scales exposure below it.",
    )
    max_drawdown = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=1.0)
    max_turnover = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=1.0)


class PredictInputSerializer(RejectUnknownFields, serializers.Serializer):
    holdings = _symbol_map(
        serializers.FloatField(min_value=0, max_value=MAX_QUANTITY),
        "Shares held per symbol (with `cash`). Give either holdings or weights.",
    )
    cash = serializers.DecimalField(
        max_digits=24, decimal_places=4, required=False, default=Decimal(0), min_value=Decimal(0),
        max_value=Decimal(MAX_MONEY), help_text="Cash held (with `holdings`). Decimal string, 4 places.",
    )
    weights = _symbol_map(
        serializers.FloatField(min_value=0, max_value=1),
        "Current weight per symbol (fractions of value; the rest is cash), with `portfolio_value`.",
    )
    portfolio_value = serializers.DecimalField(
        max_digits=24, decimal_places=4, required=False, default=Decimal(100_000), min_value=Decimal(1),
        max_value=Decimal(MAX_MONEY), help_text="Notional value (with `weights`). Decimal string, 4 places.",
    )
    strategy = serializers.CharField(
        max_length=80, default=AutonomySettings.DEFAULT_STRATEGY,
        help_text="A registered strategy, e.g. optimizer:max_sharpe, optimizer:min_volatility, "
        "optimizer:risk_parity, optimizer:hrp, optimizer:min_cvar, optimizer:max_utility, "
        "optimizer:multi_objective, equal_weight, target_allocation.",
    )
    universe = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, default=list, max_length=MAX_SYMBOLS,
        help_text="Symbols the strategy may hold (default: the target symbols, else every active asset).",
    )
    target_weights = _symbol_map(
        serializers.FloatField(min_value=0, max_value=1), "Targets for the target_allocation strategy."
    )
    risk_tolerance = serializers.ChoiceField(choices=RISK_TIERS, default="balanced")
    investment_horizon = serializers.IntegerField(
        default=10, min_value=1, max_value=60,
        help_text="Years; scales the tier's risk budget (README: the horizon rule).",
    )
    rebalance_threshold = serializers.FloatField(default=0.05, min_value=0.001, max_value=0.5)
    limits = LimitsSerializer(required=False, default=dict)
    excluded_symbols = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, default=list, max_length=MAX_SYMBOLS,
        help_text="ESG or personal exclusions: never bought, sold if held.",
    )
    cash_buffer = serializers.FloatField(default=0.02, min_value=0, max_value=0.5)
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", max_length=3, default="USD",
        help_text="ISO 4217 code the amounts of `explanation_text` are written in.",
    )
    min_trade_value = serializers.DecimalField(
        max_digits=24, decimal_places=4, default=Decimal(50), min_value=Decimal(0), max_value=Decimal(MAX_MONEY),
        help_text="Smallest trade worth making. Decimal string, 4 places.",
    )
    fractional_shares = serializers.BooleanField(default=True)
    as_of = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="Closes to decide at (default: the latest).")
    force = serializers.BooleanField(
        default=True, help_text="Propose targets and trades even when no trigger fires."
    )

    def validate(self, attrs):
        if attrs["holdings"] and attrs["weights"]:
            raise serializers.ValidationError({"weights": "give either holdings or weights, not both"})
        for name in ("holdings", "weights", "target_weights"):
            if len(attrs[name]) > MAX_SYMBOLS:
                raise serializers.ValidationError({name: f"at most {MAX_SYMBOLS} symbols"})
        for name in ("weights", "target_weights"):
            if sum(attrs[name].values()) > 1 + 1e-6:
                raise serializers.ValidationError(
                    {name: [ErrorDetail("weights must sum to at most 1 (the rest is cash)", code="weights_exceed_one")]}
                )
        return attrs


class TriggerSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="drift | calendar | cash | risk_limit | regime_change | kill_switch | manual")
    message = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    symbol = serializers.CharField(allow_null=True, required=False, help_text="The asset it is about, if one.")


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    value = serializers.FloatField(allow_null=True)
    limit = serializers.FloatField(allow_null=True)
    message = serializers.CharField()


class MetricsSerializer(serializers.Serializer):
    expected_return = serializers.FloatField(help_text="Annualised.")
    volatility = serializers.FloatField(help_text="Annualised.")
    var_95 = serializers.FloatField(help_text="One-day 95% historical VaR, a loss fraction.")
    cash_weight = serializers.FloatField()


class OverrideSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="kill_switch | risk_limit | pre_trade")
    reason = serializers.CharField()
    allocation = serializers.CharField()


class TradeSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8, help_text="Shares. Decimal string, 8 places.")
    price = serializers.DecimalField(
        max_digits=20, decimal_places=6, help_text="The close the trade is sized at. Decimal string, 6 places."
    )
    value = money_field()
    est_cost = money_field(help_text="Commission + slippage estimate.")
    reason = serializers.CharField()
    harvest = serializers.BooleanField(help_text="A tax-loss harvesting sale.")


class ExplanationSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    action = serializers.ChoiceField(choices=["rebalance", "hold", "skipped"])
    summary = serializers.CharField()
    skipped_reason = serializers.CharField(allow_null=True)
    triggers = TriggerSerializer(many=True)
    strategy = serializers.CharField(allow_null=True)
    strategy_explanation = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField()
    override = OverrideSerializer(allow_null=True)
    current_weights = serializers.DictField(child=serializers.FloatField())
    target_weights = serializers.DictField(child=serializers.FloatField())
    before = MetricsSerializer(allow_null=True)
    after = MetricsSerializer(allow_null=True)
    checks = CheckSerializer(many=True)
    trades = TradeSerializer(many=True)
    total_value = money_field()
    harvested_loss = money_field()
    notes = serializers.ListField(child=serializers.CharField())
    skip_kind = serializers.ChoiceField(
        choices=["halted", "data", "strategy", "infeasible", "trades"], allow_null=True, required=False,
        help_text="Why a skipped decision skipped.",
    )
    facts = serializers.DictField(
        allow_null=True, required=False,
        help_text="What the limits did to the strategy's wish, in numbers (limits in force, adjustments, "
        "cash swept, cost gate).",
    )


class PredictOutputSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    action = serializers.ChoiceField(choices=["rebalance", "hold", "skipped"])
    target_weights = serializers.DictField(child=serializers.FloatField())
    trades = TradeSerializer(many=True)
    explanation = ExplanationSerializer()
    explanation_text = serializers.CharField(
        help_text="The decision in plain words, in the request's language (Accept-Language), amounts in `currency`."
    )


_PLACES = {"quantity": Decimal("1e-8"), "price": Decimal("1e-6"), "value": MONEY_QUANTUM, "est_cost": MONEY_QUANTUM}


def _decimal(value: object, quantum: Decimal) -> str | object:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    return str(Decimal(repr(value) if isinstance(value, float) else value).quantize(quantum))


def _with_decimal_amounts(explanation: dict) -> dict:
    """The engine's floats as the API's decimal strings: money 4 places, prices 6, shares 8."""
    trades = [
        {k: _decimal(v, _PLACES[k]) if k in _PLACES else v for k, v in trade.items()}
        for trade in explanation.get("trades", [])
    ]
    money = {k: _decimal(explanation[k], MONEY_QUANTUM) for k in ("total_value", "harvested_loss") if k in explanation}
    return {**explanation, **money, "trades": trades}


class RebalancePredictApi(APIView):
    """What the autopilot would do with these holdings today (nothing is stored)."""
    throttle_scope = "compute"  # heavier than a read: its own per-user rate

    @extend_schema(
        operation_id="rebalance_predict",
        request=PredictInputSerializer,
        responses={200: PredictOutputSerializer, **error_responses(422)},
        examples=[
            OpenApiExample(
                "Weights in, trades out",
                request_only=True,
                value={"weights": {"AAA": 0.6, "BND": 0.3}, "portfolio_value": 50000,
                       "strategy": "optimizer:min_volatility", "risk_tolerance": "moderate"},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = PredictInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attrs = dict(serializer.validated_data)
        attrs["limits"] = {k: v for k, v in dict(attrs.get("limits") or {}).items()}
        currency = attrs.pop("currency")
        for name in ("cash", "portfolio_value", "min_trade_value"):  # the engine works in floats
            attrs[name] = float(attrs[name])
        decision = rebalance_predict(data=PredictInput(**attrs))
        explanation = _with_decimal_amounts(decision_explanation(decision))
        payload = {
            "as_of": decision.as_of,
            "action": decision.action,
            "target_weights": explanation["target_weights"],
            "trades": explanation["trades"],
            "explanation": explanation,
            "explanation_text": investor_text(explanation, currency=currency),
        }
        # The explanation is already plain JSON of the documented shape; re-walking it
        # through nested serializers would cost a third of the request.
        return Response(payload)
