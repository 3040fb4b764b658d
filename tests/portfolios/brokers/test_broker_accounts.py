"""Broker accounts: credentials encrypted at rest, one environment account, switching brokers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from common.errors import Conflict, Unprocessable
from portfolios.models import BrokerAccount, Order
from portfolios.services.broker_accounts import (
    broker_account_keys,
    credential_decrypt,
    credential_encrypt,
    portfolio_broker_set,
)

D = Decimal


def test_credentials_are_stored_encrypted_and_decrypt_back(portfolio, settings):
    settings.BROKER_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    portfolio_broker_set(portfolio=portfolio, broker="alpaca",
                         account={"api_key": "PKTESTKEY1234", "secret_key": "s3cr3t-value"})
    account = BrokerAccount.objects.get(portfolio=portfolio)
    assert "PKTESTKEY1234" not in account.api_key_encrypted and "s3cr3t" not in account.secret_key_encrypted
    assert broker_account_keys(account=account) == ("PKTESTKEY1234", "s3cr3t-value")
    assert (account.key_hint, account.uses_environment_keys) == ("…1234", False)


def test_keys_rotate_the_new_key_encrypts_and_the_old_still_decrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.BROKER_CREDENTIALS_KEYS = [old]
    token = credential_encrypt("abc")
    settings.BROKER_CREDENTIALS_KEYS = [new, old]
    assert credential_decrypt(token) == "abc"
    assert Fernet(new.encode()).decrypt(credential_encrypt("xyz").encode()) == b"xyz"


def test_only_one_portfolio_may_use_the_environments_keys(portfolio, owner, settings):
    from portfolios.services import portfolio_create

    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "env-key-9999", "env-secret"
    portfolio_broker_set(portfolio=portfolio, broker="alpaca")
    second = portfolio_create(owner=owner, name="Second")
    with pytest.raises(Conflict) as caught:
        portfolio_broker_set(portfolio=second, broker="alpaca")
    assert (caught.value.code, caught.value.field) == ("environment_account_taken", "broker")
    second.refresh_from_db()
    assert second.broker == "paper"


def test_without_keys_anywhere_connecting_is_a_422_naming_the_account(portfolio, settings):
    settings.ALPACA_API_KEY = ""
    with pytest.raises(Unprocessable) as caught:
        portfolio_broker_set(portfolio=portfolio, broker="alpaca")
    assert caught.value.field == "broker_account"
    with pytest.raises(Unprocessable) as caught:
        portfolio_broker_set(portfolio=portfolio, broker="alpaca", account={"api_key": "only-the-key"})
    assert caught.value.field == "broker_account.secret_key"
    portfolio.refresh_from_db()
    assert (portfolio.broker, BrokerAccount.objects.count()) == ("paper", 0)


def test_live_accounts_need_the_server_to_enable_live_trading(portfolio, settings):
    settings.ALPACA_LIVE_ENABLED = False
    with pytest.raises(Unprocessable) as caught:
        portfolio_broker_set(portfolio=portfolio, broker="alpaca",
                             account={"api_key": "k-1234", "secret_key": "s", "environment": "live"})
    assert caught.value.field == "broker_account.environment"


def test_switching_broker_with_open_orders_is_a_conflict(alpaca_portfolio, place):
    place(alpaca_portfolio, ("AAA", "buy", "1", "100"))
    with pytest.raises(Conflict) as caught:
        portfolio_broker_set(portfolio=alpaca_portfolio, broker="paper")
    assert caught.value.field == "broker"
    alpaca_portfolio.refresh_from_db()
    assert alpaca_portfolio.broker == "alpaca"


def test_back_to_paper_deletes_the_account_and_its_keys(alpaca_portfolio):
    portfolio_broker_set(portfolio=alpaca_portfolio, broker="paper")
    alpaca_portfolio.refresh_from_db()
    assert (alpaca_portfolio.broker, BrokerAccount.objects.count(), Order.objects.count()) == ("paper", 0, 0)


def test_production_refuses_to_start_without_credential_keys():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "DJANGO_ENV": "production", "DJANGO_ALLOWED_HOSTS": "example.com",
           "DJANGO_SECRET_KEY": "k" * 20 + "Zq8#vX2!mN4$pL6&rT9*wY1@bC3%dF5^", "DJANGO_SETTINGS_MODULE": ""}
    env.pop("BROKER_CREDENTIALS_KEYS", None)
    env.pop("DJANGO_SETTINGS_MODULE")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "BROKER_CREDENTIALS_KEYS must be set in production" in result.stderr
