"""``POST optimize``: a stateless optimization of a universe over a window of stored prices.

Thin: the input serializers validate and bound every field (so a fuzzer cannot ask for a
10-minute solve), :func:`portfolios.services.optimization.optimization_run` does the work,
the output serializers shape the reply. Infeasible constraints answer 422 with the
conflicts in the error detail.
"""

from __future__ import annotations

import base64
import math
from contextlib import contextmanager

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import RejectUnknownFields, error_responses
from common.errors import ApplicationError
from portfolios.optimization import (
    EXPECTED_RETURN_ESTIMATORS,
    MAX_FRONTIER_POINTS,
    MULTI_OBJECTIVE_DEFAULTS,
    OBJECTIVES,
    RISK_MODELS,
)
from portfolios.services.optimization import (
    MAX_UNIVERSE,
    OptimizationOutcome,
    OptimizationRequest,
    optimization_run,
)
from users.models import RiskTier


def _symbol() -> serializers.CharField:
    return serializers.CharField(max_length=32)


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise serializers.ValidationError(f"{field} must be a finite number")
    return value


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise serializers.ValidationError(f"{key}: a finite number is required")
    return float(value)


class ExpectedReturnsValuesField(serializers.DictField):
    """symbol -> annualised expected return (an explicit alternative to the estimators)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.FloatField(), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict) or len(data) > MAX_UNIVERSE:
            raise serializers.ValidationError(f"a symbol -> number map of at most {MAX_UNIVERSE} symbols")
        out = {}
        for key, value in data.items():
            number = _number(str(key), value)
            if abs(number) > 100:
                raise serializers.ValidationError(
                    f"{key}: an annual return beyond +-100 (10,000%) is not plausible"
                )
            out[str(key)] = number
        return out


class CovarianceField(serializers.DictField):
    """symbol -> symbol -> annualised covariance (an explicit alternative to the risk models)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.DictField(child=serializers.FloatField()), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict) or len(data) > MAX_UNIVERSE:
            raise serializers.ValidationError(
                f"a symbol -> symbol -> number map of at most {MAX_UNIVERSE} symbols"
            )
        out = {}
        for row, values in data.items():
            if not isinstance(values, dict):
                raise serializers.ValidationError(f"{row}: a symbol -> number map is required")
            out[str(row)] = {str(col): _number(f"{row}/{col}", value) for col, value in values.items()}
        return out


# The service names the field it could not use `expected_returns` / `risk_model` whatever
# form was given; the explicit maps have their own fields.
_MAP_FIELDS = {"expected_returns": "expected_returns_values", "risk_model": "covariance"}


@contextmanager
def map_field_names(attrs: dict):
    """Name ``expected_returns_values`` / ``covariance`` in errors when the maps were given."""
    try:
        yield
    except ApplicationError as exc:
        renamed = _MAP_FIELDS.get(exc.field or "")
        if renamed and attrs.get(f"_{renamed}_given"):
            exc.field = renamed
        raise


class BoundSerializer(serializers.Serializer):
    lower = serializers.FloatField(min_value=-1.0, max_value=1.0)
    upper = serializers.FloatField(min_value=-1.0, max_value=1.0)


class GroupLimitsField(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.FloatField(min_value=0.0, max_value=1.0), required=False, **kwargs
        )


class ConstraintsInputSerializer(serializers.Serializer):
    long_only = serializers.BooleanField(default=True)
    bounds = serializers.DictField(
        child=BoundSerializer(), required=False, help_text="symbol -> {lower, upper}."
    )
    max_position = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        allow_null=True,
        help_text="Concentration limit: at most this weight in one symbol.",
    )
    min_position = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        allow_null=True,
        help_text="A held position weighs at least this (mixed-integer).",
    )
    max_holdings = serializers.IntegerField(
        min_value=1,
        max_value=MAX_UNIVERSE,
        required=False,
        allow_null=True,
        help_text="At most this many positions (cardinality; SCIP).",
    )
    asset_classes = serializers.DictField(
        child=serializers.CharField(max_length=32),
        required=False,
        help_text="symbol -> class; defaults to the assets' own classes.",
    )
    asset_class_min = GroupLimitsField(help_text="asset class -> minimum weight.")
    asset_class_max = GroupLimitsField(help_text="asset class -> maximum weight.")
    sectors = serializers.DictField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="symbol -> sector; defaults to the assets' own sectors.",
    )
    sector_min = GroupLimitsField(help_text="sector -> minimum weight.")
    sector_max = GroupLimitsField(help_text="sector -> maximum weight.")
    excluded = serializers.ListField(
        child=_symbol(),
        required=False,
        max_length=MAX_UNIVERSE,
        help_text="Symbols that must get zero weight.",
    )
    exclude_esg_flags = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=50,
        help_text='Exclude assets flagged e.g. "tobacco".',
    )
    min_esg_score = serializers.FloatField(
        min_value=0.0,
        max_value=100.0,
        required=False,
        allow_null=True,
        help_text="Exclude rated assets scoring below this.",
    )
    max_turnover = serializers.FloatField(
        min_value=0.0,
        max_value=2.0,
        required=False,
        allow_null=True,
        help_text="sum |w - current_weights| at most this. The frontier ends at the highest "
        "return within the cap.",
    )
    cash_buffer = serializers.FloatField(
        min_value=0.0, max_value=0.99, default=0.0, help_text="Weights sum to 1 - cash_buffer."
    )
    transaction_cost = serializers.FloatField(
        min_value=0.0,
        max_value=0.1,
        required=False,
        help_text="Proportional cost per unit of weight traded from current_weights (default 0; "
        "a portfolio's frontier defaults to its commission + slippage). Frontier returns are "
        "net of it.",
    )

    def validate(self, attrs):
        for symbol, bound in attrs.get("bounds", {}).items():
            if bound["lower"] > bound["upper"]:
                raise serializers.ValidationError({"bounds": f"{symbol}: lower is above upper"})
        return {k: v for k, v in attrs.items() if v is not None}


class ViewInputSerializer(serializers.Serializer):
    symbol = serializers.CharField(
        max_length=32, required=False, help_text="Absolute view: this symbol returns `value`."
    )
    long = serializers.CharField(
        max_length=32, required=False, help_text="Relative view: `long` beats `short`..."
    )
    short = serializers.CharField(max_length=32, required=False, help_text="...by `value` a year.")
    value = serializers.FloatField(
        min_value=-1.0, max_value=5.0, help_text="Annual return or outperformance."
    )
    confidence = serializers.FloatField(
        min_value=0.001, max_value=1.0, default=0.5, help_text="In (0, 1] (Idzorek)."
    )

    def validate(self, attrs):
        absolute = "symbol" in attrs
        relative = "long" in attrs and "short" in attrs
        if absolute == relative or (not relative and ("long" in attrs or "short" in attrs)):
            raise serializers.ValidationError(
                "give either `symbol` (absolute) or `long` and `short` (relative)"
            )
        if relative and attrs["long"] == attrs["short"]:
            raise serializers.ValidationError("`long` and `short` must differ")
        return attrs


class ObjectiveWeightsSerializer(RejectUnknownFields, serializers.Serializer):
    return_weight = serializers.FloatField(min_value=0.0, max_value=1000.0, required=False)
    variance_weight = serializers.FloatField(
        min_value=0.0,
        max_value=1000.0,
        required=False,
        help_text="Default: risk aversion / 2 (from the risk tier).",
    )
    cvar_weight = serializers.FloatField(min_value=0.0, max_value=1000.0, required=False)
    drawdown_weight = serializers.FloatField(min_value=0.0, max_value=1000.0, required=False)
    turnover_weight = serializers.FloatField(min_value=0.0, max_value=1000.0, required=False)


class OptimizeInputSerializer(RejectUnknownFields, serializers.Serializer):
    universe = serializers.ListField(child=_symbol(), min_length=1, max_length=MAX_UNIVERSE)
    start = serializers.DateField(required=False, allow_null=True)
    end = serializers.DateField(required=False, allow_null=True)
    expected_returns = serializers.ChoiceField(
        choices=list(EXPECTED_RETURN_ESTIMATORS), default="mean_historical",
        help_text="Estimator of expected returns from history: geometric mean, exponentially "
        "weighted, CAPM. Ignored when `expected_returns_values` is given.",
    )
    expected_returns_values = ExpectedReturnsValuesField(
        required=False, help_text="symbol -> annualised expected return, instead of an estimator."
    )
    risk_model = serializers.ChoiceField(
        choices=list(RISK_MODELS), default="sample_cov",
        help_text="Estimator of the covariance matrix. Ignored when `covariance` is given.",
    )
    covariance = CovarianceField(
        required=False, help_text="symbol -> symbol -> annualised covariance, instead of a risk model."
    )
    benchmark = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        help_text="capm: the market's symbol (stored prices); default the equal-weighted universe.",
    )
    objective = serializers.ChoiceField(choices=OBJECTIVES, default="max_sharpe")
    risk_free_rate = serializers.FloatField(min_value=-0.1, max_value=0.5, default=0.0)
    target_return = serializers.FloatField(
        min_value=-1.0, max_value=10.0, required=False, allow_null=True
    )
    target_volatility = serializers.FloatField(
        min_value=1e-4, max_value=10.0, required=False, allow_null=True
    )
    risk_tier = serializers.ChoiceField(
        choices=RiskTier.choices,
        required=False,
        allow_null=True,
        help_text="Sets the risk aversion of max_utility, multi_objective, BL.",
    )
    risk_aversion = serializers.FloatField(
        min_value=1e-3, max_value=1000.0, required=False, allow_null=True
    )
    views = ViewInputSerializer(many=True, required=False, max_length=50)
    constraints = ConstraintsInputSerializer(required=False)
    current_weights = serializers.DictField(
        child=serializers.FloatField(min_value=-1.0, max_value=1.0), required=False
    )
    frontier_points = serializers.IntegerField(
        min_value=2,
        max_value=MAX_FRONTIER_POINTS,
        required=False,
        allow_null=True,
        help_text="Also return this many frontier points.",
    )
    frontier_plot = serializers.BooleanField(
        default=False, help_text="Also return the frontier as a base64 PNG."
    )
    kelly_fraction = serializers.FloatField(min_value=0.01, max_value=1.0, default=0.5)
    cvar_beta = serializers.FloatField(min_value=0.5, max_value=0.999, default=0.95)
    risk_budgets = serializers.DictField(
        child=serializers.FloatField(min_value=1e-6, max_value=1e6),
        required=False,
        help_text="risk_parity: symbol -> risk budget (default equal).",
    )
    market_weights = serializers.DictField(
        child=serializers.FloatField(min_value=0.0, max_value=1e15),
        required=False,
        help_text="black_litterman: market capitalisations or weights.",
    )
    objective_weights = ObjectiveWeightsSerializer(
        required=False, help_text=f"multi_objective weights; defaults {MULTI_OBJECTIVE_DEFAULTS}."
    )

    def validate_universe(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("a symbol is listed twice")
        return value

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"end": "end is before start"})
        # The services take an estimator name or a map in one argument.
        if "expected_returns_values" in attrs:
            attrs["expected_returns"] = attrs.pop("expected_returns_values")
            attrs["_expected_returns_values_given"] = True
        if "covariance" in attrs:
            attrs["risk_model"] = attrs.pop("covariance")
            attrs["_covariance_given"] = True
        if attrs.get("frontier_plot") and not attrs.get("frontier_points"):
            raise serializers.ValidationError({"frontier_plot": "a plot needs frontier_points"})
        objective = attrs["objective"]
        if objective == "efficient_return" and attrs.get("target_return") is None:
            raise serializers.ValidationError(
                {"target_return": "efficient_return needs target_return"}
            )
        if objective == "efficient_risk" and attrs.get("target_volatility") is None:
            raise serializers.ValidationError(
                {"target_volatility": "efficient_risk needs target_volatility"}
            )
        return attrs


class FrontierPointSerializer(serializers.Serializer):
    expected_return = serializers.FloatField(
        help_text="Annualised, net of the transaction cost of trading there from the current weights."
    )
    volatility = serializers.FloatField()
    sharpe_ratio = serializers.FloatField()
    weights = serializers.DictField(child=serializers.FloatField(), help_text="symbol -> weight.")
    turnover = serializers.FloatField(
        allow_null=True,
        help_text="sum |w - current weights|: the share of the portfolio traded to get there "
        "(from all cash when no current weights are known).",
    )
    transaction_cost = serializers.FloatField(
        allow_null=True, help_text="What trading there costs, as a fraction of value."
    )


class OptimizeOutputSerializer(serializers.Serializer):
    objective = serializers.ChoiceField(choices=OBJECTIVES)
    weights = serializers.DictField(
        child=serializers.FloatField(), help_text="symbol -> weight; the rest is cash."
    )
    expected_return = serializers.FloatField(
        allow_null=True, help_text="Annualised; cash earns the risk-free rate."
    )
    volatility = serializers.FloatField(help_text="Annualised.")
    sharpe_ratio = serializers.FloatField(
        allow_null=True, help_text="Annualised, (return - risk_free_rate) / volatility."
    )
    risk_free_rate = serializers.FloatField()
    solver = serializers.CharField(help_text="The solver (or method) that produced the weights.")
    status = serializers.CharField()
    start = serializers.DateField(help_text="First date with a return in the window used.")
    end = serializers.DateField(help_text="Last date with a return in the window used.")
    observations = serializers.IntegerField(
        help_text="Days of returns where every symbol has a price."
    )
    expected_returns = serializers.DictField(
        child=serializers.FloatField(), help_text="The expected returns used."
    )
    risk_contributions = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="risk_parity / hrp: each symbol's share of variance.",
    )
    posterior_returns = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="black_litterman: the posterior expected returns.",
    )
    cvar = serializers.FloatField(
        allow_null=True, help_text="min_cvar: daily historical CVaR of the result."
    )
    frontier = FrontierPointSerializer(
        many=True, allow_null=True, help_text="When frontier_points was given."
    )
    frontier_max_sharpe = FrontierPointSerializer(
        allow_null=True, help_text="The exact tangency portfolio."
    )
    frontier_method = serializers.CharField(
        allow_null=True,
        help_text="parametric_qp (exact path; also with costs and a turnover cap), "
        "support_search (max_holdings / min_position) or cvxpy_parametric (one solve per point).",
    )
    frontier_transaction_cost = serializers.FloatField(
        allow_null=True, help_text="The proportional cost the frontier counted (null: no frontier)."
    )
    frontier_max_turnover = serializers.FloatField(
        allow_null=True, help_text="The turnover cap the frontier kept to (null: none)."
    )
    frontier_png = serializers.CharField(
        allow_null=True, help_text="Base64 PNG of the frontier (frontier_plot)."
    )


def _point(point) -> dict:
    return {
        "expected_return": float(point.expected_return),
        "volatility": float(point.volatility),
        "sharpe_ratio": float(point.sharpe_ratio),
        "weights": {str(s): float(w) for s, w in point.weights.items()},
        "turnover": point.turnover,
        "transaction_cost": point.transaction_cost,
    }


def outcome_data(outcome: OptimizationOutcome, *, risk_free_rate: float) -> dict:
    """The reply body for an outcome (also used by ``portfolios/{id}/optimize``)."""
    result, frontier = outcome.result, outcome.frontier
    return {
        "objective": result.objective,
        "weights": {s: float(w) for s, w in result.weights.items()},
        "expected_return": result.expected_return,
        "volatility": result.volatility,
        "sharpe_ratio": result.sharpe_ratio,
        "risk_free_rate": risk_free_rate,
        "solver": result.solver,
        "status": result.status,
        "start": outcome.start,
        "end": outcome.end,
        "observations": outcome.observations,
        "expected_returns": {s: float(v) for s, v in outcome.expected_returns.items()},
        "risk_contributions": result.details.get("risk_contributions"),
        "posterior_returns": result.details.get("posterior_returns"),
        "cvar": result.details.get("cvar"),
        "frontier": None if frontier is None else [_point(p) for p in frontier.points],
        "frontier_max_sharpe": None if frontier is None else _point(frontier.max_sharpe),
        "frontier_method": None if frontier is None else frontier.method,
        "frontier_transaction_cost": None
        if outcome.frontier_constraints is None
        else outcome.frontier_constraints.transaction_cost,
        "frontier_max_turnover": None
        if outcome.frontier_constraints is None
        else outcome.frontier_constraints.max_turnover,
        "frontier_png": None
        if outcome.frontier_png is None
        else base64.b64encode(outcome.frontier_png).decode(),
    }


class OptimizeApi(APIView):
    """Optimize a universe on stored prices; optionally with its efficient frontier."""
    throttle_scope = "compute"  # heavier than a read: its own per-user rate

    @extend_schema(
        operation_id="optimize_create",
        request=OptimizeInputSerializer,
        responses={200: OptimizeOutputSerializer, **error_responses(404, 422)},
        examples=[
            OpenApiExample(
                "Max Sharpe with a sector cap",
                request_only=True,
                value={
                    "universe": ["AAPL", "MSFT", "XOM", "JPM"],
                    "start": "2020-01-01",
                    "end": "2023-12-31",
                    "expected_returns": "mean_historical",
                    "risk_model": "ledoit_wolf",
                    "objective": "max_sharpe",
                    "risk_free_rate": 0.02,
                    "constraints": {"max_position": 0.4, "sector_max": {"technology": 0.5}},
                    "frontier_points": 50,
                },
            ),
            OpenApiExample(
                "Infeasible constraints",
                response_only=True,
                status_codes=["422"],
                value={
                    "type": "client_error",
                    "errors": [
                        {
                            "code": "infeasible_constraints",
                            "detail": "infeasible constraints: sector minimums sum to 1.2, more than the 1 to invest",
                            "attr": "constraints",
                        }
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = OptimizeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        options = {
            "kelly_fraction": v["kelly_fraction"],
            "cvar_beta": v["cvar_beta"],
            **({"risk_budgets": v["risk_budgets"]} if v.get("risk_budgets") else {}),
            **({"market_weights": v["market_weights"]} if v.get("market_weights") else {}),
            **dict(v.get("objective_weights") or {}),
        }
        with map_field_names(v):
            outcome = optimization_run(
                request=OptimizationRequest(
                    symbols=v["universe"],
                    start=v.get("start"),
                    end=v.get("end"),
                    expected_returns=v["expected_returns"],
                    risk_model=v["risk_model"],
                    objective=v["objective"],
                    constraints=v.get("constraints"),
                    risk_free_rate=v["risk_free_rate"],
                    target_return=v.get("target_return"),
                    target_volatility=v.get("target_volatility"),
                    views=v.get("views"),
                    frontier_points=v.get("frontier_points"),
                    current_weights=v.get("current_weights"),
                    risk_tier=v.get("risk_tier"),
                    risk_aversion=v.get("risk_aversion"),
                    frontier_plot=v["frontier_plot"],
                    options=options,
                    benchmark=v.get("benchmark"),
                )
            )
        body = OptimizeOutputSerializer(
            outcome_data(outcome, risk_free_rate=v["risk_free_rate"])
        ).data
        return Response(body, status=status.HTTP_200_OK)
