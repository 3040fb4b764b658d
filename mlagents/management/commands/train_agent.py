"""``python manage.py train_agent --algo {ppo,primal_dual,dqn} [--episodes N] [--assets SYMBOLS]
[--start DATE --end DATE] [--test-end DATE] [--seed S]``: train on start..end, evaluate
walk-forward on the days after ``end`` against the baselines, register, maybe promote."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.errors import ApplicationError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"invalid date {value!r}; use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Train an RL agent, evaluate it on a held-out window against baselines, register it."

    def add_arguments(self, parser):
        parser.add_argument("--algo", required=True, choices=["ppo", "primal_dual", "dqn"])
        parser.add_argument("--episodes", type=int, default=None, help="Training episodes (default per algorithm).")
        parser.add_argument("--assets", default=None, help="Comma-separated symbols (default: active assets with full history).")
        parser.add_argument("--start", type=_date, default=None, help="First day of the training window.")
        parser.add_argument("--end", type=_date, default=None, help="Last training day; later days are held out (default: last quarter held out).")
        parser.add_argument("--test-end", type=_date, default=None, help="Last held-out day (default: last price).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, algo, episodes, assets, start, end, test_end, seed, **options):
        from mlagents.services import agent_train

        symbols = [s for s in assets.split(",") if s.strip()] if assets else None
        bar = tqdm(total=1000, desc=f"train {algo}", unit="‰", file=self.stderr._out)

        def progress(frac: float, stats: dict) -> None:
            bar.update(int(frac * 1000) - bar.n)
            reward = stats.get("episode_reward")
            if reward is not None:
                bar.set_postfix(reward=f"{reward:.4f}")

        try:
            model = agent_train(
                algorithm=algo, symbols=symbols, start=start, end=end, test_end=test_end,
                episodes=episodes, seed=seed, progress=progress,
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(self._table(model))
        self.stdout.write(f"{model}: {model.promotion_reason}")

    @staticmethod
    def _table(model) -> str:
        cols = ("annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio", "max_drawdown",
                "turnover", "win_rate", "profit_factor", "violation_rate")
        rows = {f"{model.algorithm} v{model.version}": model.evaluation.get("agent", {})}
        rows.update(model.evaluation.get("baselines", {}))
        fmt = lambda v: "     n/a" if v is None else f"{v:8.3f}"  # noqa: E731
        lines = [f"held-out {model.test_start} .. {model.test_end}", f"{'':18}" + "".join(f"{c[:8]:>9}" for c in cols)]
        for name, m in rows.items():
            lines.append(f"{name:18}" + "".join(" " + fmt(m.get(c)) for c in cols))
        extra = model.evaluation.get("extra", {})
        if extra:
            lines.append(f"episodes with Sharpe >= equal weight (monthly): {extra.get('success_rate', float('nan')):.1%} of {int(extra.get('episodes', 0))}")
        return "\n".join(lines)
