"""The backup and restore runbook (docs/RELIABILITY.md), step by step, against PostgreSQL:
``pg_dump`` the database, restore it into a new one, and ``audit_ledger`` passes there with
the same ledger."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.pg import _pg_bin
from tests.integration.processes import django_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _ledger_counts(url: str) -> tuple:
    import psycopg

    with psycopg.connect(url) as conn:
        return tuple(
            conn.execute(sql).fetchone()
            for sql in (
                "SELECT count(*), coalesce(sum(cash), 0) FROM portfolios_portfolio",
                "SELECT count(*), coalesce(sum(amount), 0) FROM portfolios_cashmovement",
                "SELECT count(*) FROM users_user",
            )
        )


@pytest.mark.django_db(transaction=True)
def test_dump_restore_into_a_new_database_passes_audit_ledger(investor, tmp_path):
    # given a ledger with deposits and a withdrawal in the live database
    from django.db import connection

    from portfolios.services import cash_deposit, cash_withdraw, portfolio_create

    for name, amount in (("One", "1000.25"), ("Two", "50")):
        portfolio = portfolio_create(owner=investor, name=name)
        cash_deposit(portfolio=portfolio, amount=Decimal(amount))
    cash_withdraw(portfolio=portfolio, amount=Decimal("20"))
    db = connection.settings_dict
    server = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}"
    live = f"{server}/{db['NAME']}"
    restored_name = f"{db['NAME']}_restored"
    restored = f"{server}/{restored_name}"
    dump = tmp_path / "rebalancer.dump"
    subprocess.run([_pg_bin("dropdb"), "--if-exists", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], restored_name],
                   check=True, capture_output=True)
    # when the runbook's steps run: dump (custom format), create a new database, restore
    subprocess.run([_pg_bin("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", live], check=True, capture_output=True)
    subprocess.run([_pg_bin("createdb"), "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], restored_name],
                   check=True, capture_output=True)
    subprocess.run([_pg_bin("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump)],
                   check=True, capture_output=True)
    try:
        # then the restored database has the same ledger, and the audit passes on it
        assert _ledger_counts(restored) == _ledger_counts(live)
        assert _ledger_counts(restored)[1] == (3, Decimal("1030.2500"))
        env = django_env(DATABASE_URL=restored.replace("postgresql://", "postgres://"))
        audit = subprocess.run([sys.executable, "manage.py", "audit_ledger"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
        assert audit.returncode == 0, audit.stderr
        assert "ledger OK: 2 portfolio(s), no violations" in audit.stdout
        migrations = subprocess.run([sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=120)
        assert migrations.returncode == 0, migrations.stdout + migrations.stderr
    finally:
        connection.close()
        subprocess.run([_pg_bin("dropdb"), "--if-exists", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], restored_name],
                       capture_output=True)
