"""Which broker a portfolio trades through, and its credentials (encrypted at rest).

Credentials are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, ``cryptography``) under
``BROKER_CREDENTIALS_KEYS`` (a ``MultiFernet``: the first key encrypts, every key decrypts,
so keys rotate without downtime). Outside production, with no key configured, a key is
derived from ``SECRET_KEY``; production refuses to start without one. Credentials are
write-only: no serializer or admin page ever shows more than the key id's last four
characters.

One Alpaca account serves one portfolio (the ledger is compared with the account's
positions and cash): a portfolio gives its own keys, or — one portfolio at most — uses the
environment's ``ALPACA_API_KEY`` / ``ALPACA_SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import IntegrityError, transaction

from common.errors import Conflict, Unprocessable
from portfolios.brokers import BrokerAuthError, OrderBroker
from portfolios.models import BrokerAccount, Order, Portfolio
from portfolios.services._locks import portfolio_lock

PAPER = "paper"
ALPACA = "alpaca"


@dataclass(frozen=True)
class BrokerCredentials:
    """Keys of one broker account as the investor gives them (never stored in clear)."""

    api_key: str
    secret_key: str
    environment: str = BrokerAccount.Environment.PAPER


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"broker-credentials:{secret}".encode()).digest())
        return MultiFernet([Fernet(derived)])
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def _cipher() -> MultiFernet:
    return _fernet(tuple(settings.BROKER_CREDENTIALS_KEYS), settings.SECRET_KEY)


def credential_encrypt(value: str) -> str:
    return _cipher().encrypt(value.encode()).decode()


def credential_decrypt(token: str) -> str:
    """The clear text of ``token``; :class:`BrokerAuthError` if no configured key opens it."""
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise BrokerAuthError("the stored broker credentials cannot be decrypted with BROKER_CREDENTIALS_KEYS",
                              code="credentials_undecryptable") from exc


def broker_account_keys(*, account: BrokerAccount) -> tuple[str, str]:
    """(api key, secret key) of ``account``, decrypted or from the environment."""
    if account.uses_environment_keys:
        return settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY
    return credential_decrypt(account.api_key_encrypted), credential_decrypt(account.secret_key_encrypted)


def broker_account_url(*, account: BrokerAccount) -> str:
    """The trading endpoint of ``account``: live accounts need ``ALPACA_LIVE_ENABLED``."""
    if account.environment == BrokerAccount.Environment.LIVE:
        if not settings.ALPACA_LIVE_ENABLED:
            raise BrokerAuthError("live trading is disabled (ALPACA_LIVE_ENABLED is off)", code="live_disabled")
        return settings.ALPACA_LIVE_URL
    return settings.ALPACA_BASE_URL


def order_broker_for(*, account: BrokerAccount) -> OrderBroker:
    """The adapter that speaks for ``account`` (imports the SDK only when a real broker is used)."""
    from portfolios.brokers.alpaca import AlpacaBroker

    api_key, secret_key = broker_account_keys(account=account)
    return AlpacaBroker(api_key=api_key, secret_key=secret_key, base_url=broker_account_url(account=account),
                        timeout_s=settings.ALPACA_TIMEOUT_S)


def _hint(api_key: str) -> str:
    return f"…{api_key[-4:]}" if len(api_key) > 4 else "…"


ACCOUNT_OPTIONS = ("order_type", "limit_offset_bps", "open_orders_policy")


def _credentials_of(account: Mapping[str, Any] | None) -> BrokerCredentials | None:
    if not account or not (account.get("api_key") or account.get("secret_key")):
        return None
    if not (account.get("api_key") and account.get("secret_key")):
        missing = "secret_key" if account.get("api_key") else "api_key"
        raise Unprocessable("give both api_key and secret_key", code="credentials_incomplete",
                            field=f"broker_account.{missing}")
    return BrokerCredentials(api_key=account["api_key"], secret_key=account["secret_key"],
                             environment=account.get("environment") or BrokerAccount.Environment.PAPER)


@transaction.atomic
def portfolio_broker_set(
    *, portfolio: Portfolio, broker: str | None = None, account: Mapping[str, Any] | None = None
) -> Portfolio:
    """Switch ``portfolio`` to ``broker`` (``paper`` | ``alpaca``) and/or change its broker account.

    ``account`` may carry credentials (``api_key`` and ``secret_key`` together, optional
    ``environment`` paper|live) and options (``order_type``, ``limit_offset_bps``,
    ``open_orders_policy``).

    * ``alpaca`` with credentials: they are encrypted and stored (replacing older ones);
      without: the portfolio keeps its account, or takes the environment's keys — 422
      (``broker_account``) when none are configured, 409 (``broker``) when another
      portfolio already uses them. Live accounts need ``ALPACA_LIVE_ENABLED`` (422).
    * ``paper``: the broker account (and its credentials) is deleted; ``account`` is a 422.
    * Changing broker while orders are open is a 409 (``broker``). Nothing changes on error.
    """
    locked = portfolio_lock(portfolio=portfolio)
    target = broker or locked.broker
    if target not in (PAPER, ALPACA):
        raise Unprocessable(f"unknown broker {target!r}; use paper or alpaca", code="unknown_broker", field="broker")
    if target == PAPER and account:
        raise Unprocessable("the paper broker has no broker account", code="account_not_needed",
                            field="broker_account")
    if target != locked.broker and Order.objects.filter(portfolio=locked, status__in=Order.OPEN).exists():
        raise Conflict("orders are still open at the broker; wait for them or cancel them first",
                       code="orders_open", field="broker")
    if target == ALPACA:
        row = _account_ensure(locked, _credentials_of(account))
        changed = [f for f in ACCOUNT_OPTIONS if account and f in account]
        for name in changed:
            setattr(row, name, account[name])
        if changed:
            row.save(update_fields=[*changed, "updated_at"])
    else:
        BrokerAccount.objects.filter(portfolio=locked).delete()
    if target != locked.broker:
        locked.broker = target
        locked.save(update_fields=["broker", "updated_at"])
    portfolio.broker = locked.broker
    return locked


def _account_ensure(portfolio: Portfolio, credentials: BrokerCredentials | None) -> BrokerAccount:
    account = BrokerAccount.objects.filter(portfolio=portfolio).first()
    if credentials is not None:
        if credentials.environment == BrokerAccount.Environment.LIVE and not settings.ALPACA_LIVE_ENABLED:
            raise Unprocessable("live trading is disabled on this server; connect a paper account",
                                code="live_disabled", field="broker_account.environment")
        account = account or BrokerAccount(portfolio=portfolio)
        account.uses_environment_keys = False
        account.environment = credentials.environment
        account.api_key_encrypted = credential_encrypt(credentials.api_key)
        account.secret_key_encrypted = credential_encrypt(credentials.secret_key)
        account.key_hint = _hint(credentials.api_key)
        account.account_number, account.last_error = "", ""
        account.save()
        return account
    if account is not None:
        return account
    if not (settings.ALPACA_API_KEY and settings.ALPACA_SECRET_KEY):
        raise Unprocessable("give broker_account.api_key and secret_key: this server has no Alpaca keys of its own",
                            code="credentials_required", field="broker_account")
    try:
        with transaction.atomic():
            return BrokerAccount.objects.create(
                portfolio=portfolio, uses_environment_keys=True, key_hint=_hint(settings.ALPACA_API_KEY),
            )
    except IntegrityError:
        raise Conflict("this server's Alpaca account already serves another portfolio; give your own keys",
                       code="environment_account_taken", field="broker") from None


__all__ = [
    "BrokerCredentials",
    "broker_account_keys",
    "broker_account_url",
    "credential_decrypt",
    "credential_encrypt",
    "order_broker_for",
    "portfolio_broker_set",
]
