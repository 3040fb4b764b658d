"""``docs/OBJECTIVES.md`` from the registry: ``python -m portfolios.optimization.docs``.

A test checks the committed file equals :func:`objectives_markdown`, so the docs cannot
drift from :data:`.registry.REGISTRY`.
"""

from __future__ import annotations

import sys
from dataclasses import MISSING, fields
from pathlib import Path

from .registry import CONTEXT_OPTIONS, REGISTRY


def _option_list(spec_options: type) -> str:
    parts = []
    for f in fields(spec_options):
        if f.name == "risk_aversion":
            parts.append("`risk_aversion` (the risk tier's)")
            continue
        default = "" if f.default is MISSING else f" = {f.default!r}"
        parts.append(f"`{f.name}{default}`")
    return ", ".join(parts) or "none"


def objectives_markdown() -> str:
    """The objectives table: name, what it does, its options, costs, strategy name."""
    lines = [
        "# Optimizer objectives",
        "",
        "Generated from `portfolios/optimization/registry.py` (`REGISTRY`) by",
        "`python -m portfolios.optimization.docs`; do not edit by hand.",
        "",
        "`optimize(objective=..., **options)` builds the objective's frozen options class from",
        "the keyword arguments: an unknown option is an error naming it and the closest valid",
        "one; an option of another objective is refused unless at its default. Every objective",
        f"also accepts {', '.join(f'`{c}`' for c in CONTEXT_OPTIONS)}. `risk_aversion` defaults",
        "to the risk tier's.",
        "",
        "| objective | what it builds | options (default) | transaction costs | autopilot strategy |",
        "|---|---|---|---|---|",
    ]
    for name, spec in REGISTRY.items():
        lines.append(
            f"| `{name}` | {spec.description} | {_option_list(spec.options)} | "
            f"{'charged' if spec.transaction_costs else 'refused'} | "
            f"{f'`optimizer:{name}`' if spec.strategy else '-'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/OBJECTIVES.md")
    target.write_text(objectives_markdown())
