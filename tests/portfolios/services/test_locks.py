"""``portfolio_lock`` is the portfolios app's public way to take the ledger's row lock.

Modules outside ``portfolios/services/`` (the account closure, the APIs' ``If-Match`` check,
the autopilot) import it from ``portfolios.services``; ``_locks`` stays that package's own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from portfolios.services import _locks, portfolio_lock

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("common", "users", "marketdata", "portfolios", "risk", "mlagents", "rebalancer")
SERVICES = ROOT / "portfolios" / "services"


def _imports_private_locks(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "portfolios.services._locks":
            return True
        if (isinstance(node, ast.ImportFrom) and node.module == "portfolios.services"
                and any(alias.name == "_locks" for alias in node.names)):
            return True
        if isinstance(node, ast.Import) and any(a.name == "portfolios.services._locks" for a in node.names):
            return True
    return False


def test_the_lock_is_exported_by_the_services_package():
    # then: the public name is the one the services use
    assert portfolio_lock is _locks.portfolio_lock


def test_no_module_outside_the_services_package_imports_the_private_module():
    # given every product and test module outside portfolios/services/
    paths = [p for pkg in (*PRODUCT, "tests") for p in (ROOT / pkg).rglob("*.py")
             if SERVICES not in p.parents and p != Path(__file__).resolve()]
    # when
    offenders = sorted(p.relative_to(ROOT).as_posix() for p in paths if _imports_private_locks(p))
    # then
    assert offenders == []
    assert _imports_private_locks(SERVICES / "ledger.py")  # the scan sees an import that is there


@pytest.mark.django_db
def test_the_lock_answers_the_locked_row_and_a_missing_one_is_a_404(investor):
    # given
    from common.errors import NotFound
    from portfolios.models import Portfolio

    portfolio = Portfolio.objects.create(owner=investor, name="Locked")
    # when / then
    assert portfolio_lock(portfolio=portfolio.pk).pk == portfolio.pk
    with pytest.raises(NotFound) as err:
        portfolio_lock(portfolio=portfolio.pk + 1000)
    assert err.value.field == "portfolio"
