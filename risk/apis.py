"""Risk endpoints: ``risk/var``, ``risk/scenarios``, ``risk/stress-test`` (stateless, for
weights or one of the caller's portfolios) and ``portfolios/{id}/risk``.

Every VaR / ES / loss figure is a **positive loss fraction of portfolio value**; the
``*_amount`` fields are the same losses in money when a portfolio is given.
"""

from __future__ import annotations

import datetime as dt
import math

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import error_responses, money_field
from common.errors import NotFound
from common.read_cache import CACHED_READ_EXTENSION, IF_NONE_MATCH, NOT_MODIFIED, cached_read
from portfolios.selectors import portfolio_get
from risk.measures.stress import ASSET_CLASSES
from risk.measures.var import MC_DISTRIBUTIONS, VAR_METHODS
from risk.selectors import (
    portfolio_risk_get,
    portfolio_risk_version,
    scenarios_list,
    stress_test_run,
    var_compute,
)

MAX_SIMULATION_ELEMENTS = 50_000_000
"""n_simulations x symbols cap: keeps a Monte Carlo request well under a second."""
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)


def _finite_weights(value: dict) -> dict:
    for symbol, weight in value.items():
        if not symbol or len(symbol) > 20:
            raise serializers.ValidationError(f"Symbol {symbol[:24]!r} must have 1 to 20 characters.")
        if not math.isfinite(weight):
            raise serializers.ValidationError(f"The weight of {symbol} must be a finite number.")
    if len(value) > 500:
        raise serializers.ValidationError("At most 500 symbols.")
    return value


class TargetSerializer(serializers.Serializer):
    weights = serializers.DictField(
        child=serializers.FloatField(min_value=-10.0, max_value=10.0), required=False, allow_empty=False,
        help_text="Symbol -> weight (fraction of portfolio value; what they leave of 1 is cash). "
        "Give weights or portfolio_id.",
    )
    portfolio_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62,
                                            help_text="One of your portfolios (its current holdings).")

    def validate_weights(self, value: dict) -> dict:
        return _finite_weights(value)

    def validate(self, attrs: dict) -> dict:
        if ("weights" in attrs) == ("portfolio_id" in attrs):
            raise serializers.ValidationError(
                {"weights": "Give exactly one of weights or portfolio_id."}
            )
        return attrs


class VarRequestSerializer(TargetSerializer):
    start = serializers.DateField(required=False, help_text="First date of the return window "
                                  "(default: two years before end).")
    end = serializers.DateField(required=False, help_text="Last date (default: the last date on which "
                                "every symbol has a price).")

    def _date_in_range(self, value):
        if not FIRST_DATE <= value <= LAST_DATE:
            raise serializers.ValidationError(f"Use a date between {FIRST_DATE} and {LAST_DATE}.")
        return value

    validate_start = _date_in_range
    validate_end = _date_in_range
    confidence_level = serializers.FloatField(default=0.95, min_value=0.501, max_value=0.999)
    horizon_days = serializers.IntegerField(default=1, min_value=1, max_value=60)
    method = serializers.ChoiceField(choices=VAR_METHODS, default="historical")
    n_simulations = serializers.IntegerField(default=100_000, min_value=1_000, max_value=1_000_000,
                                             help_text="Monte Carlo only.")
    distribution = serializers.ChoiceField(choices=MC_DISTRIBUTIONS, default="normal",
                                           help_text="Monte Carlo only: normal or Student-t.")
    dof = serializers.FloatField(default=5.0, min_value=2.5, max_value=100.0,
                                 help_text="Degrees of freedom of the Student-t.")
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**31 - 1)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "end is before start."})
        n_symbols = len(attrs.get("weights") or {}) or 1
        if attrs["method"] == "monte_carlo" and attrs["n_simulations"] * n_symbols > MAX_SIMULATION_ELEMENTS:
            raise serializers.ValidationError(
                {"n_simulations": f"n_simulations x symbols must be at most {MAX_SIMULATION_ELEMENTS:,}."}
            )
        return attrs


class VarResponseSerializer(serializers.Serializer):
    var = serializers.FloatField(help_text="Value at risk: loss as a positive fraction of portfolio value.")
    expected_shortfall = serializers.FloatField(
        help_text="Mean loss beyond the VaR, as a positive fraction of portfolio value.")
    var_amount = money_field(allow_null=True, help_text="The VaR in money (portfolio requests only).")
    expected_shortfall_amount = money_field(allow_null=True, help_text="The ES in money (portfolio requests only).")
    portfolio_value = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    confidence_level = serializers.FloatField()
    horizon_days = serializers.IntegerField()
    method = serializers.ChoiceField(choices=VAR_METHODS)
    distribution = serializers.CharField(allow_null=True)
    n_observations = serializers.IntegerField(help_text="Return days used, or scenarios simulated.")
    start = serializers.DateField(help_text="First return date used.")
    end = serializers.DateField(help_text="Last return date used.")
    weights = serializers.DictField(child=serializers.FloatField())
    note = serializers.CharField(allow_null=True, required=False,
                                 help_text="Why the method differs from the one asked for (Cornish-Fisher "
                                 "outside its monotone domain falls back to historical), else null.")


class VarApi(APIView):
    throttle_scope = "compute"  # heavier than a read: its own per-user rate

    @extend_schema(
        operation_id="risk_var_create",
        request=VarRequestSerializer,
        responses={200: VarResponseSerializer, **error_responses(404, 422)},
        examples=[OpenApiExample("Two stocks, Monte Carlo", request_only=True, value={
            "weights": {"AAPL": 0.6, "XOM": 0.4}, "confidence_level": 0.99, "horizon_days": 10,
            "method": "monte_carlo", "n_simulations": 100000, "distribution": "t"})],
    )
    def post(self, request: Request) -> Response:
        data = VarRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        computation = var_compute(owner=request.user, **data.validated_data)
        r = computation.result
        return Response(VarResponseSerializer({
            "var": r.var, "expected_shortfall": r.expected_shortfall,
            "var_amount": computation.var_amount,
            "expected_shortfall_amount": computation.expected_shortfall_amount,
            "portfolio_value": computation.portfolio_value,
            "confidence_level": r.confidence_level, "horizon_days": r.horizon_days, "method": r.method,
            "distribution": r.distribution, "n_observations": r.n_observations,
            "start": computation.start, "end": computation.end, "weights": computation.weights,
            "note": r.note,
        }).data)


class ScenarioSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=["historical", "hypothetical", "custom"])
    description = serializers.CharField()
    start = serializers.DateField(allow_null=True, help_text="Episode window (historical only).")
    end = serializers.DateField(allow_null=True)
    shocks = serializers.DictField(child=serializers.FloatField(),
                                   help_text="Return per asset class over the scenario (-0.3 = -30 %).")


class ScenarioListApi(APIView):
    @extend_schema(operation_id="risk_scenarios_list", responses={200: ScenarioSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ScenarioSerializer(scenarios_list(), many=True).data)


class CustomScenarioSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    shocks = serializers.DictField(child=serializers.FloatField(min_value=-1.0, max_value=10.0),
                                   required=False, help_text=f"Asset class ({', '.join(ASSET_CLASSES)}) -> return.")
    symbol_shocks = serializers.DictField(child=serializers.FloatField(min_value=-1.0, max_value=10.0),
                                          required=False, help_text="Symbol -> return (overrides its class).")

    def validate_shocks(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(ASSET_CLASSES))
        if unknown:
            raise serializers.ValidationError(f"Unknown asset classes: {', '.join(k[:20] for k in unknown)}.")
        return _finite_weights(value)

    def validate_symbol_shocks(self, value: dict) -> dict:
        return _finite_weights(value)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("shocks") and not attrs.get("symbol_shocks"):
            raise serializers.ValidationError({"shocks": "Give shocks or symbol_shocks."})
        return attrs


class StressRequestSerializer(TargetSerializer):
    scenarios = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50,
        help_text="Built-in scenario names (GET risk/scenarios); all of them when neither this "
        "nor custom_scenarios is given.")
    custom_scenarios = serializers.ListField(child=CustomScenarioSerializer(), required=False, max_length=20)
    replay = serializers.BooleanField(default=True, help_text="Replay historical episodes from price "
                                      "history where the assets have it (else class shocks).")


class AssetShockSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    weight = serializers.FloatField()
    asset_class = serializers.CharField()
    shock = serializers.FloatField(help_text="Return applied to the asset.")
    contribution = serializers.FloatField(help_text="weight x shock: part of the P&L (negative = loss).")
    source = serializers.ChoiceField(choices=["replay", "asset_class", "symbol"])


class ScenarioResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    pnl = serializers.FloatField(help_text="Portfolio P&L as a fraction of value (negative = loss).")
    loss = serializers.FloatField(help_text="The loss as a positive fraction (0 for a gain).")
    pnl_amount = money_field(allow_null=True, help_text="The P&L in money (portfolio requests only).")
    contributions = AssetShockSerializer(many=True)
    replayed_symbols = serializers.ListField(child=serializers.CharField())


class StressResponseSerializer(serializers.Serializer):
    scenario_results = ScenarioResultSerializer(many=True)
    worst_case = ScenarioResultSerializer(allow_null=True)
    recommendations = serializers.ListField(child=serializers.CharField())
    portfolio_value = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)


class StressTestApi(APIView):
    throttle_scope = "compute"  # heavier than a read: its own per-user rate

    @extend_schema(
        operation_id="risk_stress_test_create",
        request=StressRequestSerializer,
        responses={200: StressResponseSerializer, **error_responses(404, 422)},
        examples=[OpenApiExample("Two built-ins and a custom shock", request_only=True, value={
            "weights": {"AAPL": 0.5, "TLT": 0.5}, "scenarios": ["covid_crash_2020", "rates_up_200bp"],
            "custom_scenarios": [{"name": "tech_rout", "shocks": {"equity": -0.4}}]})],
    )
    def post(self, request: Request) -> Response:
        data = StressRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        figures = stress_test_run(
            owner=request.user, weights=v.get("weights"), portfolio_id=v.get("portfolio_id"),
            scenario_names=v.get("scenarios"), custom=v.get("custom_scenarios", ()), replay=v["replay"],
        )
        return Response(StressResponseSerializer(figures).data)


class VarMetricsSerializer(serializers.Serializer):
    method = serializers.CharField()
    confidence_level = serializers.FloatField()
    var_1d = serializers.FloatField(help_text="1-day VaR, positive loss fraction.")
    var_5d = serializers.FloatField(help_text="5-day VaR, positive loss fraction.")
    expected_shortfall_1d = serializers.FloatField(help_text="1-day ES, positive loss fraction.")
    var_1d_amount = money_field()
    var_5d_amount = money_field()
    expected_shortfall_1d_amount = money_field()
    n_observations = serializers.IntegerField()


class RiskMetricsSerializer(serializers.Serializer):
    annual_volatility = serializers.FloatField()
    beta = serializers.FloatField(allow_null=True)
    tracking_error = serializers.FloatField(allow_null=True)
    sharpe_ratio = serializers.FloatField(allow_null=True)
    sortino_ratio = serializers.FloatField(allow_null=True)
    max_drawdown = serializers.FloatField(help_text="Of the current weights over the window, positive.")


class AssetContributionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    weight = serializers.FloatField()
    asset_class = serializers.CharField()
    marginal_var = serializers.FloatField()
    component_var = serializers.FloatField(help_text="Euler component: the components sum to the VaR.")
    component_es = serializers.FloatField()
    var_share = serializers.FloatField()


class AttributionSerializer(serializers.Serializer):
    method = serializers.CharField()
    var = serializers.FloatField()
    expected_shortfall = serializers.FloatField()
    by_asset = AssetContributionSerializer(many=True)
    by_asset_class = serializers.DictField(child=serializers.FloatField())


class FactorRiskSerializer(serializers.Serializer):
    benchmark = serializers.CharField()
    beta = serializers.FloatField()
    total_volatility = serializers.FloatField(help_text="Annualised.")
    systematic_volatility = serializers.FloatField(help_text="|beta| x benchmark volatility, annualised.")
    idiosyncratic_volatility = serializers.FloatField(help_text="Residual volatility, annualised.")
    systematic_share = serializers.FloatField(help_text="Share of variance explained by the benchmark (R²).")
    asset_betas = serializers.DictField(child=serializers.FloatField())


class ScenarioSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    pnl = serializers.FloatField(help_text="Portfolio P&L as a fraction of value (negative = loss).")
    loss = serializers.FloatField(help_text="The loss as a positive fraction (0 for a gain).")
    pnl_amount = money_field(allow_null=True, help_text="The P&L in money (portfolio requests only).")


class StressSummarySerializer(serializers.Serializer):
    worst_case = ScenarioResultSerializer(help_text="The worst scenario with per-asset contributions.")
    worst_scenarios = ScenarioSummarySerializer(many=True, help_text="The five worst, worst first "
                                                "(POST risk/stress-test for every detail).")
    scenarios_tested = serializers.IntegerField()


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.CharField()
    severity = serializers.ChoiceField(choices=["critical", "warning"])
    status = serializers.ChoiceField(choices=["open", "acknowledged", "resolved"])
    action = serializers.CharField()
    symbol = serializers.CharField(allow_blank=True)
    value = serializers.FloatField()
    limit = serializers.FloatField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class SnapshotSerializer(serializers.Serializer):
    date = serializers.DateField()
    var_1d = serializers.FloatField()
    var_5d = serializers.FloatField()
    expected_shortfall = serializers.FloatField()
    beta = serializers.FloatField(allow_null=True)
    tracking_error = serializers.FloatField(allow_null=True)
    max_drawdown = serializers.FloatField(allow_null=True)
    sharpe_ratio = serializers.FloatField(allow_null=True)
    sortino_ratio = serializers.FloatField(allow_null=True)
    portfolio_value = serializers.DecimalField(max_digits=20, decimal_places=4)


class PortfolioRiskSerializer(serializers.Serializer):
    portfolio_id = serializers.IntegerField()
    as_of = serializers.DateField(help_text="Date of the latest prices used.")
    portfolio_value = serializers.DecimalField(max_digits=24, decimal_places=4)
    var_metrics = VarMetricsSerializer(allow_null=True)
    risk_metrics = RiskMetricsSerializer(allow_null=True)
    current_drawdown = serializers.FloatField(allow_null=True, help_text="Below the running peak, positive.")
    average_correlation = serializers.FloatField(allow_null=True)
    risk_attribution = AttributionSerializer(allow_null=True)
    factor_risk = FactorRiskSerializer(allow_null=True, help_text="Beta view against the portfolio's benchmark.")
    stress_test_results = StressSummarySerializer(allow_null=True)
    latest_snapshot = SnapshotSerializer(allow_null=True)
    alerts = AlertSerializer(many=True, help_text="Open and acknowledged alerts.")
    recommendations = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_blank=True, help_text="Why some figures are missing, if they are.")


class PortfolioRiskApi(APIView):
    throttle_scope = "compute"  # heavier than a read: its own per-user rate

    @extend_schema(operation_id="portfolios_risk_retrieve",
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Portfolio id."),
                               IF_NONE_MATCH],
                   responses={200: PortfolioRiskSerializer, **NOT_MODIFIED, **error_responses(404)},
                   extensions=CACHED_READ_EXTENSION)
    def get(self, request: Request, pk: str) -> Response:
        portfolio_id = int(pk)
        if not 1 <= portfolio_id < 2**63:
            raise NotFound(f"portfolio {pk} does not exist", field="portfolio")
        # owner-filtered first: another user's portfolio is a 404 before any cache key exists
        return cached_read(
            request, endpoint="portfolios_risk",
            version=lambda: portfolio_risk_version(portfolio=portfolio_get(owner=request.user, portfolio_id=portfolio_id)),
            compute=lambda: PortfolioRiskSerializer(
                portfolio_risk_get(owner=request.user, portfolio_id=portfolio_id)).data,
        )
