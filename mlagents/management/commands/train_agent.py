"""``python manage.py train_agent --algo {ppo,primal_dual,dqn} [--episodes N] [--assets SYMBOLS]
[--start DATE --end DATE] [--validation-end DATE] [--test-end DATE] [--seed S]``: train on
``start .. end``, select the model and run the promotion gate on the validation window
(``.. validation-end``), report it on the test window (``.. test-end``), register it.
The two windows are printed as two tables: the gate read the first one only."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.errors import ApplicationError

COLUMNS = ("annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio", "max_drawdown",
           "turnover", "win_rate", "profit_factor", "violation_rate")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"invalid date {value!r}; use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = ("Train an RL agent; select and gate it on a validation window, report it on a later test "
            "window, against baselines; register it.")

    def add_arguments(self, parser):
        parser.add_argument("--algo", required=True, choices=["ppo", "primal_dual", "dqn"])
        parser.add_argument("--episodes", type=int, default=None, help="Training episodes (default per algorithm).")
        parser.add_argument("--assets", default=None, help="Comma-separated symbols (default: active assets with full history).")
        parser.add_argument("--start", type=_date, default=None, help="First day of the training window.")
        parser.add_argument("--end", type=_date, default=None,
                            help="Last training day (default: 60 %% train, 20 %% validation, 20 %% test).")
        parser.add_argument("--validation-end", type=_date, default=None,
                            help="Last validation day (default: the days after --end halved into validation and test).")
        parser.add_argument("--test-end", type=_date, default=None, help="Last test day (default: last price).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, algo, episodes, assets, start, end, validation_end, test_end, seed, **options):
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
                algorithm=algo, symbols=symbols, start=start, end=end, validation_end=validation_end,
                test_end=test_end, episodes=episodes, seed=seed, progress=progress,
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(f"train {model.train_start} .. {model.train_end}")
        evaluation = model.evaluation or {}
        chosen = (evaluation.get("selection") or {}).get("chosen_fraction")
        if chosen is not None:
            self.stdout.write(f"model selection: the snapshot at {chosen:.0%} of training "
                              "(best validation Sharpe)")
        self.stdout.write(self._table(model, "validation", "model selection and the promotion gate"))
        self.stdout.write(self._table(model, "test", "reported only; not read by selection or the gate"))
        self.stdout.write(f"{model}: {model.promotion_reason}")

    @staticmethod
    def _table(model, window: str, purpose: str) -> str:
        section = (model.evaluation or {}).get(window) or {}
        rows = {f"{model.algorithm} v{model.version}": section.get("agent") or {}}
        rows.update(section.get("baselines") or {})
        fmt = lambda v: "     n/a" if v is None else f"{v:8.3f}"  # noqa: E731
        lines = [
            "",
            f"{window} {section.get('start')} .. {section.get('end')} ({purpose})",
            f"{'':18}" + "".join(f"{c[:8]:>9}" for c in COLUMNS),
        ]
        for name, m in rows.items():
            lines.append(f"{name:18}" + "".join(" " + fmt(m.get(c)) for c in COLUMNS))
        success = section.get("success") or {}
        if success.get("episodes"):
            lines.append(
                f"{window} episodes with Sharpe >= equal weight (monthly): "
                f"{success.get('success_rate') or 0.0:.1%} of {int(success['episodes'])}"
            )
        else:
            lines.append(f"{window} window too short for a 126-day success episode")
        return "\n".join(lines)
