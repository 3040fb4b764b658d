"""compile_constraints on a fixed four-symbol universe: the exact compiled form, and every
refutation's sentence in the order it is reported (characterization of issue 22's split)."""

import numpy as np
import pytest

from portfolios.optimization.constraints import Constraints, compile_constraints
from portfolios.optimization.exceptions import InfeasibleConstraints, OptimizationError

SYMBOLS = ("A", "B", "C", "D")


def test_the_compiled_form_holds_bounds_budget_and_labelled_group_rows():
    # given: shorting with a position limit, an override, an exclusion and both kinds of group
    constraints = Constraints(
        long_only=False,
        max_position=0.6,
        bounds={"A": (-0.2, 0.5)},
        excluded=["D"],
        asset_classes={"A": "eq", "B": "eq", "C": "bond"},
        asset_class_min={"bond": 0.1},
        asset_class_max={"eq": 0.8},
        sectors={"A": "tech", "C": "fin"},
        sector_max={"tech": 0.4},
        sector_min={"fin": 0.05},
        cash_buffer=0.1,
        max_turnover=1.5,
        max_holdings=3,
    )

    # when
    form = compile_constraints(constraints, SYMBOLS, current_weights=np.full(4, 0.25))

    # then
    assert form.symbols == SYMBOLS
    assert form.lower.tolist() == [-0.2, -0.6, -0.6, 0.0]
    assert form.upper.tolist() == [0.5, 0.6, 0.6, 0.0]
    assert form.budget == 0.9
    assert form.G.tolist() == [
        [0.0, 0.0, -1.0, 0.0],
        [1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, -1.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
    ]
    assert form.h.tolist() == [-0.1, 0.8, -0.05, 0.4]
    assert form.row_labels == (
        "asset class 'bond' minimum 0.1",
        "asset class 'eq' maximum 0.8",
        "sector 'fin' minimum 0.05",
        "sector 'tech' maximum 0.4",
    )


def test_no_constraints_compile_to_long_only_fully_invested_without_rows():
    # when
    form = compile_constraints(None, ["X"])

    # then
    assert (form.lower.tolist(), form.upper.tolist(), form.budget) == ([0.0], [1.0], 1.0)
    assert form.G.shape == (0, 1)
    assert form.h.tolist() == []
    assert form.row_labels == ()


@pytest.mark.parametrize(
    ("constraints", "current", "expected"),
    [
        pytest.param(
            Constraints(
                bounds={"A": (0.6, 0.5), "B": (0.2, 0.9), "Z": (0.1, 0.2)}, excluded=["B", "Y"]
            ),
            None,
            [
                "B is excluded (ESG) but its lower bound is 0.2",
                "A lower bound 0.6 is above its upper bound 0.5",
            ],
            id="bounds",
        ),
        pytest.param(
            Constraints(excluded=list(SYMBOLS)),
            None,
            [
                "every symbol in the universe is excluded",
                "upper bounds sum to 0, less than the 1 to invest",
            ],
            id="all-excluded",
        ),
        pytest.param(
            Constraints(bounds=dict.fromkeys(SYMBOLS, (0.0, 0.2))),
            None,
            ["upper bounds sum to 0.8, less than the 1 to invest"],
            id="upper-bounds",
        ),
        pytest.param(
            Constraints(
                asset_classes={"A": "eq", "B": "eq", "C": "bond"},
                asset_class_min={"eq": 0.6, "gold": 0.1},
                asset_class_max={"eq": 0.5, "bond": 0.1},
                bounds={"C": (0.2, 0.4)},
                max_position=0.4,
                cash_buffer=0.35,
                sectors={"A": "tech", "D": "oil"},
                sector_max={"tech": 0.1, "oil": 0.1},
            ),
            None,
            [
                "asset-class minimums sum to 0.7, more than the 0.65 to invest",
                "asset class 'bond' maximum 0.1 is below 0.2, the sum of its assets' lower bounds",
                "asset class 'eq' minimum 0.6 is above its maximum 0.5",
                "asset class 'gold' has minimum 0.1 but no eligible assets in the universe",
            ],
            id="groups",
        ),
        pytest.param(
            Constraints(
                sectors={"A": "tech", "B": "tech", "C": "oil"},
                sector_max={"tech": 0.3, "oil": 0.2},
                bounds={"D": (0, 0.4)},
            ),
            None,
            ["sector maximums (with position limits) allow at most 0.9, less than the 1 to invest"],
            id="group-capacity",
        ),
        pytest.param(
            Constraints(max_holdings=2, max_position=0.3, min_position=0.9, cash_buffer=0.2),
            None,
            [
                "max_holdings 2 with position limits allows at most 0.6, less than the 0.8 to invest",
                "min_position 0.9 is more than the 0.8 to invest",
                "min_position 0.9 is above max_position 0.3",
            ],
            id="positions",
        ),
        pytest.param(
            Constraints(max_turnover=0.1, bounds={"A": (0.0, 0.3)}),
            np.array([0.5, 0.3, 0.0, 0.0]),
            [
                "turnover cap 0.1 is below 0.6, the turnover needed just to meet the budget, bounds and "
                "exclusions from the current weights"
            ],
            id="turnover-budget",
        ),
        pytest.param(
            Constraints(max_holdings=1, max_turnover=0.5),
            np.array([0.5, 0.3, 0.2, 0.0]),
            [
                "turnover cap 0.5 is below 1, the turnover needed to hold at most 1 names from the current weights"
            ],
            id="turnover-holdings",
        ),
    ],
)
def test_refutations_are_reported_in_order(constraints, current, expected):
    # when
    with pytest.raises(InfeasibleConstraints) as info:
        compile_constraints(constraints, SYMBOLS, current_weights=current)

    # then
    assert info.value.conflicts == expected


@pytest.mark.parametrize(
    ("constraints", "message", "field"),
    [
        (
            Constraints(cash_buffer=1.0, max_holdings=0),
            "cash_buffer must be in [0, 1)",
            "constraints.cash_buffer",
        ),
        (
            Constraints(transaction_cost=-0.1, max_holdings=0),
            "transaction_cost must be >= 0",
            "constraints.transaction_cost",
        ),
        (
            Constraints(max_holdings=0, max_position=0.1),
            "max_holdings must be at least 1",
            "constraints.max_holdings",
        ),
    ],
)
def test_out_of_range_settings_are_errors_naming_the_field_before_any_conflict(
    constraints, message, field
):
    # when
    with pytest.raises(OptimizationError) as info:
        compile_constraints(constraints, SYMBOLS)

    # then: an error, not the conflicts (max_position 0.1 alone would refute the budget)
    assert not isinstance(info.value, InfeasibleConstraints)
    assert str(info.value) == message
    assert info.value.field == field
