"""Portfolio endpoints: CRUD, holdings, transactions, cash, targets, autonomy.

Every view filters by the authenticated owner: another user's portfolio is a 404.
Views validate input, call one service or selector, and serialize the result.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import Pagination, error_responses
from common.conditional import ETAG_EXTENSION, IF_MATCH, etag_of, if_match_check, with_etag
from common.idempotency import idempotent
from common.read_cache import CACHED_READ_EXTENSION, IF_NONE_MATCH, NOT_MODIFIED, cached_read
from portfolios import selectors, services, versions
from portfolios.apis.serializers import (
    TRANSACTION_KINDS,
    AutonomySerializer,
    CashInputSerializer,
    CashOutputSerializer,
    HoldingSerializer,
    HoldingsOutputSerializer,
    PortfolioCreateInputSerializer,
    PortfolioInputSerializer,
    PortfolioOutputSerializer,
    TargetsSerializer,
    TransactionSerializer,
)
from portfolios.models import Portfolio

PORTFOLIO_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Portfolio id.")


def _with_values(portfolios: list[Portfolio]) -> list[Portfolio]:
    """Attach each portfolio's current value (one bulk state read for the whole page)."""
    states = selectors.portfolio_states_get(
        portfolio_ids=[p.pk for p in portfolios], as_of=timezone.localdate(), with_lots=False
    )
    for p in portfolios:
        state = states.get(p.pk)
        p.value = state.total_value if state else None  # type: ignore[attr-defined]
    return portfolios


@contextmanager
def _unchanged_since_read(request: Request, portfolio: Portfolio, state: Callable[[Portfolio], Any]):
    """Lock the portfolio and apply ``If-Match`` to ``state(portfolio)`` before an edit.

    The lock is the one the edit's service takes (same transaction), so two writers that
    read the same ETag cannot both pass the check.
    """
    with transaction.atomic():
        locked = services.portfolio_lock(portfolio=portfolio)
        if_match_check(request, etag_of(state(locked)))
        yield locked


def _portfolio_state(portfolio: Portfolio) -> dict:
    """What PUT/PATCH portfolios/{id} replaces (not its value, which moves with prices)."""
    # the model's own columns among the editable fields (not the broker's credentials)
    columns = {f.name for f in Portfolio._meta.concrete_fields}
    return {"id": portfolio.pk, **{f: getattr(portfolio, f) for f in PortfolioInputSerializer().fields if f in columns}}


class PortfolioListApi(APIView):
    @extend_schema(operation_id="portfolios_list", parameters=[IF_NONE_MATCH],
                   responses={200: PortfolioOutputSerializer(many=True), **NOT_MODIFIED},
                   extensions=CACHED_READ_EXTENSION)
    def get(self, request: Request) -> Response:
        def page() -> dict:
            paginator = Pagination()
            rows = paginator.paginate_queryset(selectors.portfolio_list(owner=request.user), request, view=self)
            return paginator.get_paginated_response(PortfolioOutputSerializer(_with_values(list(rows)), many=True).data).data

        return cached_read(request, endpoint="portfolios_list", compute=page,
                           version=lambda: versions.portfolio_list_version(owner=request.user))

    @idempotent
    @extend_schema(
        operation_id="portfolios_create",
        request=PortfolioCreateInputSerializer,
        responses={201: PortfolioOutputSerializer, **error_responses(409, 422)},
        description="Create a portfolio. `broker: alpaca` needs `broker_account` keys, or the server's own "
        "Alpaca keys while no other portfolio uses them (409 if one does, 422 without any).",
    )
    def post(self, request: Request) -> Response:
        data = PortfolioCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        portfolio = services.portfolio_create(owner=request.user, **data.validated_data)
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=portfolio.pk)
        return Response(PortfolioOutputSerializer(_with_values([portfolio])[0]).data, status=status.HTTP_201_CREATED)


# drf-spectacular paginates list responses of views with a pagination_class; declare it.
PortfolioListApi.pagination_class = Pagination


class PortfolioDetailApi(APIView):
    def _get(self, request: Request, pk: int) -> Portfolio:
        return selectors.portfolio_get(owner=request.user, portfolio_id=pk)

    def _reply(self, request: Request, pk: int) -> Response:
        portfolio = self._get(request, pk)
        return with_etag(Response(PortfolioOutputSerializer(_with_values([portfolio])[0]).data), _portfolio_state(portfolio))

    @extend_schema(
        operation_id="portfolios_retrieve", parameters=[PORTFOLIO_ID], responses={200: PortfolioOutputSerializer},
        extensions=ETAG_EXTENSION,
    )
    def get(self, request: Request, pk: int) -> Response:
        return self._reply(request, pk)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        portfolio = self._get(request, pk)
        data = PortfolioInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        with _unchanged_since_read(request, portfolio, _portfolio_state) as locked:
            services.portfolio_update(portfolio=locked, data=data.validated_data)
            # the answer is read inside the edit's transaction: a database that fails now
            # rolls the edit back with the error, never answers an error for a committed edit
            return self._reply(request, pk)

    @extend_schema(
        operation_id="portfolios_update", parameters=[PORTFOLIO_ID, IF_MATCH],
        request=PortfolioInputSerializer, responses={200: PortfolioOutputSerializer, **error_responses(409, 412, 422, 428)},
        extensions=ETAG_EXTENSION,
        description="Changing `broker` while orders are open is a 409; see create for the broker account.",
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="portfolios_partial_update", parameters=[PORTFOLIO_ID, IF_MATCH],
        request=PortfolioInputSerializer(partial=True),
        responses={200: PortfolioOutputSerializer, **error_responses(409, 412, 422, 428)},
        extensions=ETAG_EXTENSION,
        description="Changing `broker` while orders are open is a 409; see create for the broker account.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(
        operation_id="portfolios_destroy", parameters=[PORTFOLIO_ID],
        responses={204: None, **error_responses(409)},
        description="Delete an empty portfolio; one still holding cash or positions is a 409.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.portfolio_delete(portfolio=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HoldingsApi(APIView):
    @extend_schema(
        operation_id="portfolios_holdings", parameters=[PORTFOLIO_ID, IF_NONE_MATCH],
        responses={200: HoldingsOutputSerializer, **NOT_MODIFIED}, extensions=CACHED_READ_EXTENSION,
        description="Positions valued at their latest closes (splits applied: share counts follow the close): "
        "quantity, price, market value, weight, cost basis, unrealized P&L; `value` adds cash and dividends "
        "past their ex-date that are not paid yet.",
    )
    def get(self, request: Request, pk: int) -> Response:
        def body() -> dict:
            portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
            holdings = selectors.holdings_get(portfolio=portfolio)
            accrued = selectors.accrued_dividends_get(portfolio_ids=[portfolio.pk], as_of=timezone.localdate()).get(portfolio.pk, 0)
            value = portfolio.cash + accrued + sum((h.market_value or 0 for h in holdings), 0)
            return HoldingsOutputSerializer({"cash": portfolio.cash, "accrued_dividends": accrued, "value": value,
                                             "holdings": HoldingSerializer(holdings, many=True).data}).data

        return cached_read(request, endpoint="portfolios_holdings", compute=body,
                           version=lambda: versions.portfolio_holdings_version(owner=request.user, portfolio_id=pk))


class TransactionsApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="portfolios_transactions",
        parameters=[
            PORTFOLIO_ID,
            OpenApiParameter("kind", OpenApiTypes.STR, many=True, enum=TRANSACTION_KINDS, description="Repeatable."),
            OpenApiParameter("start", OpenApiTypes.DATE, description="On or after this date."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="On or before this date."),
            OpenApiParameter("symbol", OpenApiTypes.STR, description="Trades of this symbol only."),
            IF_NONE_MATCH,
        ],
        responses={200: TransactionSerializer(many=True), **NOT_MODIFIED},
        extensions=CACHED_READ_EXTENSION,
    )
    def get(self, request: Request, pk: int) -> Response:
        def page() -> dict:
            portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
            rows = selectors.transactions_list(portfolio=portfolio, params=request.query_params)
            paginator = Pagination()
            return paginator.get_paginated_response(
                TransactionSerializer(paginator.paginate_queryset(rows, request, view=self), many=True).data
            ).data

        return cached_read(request, endpoint="portfolios_transactions", compute=page,
                           version=lambda: versions.portfolio_ledger_version(owner=request.user, portfolio_id=pk))


class CashApi(APIView):
    @idempotent
    @extend_schema(
        operation_id="portfolios_cash",
        parameters=[PORTFOLIO_ID],
        request=CashInputSerializer,
        responses={201: CashOutputSerializer, **error_responses(422)},
        description="Deposit or withdraw cash. Withdrawing more than the cash held is a 422 naming `amount`. "
        "Send an `Idempotency-Key` to retry safely: the same key and body return the first response.",
    )
    def post(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        data = CashInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        move = services.cash_deposit if v["operation"] == "deposit" else services.cash_withdraw
        movement = move(portfolio=portfolio, amount=v["amount"], note=v["note"])
        # The balance the service wrote (its locked row), not a read after the commit: a
        # database that fails now must not turn a committed deposit into an error response.
        body = {"id": movement.pk, "kind": movement.kind, "amount": movement.amount, "at": movement.at,
                "note": movement.note, "cash": movement.portfolio.cash}
        return Response(CashOutputSerializer(body).data, status=status.HTTP_201_CREATED)


def _targets_body(portfolio: Portfolio) -> dict:
    rows = selectors.targets_get(portfolio=portfolio)
    return {
        "targets": [
            {"symbol": r.asset.symbol if r.asset else None, "asset_class": r.asset_class or None, "weight": r.weight}
            for r in rows
        ]
    }


def _targets_state(portfolio: Portfolio) -> dict:
    return TargetsSerializer(_targets_body(portfolio)).data


def _targets_reply(portfolio: Portfolio) -> Response:
    state = _targets_state(portfolio)
    return with_etag(Response(state), state)


class TargetsApi(APIView):
    @extend_schema(
        operation_id="portfolios_targets_retrieve", parameters=[PORTFOLIO_ID], responses={200: TargetsSerializer},
        extensions=ETAG_EXTENSION,
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        return _targets_reply(portfolio)

    @extend_schema(
        operation_id="portfolios_targets_update",
        parameters=[PORTFOLIO_ID, IF_MATCH],
        request=TargetsSerializer,
        responses={200: TargetsSerializer, **error_responses(412, 422, 428)},
        extensions=ETAG_EXTENSION,
        description="Replace the target allocation (by symbol or asset class); weights sum to at most 1, the rest is cash.",
    )
    def put(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        data = TargetsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _unchanged_since_read(request, portfolio, _targets_state) as locked:
            services.targets_set(
                portfolio=locked,
                targets=[
                    services.TargetInput(
                        weight=t["weight"], symbol=t.get("symbol") or None, asset_class=t.get("asset_class") or None
                    )
                    for t in data.validated_data["targets"]
                ],
            )
            return _targets_reply(portfolio)  # inside the edit's transaction (see _update)


class AutonomyApi(APIView):
    def _state(self, portfolio: Portfolio) -> dict:
        # a read only: the defaults of a portfolio without settings are saved by the first PUT
        return AutonomySerializer(selectors.autonomy_get(portfolio=portfolio)).data

    @extend_schema(
        operation_id="portfolios_autonomy_retrieve", parameters=[PORTFOLIO_ID], responses={200: AutonomySerializer},
        extensions=ETAG_EXTENSION,
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        state = self._state(portfolio)
        return with_etag(Response(state), state)

    @extend_schema(
        operation_id="portfolios_autonomy_update",
        parameters=[PORTFOLIO_ID, IF_MATCH],
        request=AutonomySerializer,
        responses={200: AutonomySerializer, **error_responses(412, 428)},
        extensions=ETAG_EXTENSION,
        description="Update the autonomy settings; fields left out keep their values. "
        "`strategy` must be a registered strategy (400 otherwise).",
    )
    def put(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        data = AutonomySerializer(selectors.autonomy_get(portfolio=portfolio), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with _unchanged_since_read(request, portfolio, self._state) as locked:
            services.autonomy_update(portfolio=locked, data=data.validated_data)
            state = self._state(portfolio)  # inside the edit's transaction (see _update)
        return with_etag(Response(state), state)
