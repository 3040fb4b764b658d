"""Statements of one portfolio: ``tax-report?year=`` and ``statement?start=&end=``, JSON or CSV.

CSV is asked for with ``?format=csv`` or ``Accept: text/csv``; errors are JSON either way.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.renderers import JsonErrors
from portfolios import selectors, statements

PORTFOLIO_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Portfolio id.")
FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["json", "csv"], description="`csv` for a CSV file (or send `Accept: text/csv`)."
)
MONEY = {"max_digits": 24, "decimal_places": 4}
SHARES = {"max_digits": 24, "decimal_places": 8}


class CSVRenderer(BaseRenderer):
    """Renders the CSV text a statement view built (other data is not CSV)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode("utf-8") if isinstance(data, str) else b""


class _StatementView(JsonErrors, APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    def _csv(self, request: Request) -> bool:
        return getattr(request.accepted_renderer, "format", "json") == "csv"

    @staticmethod
    def _attachment(response: Response, name: str) -> Response:
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


# --- serializers (the schema of the JSON bodies) ----------------------------------------------


class TaxRealizedLineSerializer(serializers.Serializer):
    closing_id = serializers.IntegerField()
    trade_id = serializers.IntegerField()
    lot_id = serializers.IntegerField()
    symbol = serializers.CharField()
    quantity = serializers.DecimalField(**SHARES)
    acquired_on = serializers.DateField()
    holding_from = serializers.DateField(help_text="Start of the holding period (earlier after a wash sale).")
    sold_on = serializers.DateField()
    term = serializers.ChoiceField(choices=["short", "long"])
    proceeds = serializers.DecimalField(**MONEY)
    cost_basis = serializers.DecimalField(**MONEY)
    adjustment_code = serializers.CharField(allow_blank=True, help_text='"W" when a wash sale disallowed part of the loss.')
    wash_sale_disallowed = serializers.DecimalField(**MONEY)
    gain = serializers.DecimalField(**MONEY, help_text="Reported gain or loss: proceeds - basis + disallowed loss.")
    harvested = serializers.BooleanField()


class TaxTermTotalsSerializer(serializers.Serializer):
    lines = serializers.IntegerField()
    proceeds = serializers.DecimalField(**MONEY)
    cost_basis = serializers.DecimalField(**MONEY)
    wash_sale_disallowed = serializers.DecimalField(**MONEY)
    gains = serializers.DecimalField(**MONEY)
    losses = serializers.DecimalField(**MONEY)
    net = serializers.DecimalField(**MONEY)


class TaxWashSaleLineSerializer(serializers.Serializer):
    closing_id = serializers.IntegerField()
    symbol = serializers.CharField()
    sold_on = serializers.DateField()
    quantity = serializers.DecimalField(**SHARES)
    disallowed_loss = serializers.DecimalField(**MONEY)
    replacement_lot_id = serializers.IntegerField()
    replacement_acquired_on = serializers.DateField()
    holding_days_added = serializers.IntegerField()


class TaxDividendLineSerializer(serializers.Serializer):
    symbol = serializers.CharField(allow_null=True)
    ex_date = serializers.DateField(allow_null=True)
    pay_date = serializers.DateField()
    shares = serializers.DecimalField(**SHARES, allow_null=True)
    per_share = serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)
    amount = serializers.DecimalField(**MONEY)
    qualified = serializers.DecimalField(**MONEY)
    cash_movement_id = serializers.IntegerField()


class TaxDividendTotalsSerializer(serializers.Serializer):
    total = serializers.DecimalField(**MONEY, help_text="Total ordinary dividends (1099-DIV box 1a).")
    qualified = serializers.DecimalField(**MONEY, help_text="Qualified dividends (box 1b).")
    ordinary_only = serializers.DecimalField(**MONEY)


class TaxReportSerializer(serializers.Serializer):
    portfolio_id = serializers.IntegerField()
    year = serializers.IntegerField()
    realized = TaxRealizedLineSerializer(many=True)
    short_term = TaxTermTotalsSerializer()
    long_term = TaxTermTotalsSerializer()
    total = TaxTermTotalsSerializer()
    harvested_losses = serializers.DecimalField(**MONEY)
    harvested_lines = serializers.IntegerField()
    wash_sales = TaxWashSaleLineSerializer(many=True)
    wash_sale_disallowed = serializers.DecimalField(**MONEY)
    dividends = TaxDividendLineSerializer(many=True)
    dividend_totals = TaxDividendTotalsSerializer()
    interest = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY)
    commissions = serializers.DecimalField(**MONEY, help_text="Trade commissions (already in basis and proceeds).")


class TaxReportQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1900, max_value=2200, required=False)


class StatementPositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    quantity = serializers.DecimalField(**SHARES)
    price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    price_date = serializers.DateField(allow_null=True)
    market_value = serializers.DecimalField(**MONEY, allow_null=True)


class StatementBalanceSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    cash = serializers.DecimalField(**MONEY)
    accrued_dividends = serializers.DecimalField(**MONEY)
    positions = StatementPositionSerializer(many=True)
    value = serializers.DecimalField(**MONEY)


class StatementActivitySerializer(serializers.Serializer):
    date = serializers.DateField()
    at = serializers.DateTimeField(allow_null=True)
    kind = serializers.ChoiceField(choices=[
        "deposit", "withdrawal", "dividend", "fee", "interest", "buy", "sell", "split", "dividend_entitlement",
    ])
    ref = serializers.CharField(help_text='"cash-<id>", "trade-<id>" or "action-<id>".')
    symbol = serializers.CharField(allow_null=True)
    quantity = serializers.DecimalField(**SHARES, allow_null=True)
    price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    amount = serializers.DecimalField(**MONEY, help_text="Signed effect on cash.")
    commission = serializers.DecimalField(**MONEY)
    realized_gain = serializers.DecimalField(**MONEY, allow_null=True)
    description = serializers.CharField(allow_blank=True)


class StatementTotalsSerializer(serializers.Serializer):
    deposits = serializers.DecimalField(**MONEY)
    withdrawals = serializers.DecimalField(**MONEY)
    dividends = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY)
    commissions = serializers.DecimalField(**MONEY)
    bought = serializers.DecimalField(**MONEY)
    sold = serializers.DecimalField(**MONEY)
    realized_gain = serializers.DecimalField(**MONEY)
    net_cash_flow = serializers.DecimalField(**MONEY)
    market_change = serializers.DecimalField(**MONEY)


class StatementSharesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    opening = serializers.DecimalField(**SHARES)
    bought = serializers.DecimalField(**SHARES)
    sold = serializers.DecimalField(**SHARES)
    split = serializers.DecimalField(**SHARES)
    closing = serializers.DecimalField(**SHARES)


class StatementSerializer(serializers.Serializer):
    portfolio_id = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    opening = StatementBalanceSerializer()
    closing = StatementBalanceSerializer()
    activity = StatementActivitySerializer(many=True)
    totals = StatementTotalsSerializer()
    shares = StatementSharesSerializer(many=True)
    reconciled = serializers.BooleanField()


class StatementQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        end = attrs.get("end") or timezone.localdate()
        start = attrs.get("start") or date(end.year, 1, 1)
        if end < start:
            raise serializers.ValidationError({"end": "end is before start"})
        if start.year < 1900 or end.year > 2200:
            raise serializers.ValidationError({"start": "dates must be between 1900 and 2200"})
        return {"start": start, "end": end}


def _rows(serializer_class: type[serializers.Serializer], items) -> list[dict]:
    """``serializer_class(items, many=True).data`` for flat rows, without DRF's per-field
    machinery: each column's own ``to_representation`` (the same text), ~5x faster on the
    thousands of lines of a long statement."""
    columns = [(name, f.to_representation) for name, f in serializer_class().fields.items()]
    return [{name: None if (v := getattr(item, name)) is None else show(v) for name, show in columns} for item in items]


def _body(serializer_class: type[serializers.Serializer], value, lists: dict[str, type[serializers.Serializer]]) -> dict:
    """``value`` (a statement dataclass) as JSON: its long lists through :func:`_rows`, the rest by the serializer."""
    small = {k: v for k, v in vars(value).items() if k not in lists}
    serializer = serializer_class()
    out = {}
    for name, f in serializer.fields.items():
        if name in lists:
            out[name] = _rows(lists[name], getattr(value, name))
        else:
            out[name] = f.to_representation(_plain(small[name]))
    return out


def _plain(value):
    """Dataclasses (nested, in lists) as dicts of their attributes, shallowly and fast."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in vars(value).items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


CSV_RESPONSE = OpenApiResponse(OpenApiTypes.STR, description="The same as one CSV table (`section` column).")


class TaxReportApi(_StatementView):
    @extend_schema(
        operation_id="portfolios_tax_report",
        parameters=[
            PORTFOLIO_ID, FORMAT,
            OpenApiParameter("year", OpenApiTypes.INT, description="Calendar year (default: this year)."),
        ],
        responses={(200, "application/json"): TaxReportSerializer, (200, "text/csv"): CSV_RESPONSE},
        description="Realized short- and long-term gains and losses per lot (Form 8949 lines: acquired, sold, "
        "proceeds, basis, wash-sale adjustment `W`), totals per term, harvested losses, wash-sale adjustments, "
        "dividends (qualified and ordinary), interest and fees of one calendar year. Totals are the lines' sums "
        "and reconcile with the ledger (`audit_ledger` checks it).",
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        query = TaxReportQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or timezone.localdate().year
        report = statements.tax_report_get(portfolio=portfolio, year=year)
        if self._csv(request):
            return self._attachment(Response(statements.tax_report_csv(report)), f"tax-report-{pk}-{year}.csv")
        return Response(_body(TaxReportSerializer, report, {"realized": TaxRealizedLineSerializer}))


class StatementApi(_StatementView):
    @extend_schema(
        operation_id="portfolios_statement",
        parameters=[
            PORTFOLIO_ID, FORMAT,
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: 1 January of `end`'s year)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (default: today)."),
        ],
        responses={(200, "application/json"): StatementSerializer, (200, "text/csv"): CSV_RESPONSE},
        description="Opening and closing positions, cash and dividends receivable; every cash movement, trade "
        "and corporate action of the period with fees; totals; and the reconciliation (opening cash + the lines "
        "= closing cash; per asset opening + bought - sold + split shares = closing).",
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        query = StatementQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        statement = statements.statement_get(portfolio=portfolio, **query.validated_data)
        if self._csv(request):
            name = f"statement-{pk}-{statement.start.isoformat()}-{statement.end.isoformat()}.csv"
            return self._attachment(Response(statements.statement_csv(statement)), name)
        return Response(_body(StatementSerializer, statement, {"activity": StatementActivitySerializer}))
