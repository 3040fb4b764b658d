"""VaR backtest endpoints (issue 16): stateless ``POST risk/var/backtest`` for weights, and
``GET portfolios/{id}/risk/backtest``, the nightly backtest of one of the caller's portfolios.

A backtest compares each day's 1-day VaR forecast, made from the returns before that day,
with the day's realised loss; an *exception* is a loss above the forecast. VaR figures
are positive loss fractions of portfolio value.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import error_responses
from common.errors import NotFound
from risk.apis import FIRST_DATE, LAST_DATE, _finite_weights
from risk.measures.var_models import ADAPTIVE_CANDIDATES, BACKTEST_METHODS, DEFAULT_VAR_MODEL
from risk.var_backtest_selectors import (
    MIN_TEST_DAYS,
    portfolio_var_backtest_get,
    var_backtest_compute,
)

ZONES = ("green", "yellow", "red")


def _date_in_range(value):
    if not FIRST_DATE <= value <= LAST_DATE:
        raise serializers.ValidationError(f"Use a date between {FIRST_DATE} and {LAST_DATE}.")
    return value


class VarBacktestRequestSerializer(serializers.Serializer):
    weights = serializers.DictField(
        child=serializers.FloatField(min_value=-10.0, max_value=10.0), allow_empty=False,
        help_text="Symbol -> weight (fraction of portfolio value; what they leave of 1 is cash), "
        "held constant (rebalanced daily) over the window.")
    start = serializers.DateField(required=False, help_text="First day scored (default: four years "
                                  "before end). The forecasts use up to four years of returns before it.")
    end = serializers.DateField(required=False, help_text="Last day scored (default: the last date on "
                                "which every symbol has a price).")
    method = serializers.ChoiceField(
        choices=BACKTEST_METHODS, default=DEFAULT_VAR_MODEL,
        help_text=f"The VaR model; default {DEFAULT_VAR_MODEL!r}, the product's default model "
        f"(each day the best of {', '.join(ADAPTIVE_CANDIDATES)} by its own rolling backtest, "
        "calibrated to the Basel green zone; docs/VAR_BACKTEST.md).")
    confidence_level = serializers.FloatField(default=0.99, min_value=0.9, max_value=0.999)
    window_days = serializers.IntegerField(
        default=250, min_value=50, max_value=1000,
        help_text="Estimation window: the returns before each day that the window methods use, and "
        "the standardized returns whose quantile the filtered-historical methods take.")

    validate_start = staticmethod(_date_in_range)
    validate_end = staticmethod(_date_in_range)

    def validate_weights(self, value: dict) -> dict:
        return _finite_weights(value)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "end is before start."})
        return attrs


class VarBacktestBlockSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the 250-day block.")
    end = serializers.DateField(help_text="Last day of the block.")
    exceptions = serializers.IntegerField()
    zone = serializers.ChoiceField(choices=ZONES, help_text="Basel traffic light (at 99 %: green 0-4, "
                                   "yellow 5-9, red 10+).")


class VarBacktestResponseSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=BACKTEST_METHODS)
    observations = serializers.IntegerField(help_text="Days scored.")
    exceptions = serializers.IntegerField(help_text="Days whose loss exceeded the forecast.")
    kupiec_p = serializers.FloatField(help_text="Kupiec proportion-of-failures test p-value "
                                      "(small: the exception rate is not 1 - confidence_level).")
    christoffersen_p = serializers.FloatField(help_text="Christoffersen independence test p-value "
                                              "(small: exceptions cluster).")
    blocks = VarBacktestBlockSerializer(
        many=True, help_text="Consecutive 250-day blocks counted back from the last day scored (the "
        "first observations % 250 days belong to no block), oldest first.")


def _blocks(summary) -> list[dict]:
    return [{"start": b.start.date(), "end": b.end.date(), "exceptions": b.exceptions, "zone": b.zone}
            for b in summary.blocks]


class VarBacktestApi(APIView):
    @extend_schema(
        operation_id="risk_var_backtest_create",
        request=VarBacktestRequestSerializer,
        responses={200: VarBacktestResponseSerializer, **error_responses(404, 422)},
        examples=[OpenApiExample("Two stocks, the default model", request_only=True, value={
            "weights": {"AAPL": 0.5, "XOM": 0.5}, "start": "2008-01-01", "end": "2012-12-31",
            "confidence_level": 0.99, "window_days": 250})],
    )
    def post(self, request: Request) -> Response:
        data = VarBacktestRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = var_backtest_compute(**data.validated_data)
        s = run.main.summary
        return Response(VarBacktestResponseSerializer({
            "method": run.main.method, "observations": s.observations, "exceptions": s.exceptions,
            "kupiec_p": s.kupiec.p_value, "christoffersen_p": s.christoffersen.p_value, "blocks": _blocks(s),
        }).data)


class VarBacktestModelSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=BACKTEST_METHODS)
    observations = serializers.IntegerField()
    exceptions = serializers.IntegerField()
    kupiec_p = serializers.FloatField()
    christoffersen_p = serializers.FloatField()
    blocks = VarBacktestBlockSerializer(many=True)
    var_forecast = serializers.FloatField(help_text="This model's 1-day VaR for the next day.")


class PortfolioVarBacktestSerializer(serializers.Serializer):
    portfolio_id = serializers.IntegerField()
    as_of = serializers.DateField(help_text="Last day scored.")
    stored = serializers.BooleanField(help_text="False: the nightly backtest has not run yet; computed now.")
    computed_at = serializers.DateTimeField(allow_null=True)
    method = serializers.ChoiceField(choices=BACKTEST_METHODS, help_text="The default model.")
    current_model = serializers.CharField(allow_blank=True, help_text="The candidate the default model's "
                                          "rule uses for the next day.")
    var_forecast = serializers.FloatField(help_text="The default model's 1-day VaR for the next day.")
    confidence_level = serializers.FloatField()
    window_days = serializers.IntegerField()
    observations = serializers.IntegerField(help_text=f"Days scored (the current weights replayed; at "
                                            f"least {MIN_TEST_DAYS}, up to four blocks).")
    exceptions = serializers.IntegerField()
    expected_exceptions = serializers.FloatField()
    kupiec_p = serializers.FloatField()
    christoffersen_p = serializers.FloatField()
    conditional_coverage_p = serializers.FloatField()
    zone = serializers.ChoiceField(choices=[*ZONES, ""], help_text="Zone of the most recent block (blank: "
                                   "fewer than 250 days).")
    blocks = VarBacktestBlockSerializer(many=True)
    candidates = VarBacktestModelSerializer(many=True, help_text="The default's candidates at the nominal "
                                            "level, and historical VaR, on the same days.")
    weights = serializers.DictField(child=serializers.FloatField())


class PortfolioVarBacktestApi(APIView):
    @extend_schema(operation_id="portfolios_risk_backtest_retrieve",
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Portfolio id.")],
                   responses={200: PortfolioVarBacktestSerializer, **error_responses(404, 422)})
    def get(self, request: Request, pk: str) -> Response:
        portfolio_id = int(pk)
        if not 1 <= portfolio_id < 2**63:
            raise NotFound(f"portfolio {pk} does not exist", field="portfolio")
        found = portfolio_var_backtest_get(owner=request.user, portfolio_id=portfolio_id)
        r = found.record
        return Response(PortfolioVarBacktestSerializer({
            "portfolio_id": found.portfolio.pk, "as_of": r.date, "stored": found.stored,
            "computed_at": r.updated_at if found.stored else None, "method": r.method,
            "current_model": r.current_model, "var_forecast": r.var_forecast,
            "confidence_level": r.confidence_level, "window_days": r.window_days,
            "observations": r.observations, "exceptions": r.exceptions,
            "expected_exceptions": r.expected_exceptions, "kupiec_p": r.kupiec_p,
            "christoffersen_p": r.christoffersen_p, "conditional_coverage_p": r.conditional_coverage_p,
            "zone": r.zone, "blocks": r.blocks, "candidates": r.candidates, "weights": r.weights,
        }).data)
