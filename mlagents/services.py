"""Services of the agent registry: train, select, gate, register, retrain.

``agent_train`` is the one path every trainer takes (the ``train_agent`` command, the
weekly Celery retrain, the demo). It loads a return panel from market data and splits it
into three successive windows (:class:`mlagents.rl.evaluation.Split`):

* **train** — the agent learns on it;
* **validation** — model selection (the best training snapshot,
  :mod:`mlagents.rl.selection`) and the promotion gate (against the baselines and the
  active model) read this window and nothing later;
* **test** — the kept model and the baselines are evaluated on it and the figures stored
  and printed, *never* read by selection or by the gate (a test poisons the test prices
  and checks that the gate's decision does not move).

It stores the artifact and both evaluations, and promotes the model only if the gate
says so (the reason is stored either way).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from common.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from mlagents.models import AgentHistory, AgentModel, AgentStatus, Algorithm
from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.evaluation import (
    PromotionDecision,
    Split,
    evaluate_window,
    promotion_decision,
    validation_sharpe,
    window_success_rate,
)
from mlagents.rl.inference import Agent
from mlagents.rl.ppo import PPOAgent
from mlagents.rl.selection import Selection, train_selected
from mlagents.rl.sizing import DEFAULT_ENV, DEFAULT_EPISODES, engine_build

ALGORITHMS = tuple(Algorithm.values)
DEFAULT_ALGORITHMS = ("ppo", "primal_dual")
"""Algorithms the weekly retrain trains when told none: the default menu's (DQN is trained
only when asked for: ``train_agent --algo dqn``; see ``mlagents.strategies``)."""
HISTORY_EPISODES = 4
"""Episodes of the trained policy sampled into rl_agent_history."""
MIN_WINDOW_DAYS = 63
"""Fewest days of returns in the validation and in the test window (a quarter)."""
DEFAULT_SPLIT = (0.6, 0.2, 0.2)
"""Shares of the days for train, validation and test when no dates are given."""

Progress = Callable[[float, dict], None]


@dataclass(frozen=True)
class TrainingPanel:
    returns: pd.DataFrame
    """Daily simple returns, dates x symbols: training, then validation, then test days."""
    train_days: int
    """Rows of ``returns`` in the training window."""
    validation_days: int
    """Rows of ``returns`` in the validation window (the rest is the test window)."""
    asset_classes: list[str]
    regimes: np.ndarray | None = None
    """``(days, len(REGIME_LABELS))`` causal regime probabilities, when the detector has
    a call for every day of the panel; otherwise the agents train without them."""

    @property
    def split(self) -> Split:
        return Split(self.train_days, self.train_days + self.validation_days, len(self.returns))

    def window_dates(self, name: str) -> tuple[dt.date, dt.date] | tuple[None, None]:
        """First and last date of ``"train"``, ``"validation"`` or ``"test"``."""
        split = self.split
        first, end = (0, split.train_end) if name == "train" else split.window(name)
        if end <= first:
            return None, None
        return self.returns.index[first].date(), self.returns.index[end - 1].date()


REGIME_LABELS = ("bull", "bear", "sideways")


def _regime_panel(index: pd.DatetimeIndex) -> np.ndarray | None:
    """Regime probabilities of the default reference market for every day of ``index``."""
    from mlagents.regime.models import MarketRegime

    rows = dict(
        MarketRegime.objects.filter(
            market__name="default", date__gte=index[0].date(), date__lte=index[-1].date()
        ).values_list("date", "probabilities")
    )
    if any(d.date() not in rows for d in index):
        return None
    return np.array([[float(rows[d.date()].get(k, 0.0)) for k in REGIME_LABELS] for d in index])


def _universe_resolve(symbols: Sequence[str] | None) -> list[str]:
    from marketdata.models import Asset

    if symbols:
        return list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
    return list(
        Asset.objects.filter(is_active=True).exclude(asset_class="cash").order_by("symbol").values_list("symbol", flat=True)
    )


def training_panel_get(
    *,
    symbols: Sequence[str] | None,
    start: dt.date | None,
    end: dt.date | None,
    validation_end: dt.date | None = None,
    test_end: dt.date | None,
    env_config: EnvConfig,
    use_regimes: bool = True,
    require_test: bool = True,
) -> TrainingPanel:
    """Returns of the universe over ``start .. test_end``, split into train (``.. end``),
    validation (``.. validation_end``) and test (the rest).

    Without ``symbols``: the active assets with a full price history over the window
    (others are dropped). With ``symbols``: each must have one (422 naming them).
    Without ``end``: 60 % train, 20 % validation, 20 % test; with ``end`` but no
    ``validation_end``: the days after ``end`` are halved into validation and test.
    ``require_test=False`` (the promotion gate's re-evaluations, which load prices only
    up to the validation end) accepts a panel with no test days.
    """
    from marketdata.models import Asset

    universe = _universe_resolve(symbols)
    if len(universe) < 2:
        raise Unprocessable("an agent needs at least two assets with prices", field="assets")
    _window_dates_check(
        start=start, end=end, validation_end=validation_end, test_end=test_end, require_test=require_test
    )
    returns = _full_history_returns(universe, explicit=bool(symbols), start=start, test_end=test_end)
    train_days, validation_days = _window_days(
        returns.index, end=end, validation_end=validation_end, require_test=require_test
    )
    _window_lengths_check(
        train_days, validation_days, len(returns) - train_days - validation_days, env_config=env_config,
        validation_end=validation_end, test_end=test_end, require_test=require_test,
    )
    universe = list(returns.columns)
    classes = dict(Asset.objects.filter(symbol__in=universe).values_list("symbol", "asset_class"))
    regimes = _regime_panel(returns.index) if use_regimes else None
    return TrainingPanel(returns, train_days, validation_days, [classes.get(s, "equity") for s in universe], regimes)


def _window_dates_check(
    *, start: dt.date | None, end: dt.date | None, validation_end: dt.date | None, test_end: dt.date | None,
    require_test: bool,
) -> None:
    """The given window ends follow each other (400 naming the first out of order)."""
    if start and end and end <= start:
        raise ValidationFailed("end must be after start", field="end")
    if validation_end and not end:
        raise ValidationFailed("validation_end needs end (the last training day)", field="validation_end")
    if end and validation_end and validation_end <= end:
        raise ValidationFailed("validation_end must be after end", field="validation_end")
    last_fixed = validation_end or end
    if last_fixed and test_end and (test_end < last_fixed or (test_end == last_fixed and require_test)):
        field = "validation_end" if validation_end else "end"
        raise ValidationFailed(f"test_end must be after {field}", field="test_end")


def _full_history_returns(
    universe: list[str], *, explicit: bool, start: dt.date | None, test_end: dt.date | None
) -> pd.DataFrame:
    """Daily simple returns of the assets of ``universe`` priced on every day of the
    window; an explicit universe must have no gaps, an implicit one drops the gapped."""
    from marketdata.selectors import price_panel_get

    prices = price_panel_get(symbols=universe, start=start, end=test_end, how="outer", error_field="assets")
    gaps = [s for s in universe if prices[s].isna().any()]
    if gaps and explicit:
        raise Unprocessable(
            f"assets without a full price history over the window: {', '.join(gaps)}", field="assets"
        )
    universe = [s for s in universe if s not in gaps]
    if len(universe) < 2:
        raise Unprocessable("fewer than two assets have a full history over the window", field="assets")
    return (prices[universe] / prices[universe].shift(1) - 1.0).iloc[1:]


def _window_days(
    index: pd.DatetimeIndex, *, end: dt.date | None, validation_end: dt.date | None, require_test: bool
) -> tuple[int, int]:
    """Days of returns in the training and the validation window (the rest: test)."""
    days = len(index)
    if end is None:
        return int(days * DEFAULT_SPLIT[0]), int(days * DEFAULT_SPLIT[1])
    train_days = int((index <= pd.Timestamp(end)).sum())
    if validation_end is None:
        return train_days, ((days - train_days + 1) // 2 if require_test else days - train_days)
    return train_days, int((index <= pd.Timestamp(validation_end)).sum()) - train_days


def _window_lengths_check(
    train_days: int, validation_days: int, test_days: int, *, env_config: EnvConfig,
    validation_end: dt.date | None, test_end: dt.date | None, require_test: bool,
) -> None:
    """Each window is long enough: training for one episode, the others a quarter
    (422 naming the date to move)."""
    c = env_config
    need = max(c.window, c.vol_window) + c.episode_length * c.decision_interval + 2
    if train_days < need:
        raise Unprocessable(
            f"the training window has {train_days} days of returns; at least {need} are needed",
            field="start",
        )
    if validation_days < MIN_WINDOW_DAYS:
        raise Unprocessable(
            f"the validation window has {validation_days} days; at least {MIN_WINDOW_DAYS} are needed",
            field="validation_end" if validation_end else "end",
        )
    if require_test and test_days < MIN_WINDOW_DAYS:
        raise Unprocessable(
            f"the test window has {test_days} days; at least {MIN_WINDOW_DAYS} are needed",
            field="test_end" if test_end else "end",
        )


def agent_engine_build(
    *, algorithm: str, n_assets: int, obs_dim: int, env_config: EnvConfig, episodes: int, seed: int,
    asset_classes: list[str], overrides: dict | None = None,
) -> tuple[Agent, int]:
    """A fresh, untrained engine agent sized as production training sizes it for
    ``episodes`` training episodes, and the number of envs to train it with (no database
    access; also used by backtests' walk-forward retraining): :func:`mlagents.rl.sizing.engine_build`."""
    try:
        return engine_build(
            algorithm=algorithm, n_assets=n_assets, obs_dim=obs_dim, env_config=env_config, episodes=episodes,
            seed=seed, asset_classes=asset_classes, overrides=overrides,
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="algo") from None


def _policy(agent: Agent):
    return lambda obs, _env: agent.act(obs.float())


def _clean(value):
    """JSON-safe floats (NaN/inf -> None)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _history_sample(
    model: AgentModel, agent: Agent, returns: np.ndarray, env_config: EnvConfig, seed: int,
    regimes: np.ndarray | None,
) -> int:
    """Roll the trained policy over a few training episodes into rl_agent_history."""
    env = VecPortfolioEnv(returns, env_config, num_envs=HISTORY_EPISODES, seed=seed, regimes=regimes)
    obs = env.reset()
    rows = []
    with torch.no_grad():
        for step in range(env_config.episode_length):
            action = agent.act(obs.float())
            next_obs, reward, _, _ = env.step(action)
            for e in range(HISTORY_EPISODES):
                rows.append(
                    AgentHistory(
                        agent=model, episode=e, step=step,
                        state=[round(float(x), 6) for x in obs[e]],
                        action=[round(float(x), 6) for x in action[e]],
                        reward=float(reward[e]),
                        next_state=[round(float(x), 6) for x in next_obs[e]],
                    )
                )
            obs = next_obs
    AgentHistory.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _version_next(algorithm: str) -> int:
    return (AgentModel.objects.filter(algorithm=algorithm).aggregate(v=Max("version"))["v"] or 0) + 1


def gate_inputs(evaluation: dict | None) -> tuple[dict | None, dict]:
    """The (agent metrics, baseline metrics) a stored evaluation gives the promotion gate:
    its validation window's; for a model stored before the validation window existed, its
    one held-out window's."""
    evaluation = evaluation or {}
    section = evaluation.get("validation") if "validation" in evaluation else evaluation
    section = section or {}
    return section.get("agent"), section.get("baselines") or {}


def _incumbent_metrics(
    incumbent: AgentModel | None, panel: TrainingPanel, universe: list[str]
) -> dict | None:
    """The active model's metrics on the candidate's *validation* window when it can run
    on this universe; otherwise its own stored validation metrics. Never the test window."""
    if incumbent is None:
        return None
    uses_regimes = bool((incumbent.hyperparameters or {}).get("regime_labels"))
    if (
        list(incumbent.universe) == universe
        and incumbent.artifact
        and (not uses_regimes or panel.regimes is not None)
    ):
        from mlagents.selectors import agent_engine_get

        engine = agent_engine_get(agent=incumbent)
        table = evaluate_window(
            panel.returns.to_numpy(), panel.split, "validation",
            agents={"incumbent": (_policy(engine), engine.env_config)}, include_baselines=False,
            regimes=panel.regimes if uses_regimes else None,
        )
        return table["incumbent"]
    return gate_inputs(incumbent.evaluation)[0]


def _window_report(
    returns: np.ndarray, panel: TrainingPanel, window: str, agent: Agent, env_config: EnvConfig,
) -> dict:
    """Metrics of ``agent`` and the baselines on one window, with the success rate."""
    split = panel.split
    table = evaluate_window(
        returns, split, window, agents={"agent": (_policy(agent), env_config)}, regimes=panel.regimes
    )
    first, last = panel.window_dates(window)
    return {
        "start": first.isoformat(), "end": last.isoformat(),
        "agent": table.pop("agent"), "baselines": table,
        "success": window_success_rate(returns, _policy(agent), env_config, split, window, regimes=panel.regimes),
    }


def agent_train(
    *,
    algorithm: str,
    symbols: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    validation_end: dt.date | None = None,
    test_end: dt.date | None = None,
    episodes: int | None = None,
    seed: int = 0,
    env_config: EnvConfig | None = None,
    hyperparameters: dict | None = None,
    progress: Progress | None = None,
) -> AgentModel:
    """Train on ``start .. end``, select and gate on ``.. validation_end``, report on
    ``.. test_end``; register the model and promote it only if the gate passes it.

    See :func:`training_panel_get` for the defaults of the windows. Deterministic for a
    given seed. The test window's prices reach nothing but the stored test report: the
    snapshots are scored and the gate decides on ``returns[:validation_end]``.
    """
    if algorithm not in ALGORITHMS:
        raise ValidationFailed(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}", field="algo")
    if episodes is not None and episodes < 1:
        raise ValidationFailed("episodes must be a positive number", field="episodes")
    env_config = env_config or DEFAULT_ENV
    data = _TrainingData.of(
        training_panel_get(
            symbols=symbols, start=start, end=end, validation_end=validation_end, test_end=test_end,
            env_config=env_config,
        )
    )
    episodes = episodes or DEFAULT_EPISODES[algorithm]
    agent, num_envs = _engine_prepare(
        algorithm, data, env_config, episodes=episodes, seed=seed, hyperparameters=hyperparameters
    )
    model = _model_register(algorithm, agent, data.panel, env_config, episodes=episodes, seed=seed)
    trained = _agent_fit(model, agent, data, env_config, num_envs=num_envs, seed=seed, progress=progress)
    model, decision = _model_complete(model, trained, data, env_config, seed=seed)
    if progress:
        progress(1.0, {"promoted": decision.promote})
    return model


@dataclass(frozen=True)
class _TrainingData:
    """A training panel's returns as arrays, cut to what each step may read."""

    panel: TrainingPanel
    universe: list[str]
    returns: np.ndarray
    """Every window's returns: only the test report reads past the validation window."""
    seen: np.ndarray
    """What selection and the gate may read: the rows up to the validation window's end."""
    seen_regimes: np.ndarray | None
    train_returns: np.ndarray
    train_regimes: np.ndarray | None

    @classmethod
    def of(cls, panel: TrainingPanel) -> _TrainingData:
        split, returns, regimes = panel.split, panel.returns.to_numpy(), panel.regimes
        return cls(
            panel, list(panel.returns.columns), returns,
            returns[: split.validation_end], None if regimes is None else regimes[: split.validation_end],
            returns[: split.train_end], None if regimes is None else regimes[: split.train_end],
        )


@dataclass(frozen=True)
class _Trained:
    """The kept snapshot of a training run, its wall time and its two window reports."""

    selection: Selection
    seconds: float
    validation: dict
    test: dict


def _engine_prepare(
    algorithm: str, data: _TrainingData, env_config: EnvConfig, *, episodes: int, seed: int,
    hyperparameters: dict | None,
) -> tuple[Agent, int]:
    """The seeded, untrained engine agent for the panel's universe, and its envs."""
    torch.manual_seed(seed)
    probe = VecPortfolioEnv(data.train_returns, env_config, regimes=data.train_regimes)
    agent, num_envs = agent_engine_build(
        algorithm=algorithm, n_assets=len(data.universe), obs_dim=probe.obs_dim, env_config=env_config,
        episodes=episodes, seed=seed, asset_classes=data.panel.asset_classes, overrides=hyperparameters,
    )
    agent.meta = {"symbols": data.universe, "asset_classes": data.panel.asset_classes}
    return agent, num_envs


def _model_register(
    algorithm: str, agent: Agent, panel: TrainingPanel, env_config: EnvConfig, *, episodes: int, seed: int
) -> AgentModel:
    """The registry's row of a model about to train: its next version, universe,
    hyperparameters and windows (status candidate, progress 0)."""
    (train_first, train_last), (val_first, val_last) = panel.window_dates("train"), panel.window_dates("validation")
    test_first, test_last = panel.window_dates("test")
    with transaction.atomic():
        return AgentModel.objects.create(
            algorithm=algorithm,
            version=_version_next(algorithm),
            universe=list(panel.returns.columns),
            asset_classes=panel.asset_classes,
            hyperparameters={
                **asdict(agent.config),
                "episodes": episodes,
                "regime_labels": list(REGIME_LABELS) if panel.regimes is not None else [],
            },
            env_config=env_config.to_dict(),
            seed=seed,
            train_start=train_first, train_end=train_last,
            validation_start=val_first, validation_end=val_last,
            test_start=test_first, test_end=test_last,
        )


def _training_progress(model: AgentModel, progress: Progress | None) -> Progress:
    """Training's progress callback: 90 % of the bar is training, evaluation takes the
    rest; the model's stored ``progress`` moves in steps of at least 5 %."""
    last_saved = [0.0]

    def on_progress(frac: float, stats: dict) -> None:
        if frac - last_saved[0] >= 0.05 or frac >= 1.0:
            last_saved[0] = frac
            AgentModel.objects.filter(pk=model.pk).update(progress=round(0.9 * frac, 4))
        if progress:
            progress(0.9 * frac, stats)

    return on_progress


def _agent_fit(
    model: AgentModel, agent: Agent, data: _TrainingData, env_config: EnvConfig, *, num_envs: int, seed: int,
    progress: Progress | None,
) -> _Trained:
    """Train ``agent``, keep its best snapshot on validation, report it on validation
    (progress 0.95) and on test (0.98)."""
    started = time.perf_counter()
    env = VecPortfolioEnv(data.train_returns, env_config, num_envs=num_envs, seed=seed, regimes=data.train_regimes)
    options = {}
    if isinstance(agent, PPOAgent):
        options["checkpoint_dir"] = Path(settings.MEDIA_ROOT) / "agents" / "checkpoints" / f"ppo_v{model.version}"
    split = data.panel.split
    selection = train_selected(
        agent, env, progress=_training_progress(model, progress), **options,
        score=lambda a: validation_sharpe(data.seen, _policy(a), env_config, split, regimes=data.seen_regimes),
    )
    seconds = time.perf_counter() - started
    kept = selection.agent
    validation = _window_report(data.seen, data.panel, "validation", kept, env_config)
    if progress:
        progress(0.95, {"sharpe_ratio": validation["agent"]["sharpe_ratio"]})
    test = _window_report(data.returns, data.panel, "test", kept, env_config)
    if progress:
        progress(0.98, {"sharpe_ratio": test["agent"]["sharpe_ratio"]})
    return _Trained(selection, seconds, validation, test)


def _model_complete(
    model: AgentModel, trained: _Trained, data: _TrainingData, env_config: EnvConfig, *, seed: int
) -> tuple[AgentModel, PromotionDecision]:
    """Store the kept agent's artifact, evaluation and history sample on ``model`` and
    promote it (retiring the incumbent) if the gate passes it on validation."""
    agent = trained.selection.agent
    buffer = io.BytesIO()
    agent.save(buffer)
    with transaction.atomic():
        model = AgentModel.objects.select_for_update().get(pk=model.pk)
        incumbent = (
            AgentModel.objects.select_for_update()
            .filter(algorithm=model.algorithm, status=AgentStatus.ACTIVE)
            .exclude(pk=model.pk)
            .first()
        )
        # the gate reads the validation window only (``test`` is not an input)
        decision = promotion_decision(
            trained.validation["agent"], trained.validation["baselines"],
            _incumbent_metrics(incumbent, data.panel, data.universe),
        )
        model.artifact.save(f"{model.algorithm}_v{model.version}.pt", ContentFile(buffer.getvalue()), save=False)
        model.evaluation = _evaluation_record(trained)
        model.sharpe_ratio = _clean(trained.validation["agent"]["sharpe_ratio"])
        model.test_sharpe_ratio = _clean(trained.test["agent"]["sharpe_ratio"])
        model.promotion_reason = decision.reason
        model.training_seconds = trained.seconds
        model.progress = 1.0
        now = timezone.now()
        if decision.promote:
            if incumbent is not None:
                _retire(incumbent, now)
            model.status, model.activated_at = AgentStatus.ACTIVE, now
        model.save()
        _history_sample(model, agent, data.train_returns, env_config, seed, data.train_regimes)
    return model, decision


def _evaluation_record(trained: _Trained) -> dict:
    """The stored evaluation: both windows' reports, the selection and the last
    training statistics (PPO: approx_kl, clip_fraction...; primal-dual: violation rate
    and mean residual per constraint, ρ, λ; DQN: ε, loss), JSON-safe."""
    history = trained.selection.history
    return _clean(
        {
            "validation": trained.validation,
            "test": trained.test,
            "selection": trained.selection.to_dict(),
            "training": {k: float(v) for k, v in (history[-1] if history else {}).items()},
        }
    )


def _retire(agent: AgentModel, now: dt.datetime) -> None:
    """Take ``agent`` out of service as of ``now`` (saved; the caller holds its lock)."""
    agent.status, agent.retired_at = AgentStatus.RETIRED, now
    agent.save(update_fields=["status", "retired_at"])


def agent_retire(*, agent: AgentModel) -> AgentModel:
    """Take an agent out of service (the autopilot then reports no active agent)."""
    with transaction.atomic():
        agent = AgentModel.objects.select_for_update().get(pk=agent.pk)
        if agent.status != AgentStatus.RETIRED:
            _retire(agent, timezone.now())
    return agent


def agents_retrain(
    *,
    algorithms: Sequence[str] | None = None,
    years: int = 6,
    holdout_days: int = 504,
    symbols: Sequence[str] | None = None,
    seed: int = 0,
    episodes: int | None = None,
) -> list[AgentModel]:
    """The weekly retrain: each algorithm on the last ``years`` of data; the final
    ``holdout_days`` are held out, the first half as the validation window (selection and
    the gate), the second as the test window (reported). Returns the new models (promoted
    or not). ``algorithms`` defaults to the default menu (:data:`DEFAULT_ALGORITHMS`)."""
    from marketdata.models import PriceBar

    last = PriceBar.objects.aggregate(d=Max("date"))["d"]
    if last is None:
        raise Unprocessable("no prices to train on; load market data first", field="symbols")
    start = last - dt.timedelta(days=365 * years)
    end = last - dt.timedelta(days=int(holdout_days * 365 / 252))
    validation_end = last - dt.timedelta(days=int(holdout_days / 2 * 365 / 252))
    return [
        agent_train(algorithm=a, symbols=symbols, start=start, end=end, validation_end=validation_end,
                    seed=seed, episodes=episodes)
        for a in (algorithms or DEFAULT_ALGORITHMS)
    ]


@dataclass(frozen=True)
class ExecutionFit:
    decisions: int
    executed: int
    loss: float | None


def agent_execution_fit(*, agent: AgentModel, epochs: int = 200) -> ExecutionFit:
    """Teach the primal-dual agent's critic-y who executes its recommendations.

    Reads the advise-mode decisions proposed by ``agent:primal_dual`` that the investor
    approved (or that were executed) or rejected, rebuilds the observation of each as of
    its date, fits critic-y on (observation, recommendation, executed?) and stores the
    updated artifact in place. Other statuses (proposed, expired, ...) carry no signal.
    """
    from marketdata.selectors import return_panel_get
    from mlagents.rl.inference import build_observation
    from mlagents.selectors import agent_engine_get
    from portfolios.models import Decision

    if agent.algorithm != Algorithm.PRIMAL_DUAL:
        raise ValidationFailed("only the primal-dual agent models investor execution", field="algorithm")
    engine = agent_engine_get(agent=agent)
    universe = list(agent.universe)
    labelled = {Decision.Status.APPROVED: 1.0, Decision.Status.EXECUTED: 1.0, Decision.Status.REJECTED: 0.0}
    decisions = list(
        Decision.objects.filter(strategy="agent:primal_dual", mode=Decision.Mode.ADVISE, status__in=list(labelled))
        .order_by("as_of", "id")
    )
    if not decisions:
        return ExecutionFit(0, 0, None)
    returns = return_panel_get(symbols=universe, end=max(d.as_of for d in decisions), error_field="universe")
    obs, actions, current, executed = [], [], [], []
    for d in decisions:
        history = returns.loc[: pd.Timestamp(d.as_of)].to_numpy()
        w = np.array([float(d.current_weights.get(s, 0.0)) for s in universe])
        a = np.array([float(d.target_weights.get(s, 0.0)) for s in universe])
        w, a = np.append(w, max(0.0, 1 - w.sum())), np.append(a, max(0.0, 1 - a.sum()))
        try:
            regime = _regime_row(agent, d.as_of)
            obs.append(build_observation(history, w / w.sum(), engine.env_config, regimes=regime)[0])
        except ValueError:
            continue  # too little history, or no regime call, before this decision
        actions.append(torch.as_tensor(a / a.sum(), dtype=torch.float32))
        current.append(torch.as_tensor(w / w.sum(), dtype=torch.float32))
        executed.append(labelled[d.status])
    if not obs:
        return ExecutionFit(0, 0, None)
    loss = engine.fit_execution(
        torch.stack(obs), torch.stack(actions), torch.stack(current), torch.tensor(executed), epochs=epochs
    )
    buffer = io.BytesIO()
    engine.save(buffer)
    with transaction.atomic():
        locked = AgentModel.objects.select_for_update().get(pk=agent.pk)
        locked.artifact.save(f"{agent.algorithm}_v{agent.version}_y.pt", ContentFile(buffer.getvalue()), save=True)
    return ExecutionFit(len(obs), int(sum(executed)), loss)


def _regime_row(agent: AgentModel, as_of: dt.date) -> np.ndarray | None:
    """The regime probabilities an agent trained with regimes needs on ``as_of``
    (``ValueError`` when the detector has no call for that day)."""
    labels = (agent.hyperparameters or {}).get("regime_labels") or []
    if not labels:
        return None
    from mlagents.regime.models import MarketRegime

    row = MarketRegime.objects.filter(market__name="default", date=as_of).values_list("probabilities", flat=True).first()
    if row is None:
        raise ValueError(f"no regime call on {as_of}")
    return np.array([float(row.get(k, 0.0)) for k in labels])


# --- operator promotion and roll-back, through the same gate as training ---------------


@dataclass(frozen=True)
class GateOutcome:
    """What the promotion gate decided for an operator's request, and the models it moved."""

    agent: AgentModel
    promoted: bool
    reason: str
    retired: AgentModel | None = None


def _gate_incumbent_metrics(candidate: AgentModel, incumbent: AgentModel | None) -> dict | None:
    """The incumbent's metrics on the candidate's validation window when the data and its
    artifact allow it (as at training time; prices are loaded only up to the validation
    window's end); otherwise its own stored validation metrics."""
    if incumbent is None:
        return None
    if candidate.validation_end is None:  # stored before validation windows: no re-evaluation
        return gate_inputs(incumbent.evaluation)[0]
    try:
        panel = training_panel_get(
            symbols=list(candidate.universe), start=candidate.train_start, end=candidate.train_end,
            validation_end=candidate.validation_end, test_end=candidate.validation_end,
            env_config=EnvConfig.from_dict(candidate.env_config or {}), require_test=False,
        )
    except (Unprocessable, ValidationFailed, NotFound, KeyError, TypeError):
        return gate_inputs(incumbent.evaluation)[0]
    return _incumbent_metrics(incumbent, panel, list(panel.returns.columns))


def agent_promote(*, agent: AgentModel | int) -> GateOutcome:
    """Promote a candidate only if the promotion gate passes it now: its validation Sharpe
    at least every baseline's and above the active model's (on the same validation window). Refused → 409 with the gate's
    reason (nothing changes). The reason is stored on the candidate either way."""
    pk = agent if isinstance(agent, int) else agent.pk
    with transaction.atomic():
        model = AgentModel.objects.select_for_update().filter(pk=pk).first()
        if model is None:
            raise NotFound(f"agent {pk} does not exist", field="agent")
        if model.status != AgentStatus.CANDIDATE:
            raise Conflict(f"agent {model} is {model.status}; only candidates can be promoted",
                           code="agent_not_candidate", field="agent")
        candidate, baselines = gate_inputs(model.evaluation)
        if not model.artifact or candidate is None:
            raise Conflict(f"agent {model} has no trained artifact and validation evaluation",
                           code="agent_not_evaluated", field="agent")
        incumbent = (
            AgentModel.objects.select_for_update()
            .filter(algorithm=model.algorithm, status=AgentStatus.ACTIVE).first()
        )
        decision = promotion_decision(candidate, baselines, _gate_incumbent_metrics(model, incumbent))
        if not decision.promote:
            AgentModel.objects.filter(pk=model.pk).update(promotion_reason=decision.reason)
        else:
            now = timezone.now()
            if incumbent is not None:
                _retire(incumbent, now)
            model.status, model.activated_at, model.promotion_reason = AgentStatus.ACTIVE, now, decision.reason
            model.save(update_fields=["status", "activated_at", "promotion_reason"])
    if not decision.promote:
        raise Conflict(f"the promotion gate refused {model}: {decision.reason}",
                       code="promotion_refused", field="agent")
    return GateOutcome(model, True, decision.reason, incumbent)


def agent_rollback(*, algorithm: str) -> GateOutcome:
    """Retire the active ``algorithm`` model and reactivate the one it replaced, only if
    that one still passes the gate against its baselines. Refused → 409 (nothing changes)."""
    if algorithm not in ALGORITHMS:
        raise ValidationFailed(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}",
                               field="algorithm")
    with transaction.atomic():
        active = AgentModel.objects.select_for_update().filter(
            algorithm=algorithm, status=AgentStatus.ACTIVE).first()
        if active is None:
            raise Conflict(f"no active {algorithm} model to roll back", code="no_active_agent", field="algorithm")
        previous = (
            AgentModel.objects.select_for_update()
            .filter(algorithm=algorithm, status=AgentStatus.RETIRED, activated_at__isnull=False,
                    activated_at__lt=active.activated_at or timezone.now())
            .order_by("-activated_at", "-id").first()
        )
        if previous is None:
            raise Conflict(f"{active} replaced no earlier model; retire it instead",
                           code="no_previous_agent", field="algorithm")
        candidate, baselines = gate_inputs(previous.evaluation)
        decision = promotion_decision(candidate or {}, baselines)
        if decision.promote:
            now = timezone.now()
            _retire(active, now)
            previous.status, previous.activated_at, previous.retired_at = AgentStatus.ACTIVE, now, None
            previous.promotion_reason = f"rolled back to: {decision.reason}"
            previous.save(update_fields=["status", "activated_at", "retired_at", "promotion_reason"])
    if not decision.promote:
        raise Conflict(f"the promotion gate refused rolling back to {previous}: {decision.reason}",
                       code="promotion_refused", field="algorithm")
    return GateOutcome(previous, True, decision.reason, active)
