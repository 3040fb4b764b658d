"""Alpaca (the first real broker) and the encrypted storage of broker credentials.

Every variable is read from the environment. The paper broker stays the default of every
portfolio; a portfolio whose ``broker`` is ``alpaca`` trades through the endpoint below
(Alpaca's paper trading API unless told otherwise), with its own encrypted credentials or,
for one portfolio only, the environment's ``ALPACA_API_KEY`` / ``ALPACA_SECRET_KEY``.
"""

from decimal import Decimal

from rebalancer.settings.base import env

# Keys of the "environment" account: the one portfolio that connects without credentials
# of its own uses them. Empty: such a connection is refused (422 naming broker_credentials).
ALPACA_API_KEY = env("ALPACA_API_KEY", default="")
ALPACA_SECRET_KEY = env("ALPACA_SECRET_KEY", default="")
# The trading API every paper account talks to (no /v2 suffix); a loopback URL in tests.
ALPACA_BASE_URL = env("ALPACA_BASE_URL", default="https://paper-api.alpaca.markets")
# Live accounts (real money) use this endpoint, and only while ALPACA_LIVE_ENABLED is true.
ALPACA_LIVE_URL = env("ALPACA_LIVE_URL", default="https://api.alpaca.markets")
ALPACA_LIVE_ENABLED = env.bool("ALPACA_LIVE_ENABLED", default=False)
# Market data API (reserved for an Alpaca market-data provider; the trading adapter does not use it).
ALPACA_DATA_URL = env("ALPACA_DATA_URL", default="https://data.alpaca.markets")
# Trade-update websocket; empty: derived from the trading URL (https -> wss, + /stream).
ALPACA_STREAM_URL = env("ALPACA_STREAM_URL", default="")
# Seconds before an HTTP call to Alpaca is abandoned (the SDK itself sets no timeout).
ALPACA_TIMEOUT_S = env.float("ALPACA_TIMEOUT_S", default=10.0)
# Prefix of every client_order_id ("<prefix>-d<decision>-l<leg>"): two deployments sharing
# one Alpaca account must use different prefixes.
ALPACA_CLIENT_ORDER_PREFIX = env("ALPACA_CLIENT_ORDER_PREFIX", default="rb")

# Fernet keys (urlsafe base64, 32 bytes) encrypting broker credentials at rest; the first
# encrypts, all decrypt (rotation: put the new key first, re-save, drop the old one).
# Empty outside production: a key derived from DJANGO_SECRET_KEY. Required in production.
BROKER_CREDENTIALS_KEYS = env.list("BROKER_CREDENTIALS_KEYS", default=[])

# Buys wait for the decision's sells; each buy is then capped by the cash the ledger holds
# minus what open buys may still take, at the order's price plus this buffer (market orders).
BROKER_BUY_PRICE_BUFFER_BPS = Decimal(env("BROKER_BUY_PRICE_BUFFER_BPS", default="50"))
# Reconciliation: differences up to these are rounding, not a mismatch.
BROKER_RECONCILE_CASH_TOLERANCE = Decimal(env("BROKER_RECONCILE_CASH_TOLERANCE", default="0.05"))
BROKER_RECONCILE_QUANTITY_TOLERANCE = Decimal(env("BROKER_RECONCILE_QUANTITY_TOLERANCE", default="0.000001"))
