"""A fake Alpaca trading API on loopback: the v2 paths the adapter speaks, in the real shapes.

Implements ``/v2/account``, ``/v2/clock``, ``/v2/calendar``, ``/v2/orders`` (POST, GET),
``/v2/orders/{id}`` (GET, DELETE), ``/v2/orders:by_client_order_id`` and ``/v2/positions``
with the JSON bodies of Alpaca's API as alpaca-py's own tests record them (every field the
SDK's pydantic models read, strings for decimals, New York offsets on the clock, ``HH:MM``
on the calendar) and Alpaca's error bodies (``{"code": 40010001, "message": ...}``).

It is scripted, not simulated: time stands still until :meth:`FakeAlpaca.set_time`; an
order moves only on :meth:`FakeAlpaca.tick`, which applies the next step of its symbol's
script (``("fill", qty, price)`` with ``qty`` None for the rest, ``("reject",)``,
``("expire",)``, ``("cancel",)``) or, without a script, fills it whole at ``prices``.
Submissions can be refused synchronously (``reject_on_submit``); buys beyond the cash are
refused with 403 "insufficient buying power" as Alpaca does; ``positions`` and ``cash`` can
be changed behind the client's back (a position mismatch). One account per instance.

Runs in a thread of the test process (``with FakeAlpaca() as fake: fake.url``), so a
Celery worker process or a ``python -c`` child reaches it over loopback too. Run it alone
with ``python -m tests.portfolios.brokers.fake_alpaca --port 8765`` to try the adapter by hand.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
OPEN, CLOSE = time(9, 30), time(16, 0)
OPEN_STATES = {"new", "accepted", "partially_filled", "pending_new", "pending_cancel"}


def _num(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FakeAlpaca:
    """The fake server; see the module docstring. Thread-safe (one lock for all state)."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        secret_key: str = "test-secret",
        cash: Decimal = Decimal("100000"),
        now: datetime | None = None,
        port: int = 0,
    ) -> None:
        self.api_key, self.secret_key = api_key, secret_key
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None
        self.holidays: set[date] = set()
        self.early_closes: dict[date, time] = {}
        self.reset(cash=cash, now=now)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAlpaca:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-alpaca", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self, *, cash: Decimal = Decimal("100000"), now: datetime | None = None) -> None:
        with self._lock:
            self.cash = Decimal(cash)
            self.now = now or datetime(2024, 5, 15, 14, 0, tzinfo=UTC)  # a Wednesday, 10:00 New York
            self.prices: dict[str, Decimal] = {}
            self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (qty, avg entry)
            self.orders: dict[str, dict[str, Any]] = {}
            self.by_client: dict[str, str] = {}
            self.scripts: dict[str, list[tuple]] = defaultdict(list)
            self.reject_on_submit: dict[str, tuple[int, int, str]] = {}
            self.requests: list[tuple[str, str]] = []
            self.unavailable = False

    def set_time(self, moment: datetime) -> None:
        with self._lock:
            self.now = moment

    def script(self, symbol: str, *steps: tuple) -> None:
        """Steps applied by successive ticks to the open orders of ``symbol``."""
        with self._lock:
            self.scripts[symbol].extend(steps)

    def posts(self) -> int:
        """How many order submissions arrived (duplicates included)."""
        return sum(1 for method, path in self.requests if method == "POST" and path == "/v2/orders")

    # -- the market's calendar ----------------------------------------------------------

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def session(self, day: date) -> tuple[datetime, datetime]:
        close = self.early_closes.get(day, CLOSE)
        return (datetime.combine(day, OPEN, tzinfo=NEW_YORK), datetime.combine(day, close, tzinfo=NEW_YORK))

    def clock(self) -> dict[str, Any]:
        now = self.now.astimezone(NEW_YORK)
        day = now.date()
        is_open = False
        if self.is_trading_day(day):
            open_, close = self.session(day)
            is_open = open_ <= now < close
            next_open = open_ if now < open_ else self._next_session_open(day)
        else:
            next_open = self._next_session_open(day)
        next_close = self.session(day)[1] if is_open else self.session(next_open.date())[1]
        return {"timestamp": now.isoformat(), "is_open": is_open,
                "next_open": next_open.isoformat(), "next_close": next_close.isoformat()}

    def _next_session_open(self, day: date) -> datetime:
        day += timedelta(days=1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return self.session(day)[0]

    def calendar(self, start: date, end: date) -> list[dict[str, Any]]:
        out, day = [], start
        while day <= end:
            if self.is_trading_day(day):
                close = self.early_closes.get(day, CLOSE)
                out.append({"date": day.isoformat(), "open": OPEN.strftime("%H:%M"), "close": close.strftime("%H:%M"),
                            "session_open": "0400", "session_close": "2000",
                            "settlement_date": (day + timedelta(days=1)).isoformat()})
            day += timedelta(days=1)
        return out

    # -- account ------------------------------------------------------------------------

    def _market_value(self) -> Decimal:
        return sum((q * self.prices.get(s, avg) for s, (q, avg) in self.positions.items()), Decimal(0))

    def account(self) -> dict[str, Any]:
        equity = self.cash + self._market_value()
        return {
            "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98", "account_number": "PA3FAKE00001", "status": "ACTIVE",
            "crypto_status": "INACTIVE", "currency": "USD", "buying_power": _num(self.cash),
            "regt_buying_power": _num(self.cash), "daytrading_buying_power": "0",
            "non_marginable_buying_power": _num(self.cash), "cash": _num(self.cash), "accrued_fees": "0",
            "pending_transfer_in": "0", "portfolio_value": _num(equity), "pattern_day_trader": False,
            "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
            "created_at": "2024-01-02T15:00:00.000000Z", "trade_suspended_by_user": False, "multiplier": "1",
            "shorting_enabled": False, "equity": _num(equity), "last_equity": _num(equity),
            "long_market_value": _num(self._market_value()), "short_market_value": "0", "initial_margin": "0",
            "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0,
        }

    def position_rows(self) -> list[dict[str, Any]]:
        rows = []
        for symbol, (qty, avg) in sorted(self.positions.items()):
            if qty == 0:
                continue
            price = self.prices.get(symbol, avg)
            rows.append({
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "symbol": symbol, "exchange": "NASDAQ",
                "asset_class": "us_equity", "asset_marginable": True, "avg_entry_price": _num(avg), "qty": _num(qty),
                "side": "long", "market_value": _num(qty * price), "cost_basis": _num(qty * avg),
                "unrealized_pl": _num(qty * (price - avg)), "unrealized_plpc": "0", "unrealized_intraday_pl": "0",
                "unrealized_intraday_plpc": "0", "current_price": _num(price), "lastday_price": _num(price),
                "change_today": "0", "qty_available": _num(qty),
            })
        return rows

    # -- orders -------------------------------------------------------------------------

    def _order_json(self, order: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": order["id"], "client_order_id": order["client_order_id"],
            "created_at": _iso(order["created_at"]), "updated_at": _iso(order["updated_at"]),
            "submitted_at": _iso(order["created_at"]),
            "filled_at": _iso(order["filled_at"]) if order.get("filled_at") else None,
            "expired_at": _iso(order["expired_at"]) if order.get("expired_at") else None,
            "canceled_at": _iso(order["canceled_at"]) if order.get("canceled_at") else None,
            "failed_at": _iso(order["failed_at"]) if order.get("failed_at") else None,
            "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, order["symbol"])), "symbol": order["symbol"],
            "asset_class": "us_equity", "notional": None, "qty": _num(order["qty"]),
            "filled_qty": _num(order["filled_qty"]),
            "filled_avg_price": _num(order["filled_avg_price"]) if order["filled_qty"] else None,
            "order_class": "simple", "order_type": order["type"], "type": order["type"], "side": order["side"],
            "position_intent": "buy_to_open" if order["side"] == "buy" else "sell_to_close",
            "time_in_force": order["time_in_force"],
            "limit_price": _num(order["limit_price"]), "stop_price": None, "status": order["status"],
            "extended_hours": False, "legs": None, "trail_percent": None, "trail_price": None, "hwm": None,
            "commission": "0",
        }

    def submit(self, body: dict[str, Any]) -> tuple[int, Any]:
        cid = str(body.get("client_order_id") or uuid.uuid4())
        symbol = str(body.get("symbol", ""))
        if cid in self.by_client:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        if symbol in self.reject_on_submit:
            status, code, message = self.reject_on_submit[symbol]
            return status, {"code": code, "message": message}
        if symbol not in self.prices:
            return 422, {"code": 40010001, "message": f'asset "{symbol}" not found'}
        qty = Decimal(str(body.get("qty", "0")))
        if qty <= 0:
            return 422, {"code": 40010001, "message": "qty must be > 0"}
        side = body.get("side")
        if side == "buy" and qty * self.prices[symbol] > self.cash:
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        held = self.positions.get(symbol, (Decimal(0), Decimal(0)))[0]
        if side == "sell" and qty > held:
            return 403, {"code": 40310000, "message": f"insufficient qty available for order (requested: {qty}, available: {held})"}
        order = {
            "id": str(uuid.uuid4()), "client_order_id": cid, "symbol": symbol, "side": side, "qty": qty,
            "type": body.get("type", "market"), "time_in_force": body.get("time_in_force", "day"),
            "limit_price": Decimal(str(body["limit_price"])) if body.get("limit_price") is not None else None,
            "status": "new" if self.clock()["is_open"] else "accepted", "filled_qty": Decimal(0),
            "filled_avg_price": Decimal(0), "created_at": self.now, "updated_at": self.now,
        }
        self.orders[order["id"]] = order
        self.by_client[cid] = order["id"]
        return 200, self._order_json(order)

    def tick(self) -> None:
        """Move every open order one scripted step (or fill it whole at ``prices``)."""
        with self._lock:
            for order in list(self.orders.values()):
                if order["status"] not in OPEN_STATES:
                    continue
                script = self.scripts.get(order["symbol"])
                step = script.pop(0) if script else ("fill", None, self.prices[order["symbol"]])
                self._apply(order, step)

    def _apply(self, order: dict[str, Any], step: tuple) -> None:
        kind = step[0]
        order["updated_at"] = self.now
        if kind == "fill":
            rest = order["qty"] - order["filled_qty"]
            qty = rest if step[1] is None else min(Decimal(str(step[1])), rest)
            price = Decimal(str(step[2])) if len(step) > 2 and step[2] is not None else self.prices[order["symbol"]]
            total = order["filled_avg_price"] * order["filled_qty"] + price * qty
            order["filled_qty"] += qty
            order["filled_avg_price"] = total / order["filled_qty"]
            order["status"] = "filled" if order["filled_qty"] == order["qty"] else "partially_filled"
            if order["status"] == "filled":
                order["filled_at"] = self.now
            held, avg = self.positions.get(order["symbol"], (Decimal(0), Decimal(0)))
            if order["side"] == "buy":
                self.cash -= qty * price
                new = held + qty
                self.positions[order["symbol"]] = (new, (held * avg + qty * price) / new)
            else:
                self.cash += qty * price
                self.positions[order["symbol"]] = (held - qty, avg)
        elif kind == "reject":
            order["status"], order["failed_at"] = "rejected", self.now
        elif kind == "expire":
            order["status"], order["expired_at"] = "expired", self.now
        elif kind == "cancel":
            order["status"], order["canceled_at"] = "canceled", self.now
        else:
            raise ValueError(f"unknown script step {step!r}")

    def cancel(self, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        if order is None:
            return 404, {"code": 40410000, "message": "order not found"}
        if order["status"] not in OPEN_STATES:
            return 422, {"code": 42210000, "message": "order is not cancelable"}
        order["status"], order["canceled_at"], order["updated_at"] = "canceled", self.now, self.now
        return 204, None

    # -- routing ------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        parsed = urlparse(raw_path)
        path, query = parsed.path, {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        with self._lock:
            self.requests.append((method, path))
            if self.unavailable:
                return 503, {"code": 50010000, "message": "service unavailable"}
            if headers.get("APCA-API-KEY-ID") != self.api_key or headers.get("APCA-API-SECRET-KEY") != self.secret_key:
                return 401, {"code": 40110000, "message": "request is not authorized"}
            if path == "/v2/account" and method == "GET":
                return 200, self.account()
            if path == "/v2/clock" and method == "GET":
                return 200, self.clock()
            if path == "/v2/calendar" and method == "GET":
                today = self.now.astimezone(NEW_YORK).date()
                start = date.fromisoformat(query.get("start", today.isoformat()))
                end = date.fromisoformat(query.get("end", (today + timedelta(days=30)).isoformat()))
                return 200, self.calendar(start, end)
            if path == "/v2/positions" and method == "GET":
                return 200, self.position_rows()
            if path == "/v2/orders" and method == "POST":
                return self.submit(json.loads(body or b"{}"))
            if path == "/v2/orders" and method == "GET":
                wanted = query.get("status", "open")
                rows = [o for o in self.orders.values()
                        if wanted == "all" or (o["status"] in OPEN_STATES) == (wanted == "open")]
                return 200, [self._order_json(o) for o in rows]
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                order_id = self.by_client.get(query.get("client_order_id", ""))
                if order_id is None:
                    return 404, {"code": 40410000, "message": "order not found"}
                return 200, self._order_json(self.orders[order_id])
            if path.startswith("/v2/orders/"):
                order_id = path.rsplit("/", 1)[-1]
                if method == "DELETE":
                    return self.cancel(order_id)
                if method == "GET":
                    order = self.orders.get(order_id)
                    if order is None:
                        return 404, {"code": 40410000, "message": "order not found"}
                    return 200, self._order_json(order)
            return 404, {"code": 40410000, "message": f"no route {method} {path}"}


def _handler_for(fake: FakeAlpaca) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = fake.handle(method, self.path, self.headers, body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

    return Handler


if __name__ == "__main__":  # pragma: no cover - a manual tool
    import argparse

    parser = argparse.ArgumentParser(description="Serve the fake Alpaca API on loopback.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = FakeAlpaca(port=args.port)
    server.prices.update({"AAA": Decimal("100"), "BBB": Decimal("50")})
    print(f"fake Alpaca on {server.url} (keys test-key / test-secret); Ctrl-C to stop")
    server._server.serve_forever()
