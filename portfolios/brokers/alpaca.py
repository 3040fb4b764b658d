"""Alpaca's trading API behind :class:`~portfolios.brokers.base.OrderBroker` (official SDK, no Django).

The adapter speaks the public v2 paths — ``/v2/account``, ``/v2/clock``, ``/v2/calendar``,
``/v2/orders``, ``/v2/orders/{id}``, ``/v2/orders:by_client_order_id``, ``/v2/positions`` —
through ``alpaca-py``'s :class:`~alpaca.trading.client.TradingClient`, so any server that
implements those paths serves it (the fake one of the tests on loopback, Alpaca's paper
endpoint, or the live one). It translates the SDK's pydantic models into the broker values
of :mod:`portfolios.brokers.base` (``Decimal``, aware datetimes) and its errors into:

* :class:`BrokerUnavailable` — no answer, a timeout, 429 or 5xx: nothing is known, retry;
* :class:`BrokerAuthError` — 401, or a 403 that is not about an order (bad or paper/live-swapped keys);
* :class:`BrokerOrderNotFound` — 404 on an order;
* :class:`BrokerRejected` — any other 4xx: the order (or request) is refused, with Alpaca's code.

Idempotence: :meth:`AlpacaBroker.order_submit` of a ticket whose ``client_order_id`` Alpaca
already knows (Alpaca answers 422 "client_order_id must be unique") returns the existing
order, so a worker killed after submitting and before recording can simply resubmit.

Quantities: the SDK's order request carries ``qty`` as a float; Decimal quantities of at
most 9 significant decimals round-trip through a float's shortest repr exactly, which the
ledger's 8 places satisfy. Prices come back as strings and are read as ``Decimal``.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import GetCalendarRequest, LimitOrderRequest, MarketOrderRequest

from portfolios.brokers.base import (
    BrokerAccountState,
    BrokerAuthError,
    BrokerError,
    BrokerOrder,
    BrokerOrderNotFound,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    FillEvent,
    MarketClock,
    MarketDay,
    OrderTicket,
)

NEW_YORK = ZoneInfo("America/New_York")
"""The calendar's open and close times are New York wall-clock times."""
ORDER_LEVEL_403 = {"40310000"}
"""Alpaca's 403 codes about an order (insufficient buying power / qty), not about the keys."""


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _error_body(exc: APIError) -> tuple[str, str]:
    """(code, message) of an Alpaca error; the raw text when it is not JSON."""
    text = str(exc)
    try:
        body = json.loads(text)
    except (TypeError, ValueError):
        return "", text
    if not isinstance(body, dict):
        return "", text
    return str(body.get("code", "")), str(body.get("message", text))


class AlpacaBroker:
    """One Alpaca account (one pair of keys) at one endpoint."""

    name = "alpaca"

    def __init__(self, *, api_key: str, secret_key: str, base_url: str, timeout_s: float = 10.0) -> None:
        if not api_key or not secret_key:
            raise BrokerAuthError("Alpaca needs an API key and a secret key", code="missing_credentials")
        self.base_url = base_url.rstrip("/")
        self._client = TradingClient(api_key=api_key, secret_key=secret_key, url_override=self.base_url)
        # The SDK's requests session has no timeout; a hung connection must not hang a worker.
        session = self._client._session
        session.request = functools.partial(session.request, timeout=timeout_s)

    # -- errors -----------------------------------------------------------------------

    def _call(self, what: str, fn, *args, symbol: str | None = None):
        try:
            return fn(*args)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise BrokerUnavailable(f"Alpaca did not answer {what}: {exc}", symbol=symbol) from exc
        except APIError as exc:
            raise self._translate(exc, what, symbol) from exc

    @staticmethod
    def _translate(exc: APIError, what: str, symbol: str | None) -> BrokerError:
        status = exc.status_code
        code, message = _error_body(exc)
        if status is None or status == 429 or status >= 500:
            return BrokerUnavailable(f"Alpaca could not serve {what} ({status}): {message}", symbol=symbol)
        if status == 404:
            return BrokerOrderNotFound(f"Alpaca has no such order ({what}): {message}", symbol=symbol)
        if status == 401 or (status == 403 and code not in ORDER_LEVEL_403):
            return BrokerAuthError(f"Alpaca refused the credentials ({status}): {message}",
                                   symbol=symbol, code=code, status=status)
        return BrokerRejected(f"Alpaca refused {what} ({status}): {message}", symbol=symbol, code=code, status=status)

    # -- reads ------------------------------------------------------------------------

    def account(self) -> BrokerAccountState:
        raw = self._call("the account", self._client.get_account)
        return BrokerAccountState(
            account_number=raw.account_number,
            status=_enum(raw.status),
            currency=raw.currency or "USD",
            cash=_decimal(raw.cash) or Decimal(0),
            buying_power=_decimal(raw.buying_power) or Decimal(0),
            equity=_decimal(raw.equity) or Decimal(0),
            trading_blocked=bool(raw.trading_blocked or raw.account_blocked),
        )

    def clock(self) -> MarketClock:
        raw = self._call("the clock", self._client.get_clock)
        return MarketClock(
            timestamp=_aware(raw.timestamp), is_open=bool(raw.is_open),
            next_open=_aware(raw.next_open), next_close=_aware(raw.next_close),
        )

    def calendar(self, start: date, end: date) -> list[MarketDay]:
        days = self._call("the calendar", self._client.get_calendar, GetCalendarRequest(start=start, end=end))
        return [
            MarketDay(date=d.date, open=d.open.replace(tzinfo=NEW_YORK), close=d.close.replace(tzinfo=NEW_YORK))
            for d in days
        ]

    def positions(self) -> list[BrokerPosition]:
        rows = self._call("the positions", self._client.get_all_positions)
        out = []
        for p in rows:
            quantity = _decimal(p.qty) or Decimal(0)
            if _enum(p.side) == "short" and quantity > 0:
                quantity = -quantity
            out.append(BrokerPosition(
                symbol=p.symbol, quantity=quantity,
                avg_entry_price=_decimal(p.avg_entry_price) or Decimal(0),
                current_price=_decimal(p.current_price),
            ))
        return out

    # -- orders -----------------------------------------------------------------------

    @staticmethod
    def order_from_sdk(raw: Any) -> BrokerOrder:
        """A :class:`BrokerOrder` from the SDK's ``Order`` (also the one inside a trade update)."""
        return BrokerOrder(
            broker_order_id=str(raw.id),
            client_order_id=raw.client_order_id,
            symbol=raw.symbol or "",
            side=_enum(raw.side),
            quantity=_decimal(raw.qty) or Decimal(0),
            status=_enum(raw.status),
            filled_quantity=_decimal(raw.filled_qty) or Decimal(0),
            filled_avg_price=_decimal(raw.filled_avg_price),
            order_type=_enum(raw.order_type or raw.type) or "market",
            limit_price=_decimal(raw.limit_price),
            submitted_at=_aware(raw.submitted_at),
            updated_at=_aware(raw.updated_at),
            filled_at=_aware(raw.filled_at),
        )

    def order_submit(self, ticket: OrderTicket) -> BrokerOrder:
        fields: dict[str, Any] = {
            "symbol": ticket.symbol,
            "qty": float(ticket.quantity),
            "side": OrderSide(ticket.side),
            "time_in_force": TimeInForce(ticket.time_in_force),
            "client_order_id": ticket.client_order_id,
        }
        if ticket.order_type == "limit":
            if ticket.limit_price is None:
                raise BrokerRejected("a limit order needs a limit price", symbol=ticket.symbol, code="limit_price")
            request = LimitOrderRequest(**fields, limit_price=float(ticket.limit_price))
        else:
            request = MarketOrderRequest(**fields)
        try:
            raw = self._call(f"the {ticket.side} order for {ticket.symbol}", self._client.submit_order, request,
                             symbol=ticket.symbol)
        except BrokerRejected as exc:
            if exc.status == 422 and "client_order_id" in str(exc) and "unique" in str(exc):
                existing = self.order_by_client_id(ticket.client_order_id)
                if existing is not None:
                    return existing
            raise
        return self.order_from_sdk(raw)

    def order_get(self, broker_order_id: str) -> BrokerOrder:
        return self.order_from_sdk(self._call(f"order {broker_order_id}", self._client.get_order_by_id, broker_order_id))

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            raw = self._call(f"order {client_order_id}", self._client.get_order_by_client_id, client_order_id)
        except BrokerOrderNotFound:
            return None
        return self.order_from_sdk(raw)

    def order_cancel(self, broker_order_id: str) -> None:
        """Ask Alpaca to cancel; an order that is no longer cancelable (422) is left to the next poll."""
        try:
            self._call(f"the cancel of order {broker_order_id}", self._client.cancel_order_by_id, broker_order_id)
        except BrokerRejected as exc:
            if exc.status != 422:
                raise


def trade_update_translate(update: Any) -> tuple[BrokerOrder, FillEvent | None]:
    """The order snapshot (and, for ``fill``/``partial_fill`` events, the fill) of a trade update."""
    snapshot = AlpacaBroker.order_from_sdk(update.order)
    event = _enum(update.event)
    if event not in ("fill", "partial_fill") or update.qty is None or update.price is None:
        return snapshot, None
    return snapshot, FillEvent(
        quantity=Decimal(str(update.qty)), price=Decimal(str(update.price)),
        executed_at=_aware(update.timestamp) or datetime.now(UTC),
        fill_ref=str(update.execution_id) if update.execution_id else "",
    )


def stream_url_for(base_url: str) -> str:
    """Alpaca's trade-update websocket next to a trading endpoint (https -> wss, + /stream)."""
    return base_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/stream"


def trade_updates_run(*, api_key: str, secret_key: str, url: str, handler) -> None:
    """Listen to the account's trade updates until interrupted; ``handler(update)`` per message.

    The SDK's :class:`~alpaca.trading.stream.TradingStream` reconnects with backoff itself;
    ``handler`` runs in a worker thread (it may use the ORM, which refuses the event loop's).
    """
    from alpaca.trading.stream import TradingStream
    from asgiref.sync import sync_to_async

    stream = TradingStream(api_key, secret_key, url_override=url)
    threaded = sync_to_async(handler, thread_sensitive=True)

    async def on_update(update: Any) -> None:
        await threaded(update)

    stream.subscribe_trade_updates(on_update)
    stream.run()
