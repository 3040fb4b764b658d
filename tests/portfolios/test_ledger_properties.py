"""Property test: random deposits, withdrawals and trades never break the ledger.

Hypothesis drives sequences of operations through the services; whatever succeeds or is
refused, ``ledger_audit`` must find no violation (cash == movements + trade cash flows,
positions == open lots == buys - sells, nothing negative), and a refused operation must
leave cash and positions exactly as they were.
"""

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import ApplicationError
from portfolios.models import Position
from portfolios.services import cash_deposit, cash_withdraw, ledger_audit, trades_execute
from portfolios.trading import ProposedTrade

DAYS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
SYMBOLS = ["AAA", "BBB", "CCC", "BND"]

operation = st.one_of(
    st.tuples(st.just("deposit"), st.decimals("0.01", "5000", places=2)),
    st.tuples(st.just("withdraw"), st.decimals("0.01", "5000", places=2)),
    st.tuples(
        st.just("trade"),
        st.lists(
            st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(["buy", "sell"]), st.decimals("0.001", "60", places=3)),
            min_size=1,
            max_size=4,
        ),
        st.sampled_from(DAYS),
    ),
)


def _state(portfolio):
    portfolio.refresh_from_db()
    return portfolio.cash, sorted(Position.objects.filter(portfolio=portfolio).values_list("asset_id", "quantity"))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_random_operations_keep_every_invariant(portfolio, operations):
    for op in operations:
        before = _state(portfolio)
        try:
            if op[0] == "deposit":
                cash_deposit(portfolio=portfolio, amount=op[1])
            elif op[0] == "withdraw":
                cash_withdraw(portfolio=portfolio, amount=op[1])
            else:
                trades = [
                    ProposedTrade(symbol=s, side=side, quantity=q, est_price=D(0), est_cost=D(0), reason="random")
                    for s, side, q in op[1]
                ]
                trades_execute(portfolio=portfolio, trades=trades, as_of=op[2])
        except ApplicationError:
            assert _state(portfolio) == before  # refused: nothing changed
        assert ledger_audit(portfolio=portfolio) == []
        cash, positions = _state(portfolio)
        assert cash >= 0 and all(q >= 0 for _, q in positions)
