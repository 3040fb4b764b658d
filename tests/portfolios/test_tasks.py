"""The portfolios app's Celery tasks are thin: ids in, one selector and one service called."""

from __future__ import annotations

import pytest

from common.errors import NotFound, Unprocessable
from portfolios.tasks import reconciliations_run_task

pytestmark = pytest.mark.django_db


def test_reconciling_one_portfolio_reads_it_by_id(portfolio):
    # when / then: the paper portfolio is found, and the service refuses it (nothing to compare)
    with pytest.raises(Unprocessable) as err:
        reconciliations_run_task(portfolio_id=portfolio.pk)
    assert err.value.code == "no_broker_account"
    # and a missing id is the selector's 404, not an ORM DoesNotExist
    with pytest.raises(NotFound):
        reconciliations_run_task(portfolio_id=portfolio.pk + 1000)
