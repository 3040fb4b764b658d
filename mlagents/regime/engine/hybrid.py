"""The hybrid strategy: technical signals blended with an RL agent's adjustment.

Per asset ``i`` (brief 000, "hybrid ASMBTR + RL"):

- technical signal ``s_i`` in [-1, 1]: the mean of three classic indicators, each
  squashed into [-1, 1] —
  momentum ``tanh(R / (sigma * sqrt(n)))`` (the trailing ``n``-day log return as a
  z-score), RSI ``(RSI - 50) / 50`` (Wilder's 14-day RSI), and MACD
  ``tanh(hist / (price * sigma))`` (the 12/26/9 MACD histogram in units of a daily
  price move);
- agent adjustment ``a_i`` in [-1, 1]: how far the agent's target weight ``w_i``
  tilts away from the neutral equal weight ``e = 1/n``: ``(w_i - e) / (w_i + e)``;
- blend ``b_i = alpha * s_i + (1 - alpha) * a_i`` and target weights
  ``proportional to e * (1 + b_i)``, scaled to the fraction the agent invests
  (the agent's cash choice is kept);
- confidence: the mean agreement ``1 - |s_i - a_i| / 2`` (1 when they agree on
  every asset, 0 when they are opposite and extreme).

Without an agent (none promoted yet, or it cannot decide on this universe) the hybrid
**falls back** to the technical signals alone on a fully invested equal-weight base
(``alpha = 1``), says so in its explanation and records the reason in
``details["fallback"]``; its confidence is then halved. The blend weight ``alpha`` and
the agent come from the autonomy settings (``hybrid_alpha``, ``hybrid_agent``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolios.strategies import StrategyContext, StrategyError, StrategyResult

AgentPolicy = Callable[[StrategyContext], "Mapping[str, float] | tuple[Mapping[str, float], str]"]
"""The agent's target weights for a context (optionally with the agent's name); raises
StrategyError when no agent can decide (the hybrid then falls back)."""


@dataclass(frozen=True)
class SignalConfig:
    """Windows of the technical indicators (trading days)."""

    momentum_window: int = 63
    """Trailing window of the momentum z-score (about a quarter)."""
    rsi_window: int = 14
    """Wilder's RSI smoothing window."""
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9


def _rsi(prices: pd.DataFrame, window: int) -> pd.Series:
    delta = prices.diff().iloc[1:]
    gain = delta.clip(lower=0).ewm(alpha=1 / window, adjust=False).mean().iloc[-1]
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / window, adjust=False).mean().iloc[-1]
    total = gain + loss
    rsi = 100 * gain / total.where(total > 0)
    return rsi.fillna(50.0)


def technical_signals(returns: pd.DataFrame, config: SignalConfig | None = None) -> pd.DataFrame:
    """Per-asset indicators from simple daily returns (dates x symbols).

    Returns a frame indexed by symbol with columns momentum, rsi, macd, signal, all
    in [-1, 1]; ``signal`` is their mean. Uses only the rows given (no look-ahead).
    """
    config = config or SignalConfig()
    returns = returns.astype(float).fillna(0.0)
    need = max(config.momentum_window, config.macd_slow + config.macd_signal, config.rsi_window + 1)
    if len(returns) < need:
        raise StrategyError(f"the technical signals need {need} days of returns, got {len(returns)}")
    prices = (1.0 + returns).cumprod()
    log_ret = np.log1p(returns)
    sigma = log_ret.iloc[-config.momentum_window :].std(ddof=1).replace(0.0, np.nan)
    window_ret = log_ret.iloc[-config.momentum_window :].sum()
    momentum = np.tanh(window_ret / (sigma * np.sqrt(config.momentum_window))).fillna(0.0)
    rsi = (_rsi(prices, config.rsi_window) - 50.0) / 50.0
    macd_line = (
        prices.ewm(span=config.macd_fast, adjust=False).mean()
        - prices.ewm(span=config.macd_slow, adjust=False).mean()
    )
    hist = macd_line - macd_line.ewm(span=config.macd_signal, adjust=False).mean()
    macd = np.tanh(hist.iloc[-1] / (prices.iloc[-1] * sigma)).fillna(0.0)
    frame = pd.DataFrame({"momentum": momentum, "rsi": rsi, "macd": macd})
    frame["signal"] = frame.mean(axis=1).clip(-1.0, 1.0)
    return frame


def agent_adjustment(agent_weights: Mapping[str, float], symbols: tuple[str, ...]) -> pd.Series:
    """The agent's tilt per asset in [-1, 1] relative to equal weight."""
    w = pd.Series({s: max(float(agent_weights.get(s, 0.0)), 0.0) for s in symbols})
    invested = w.sum()
    if invested <= 0:
        return pd.Series(-1.0, index=list(symbols))
    w = w / invested
    e = 1.0 / len(symbols)
    return (w - e) / (w + e)


def hybrid_blend(
    signal: pd.Series, adjustment: pd.Series, alpha: float, invested: float = 1.0
) -> tuple[pd.Series, pd.Series, float]:
    """Blend, turn into weights summing to ``invested``; return (weights, blend, confidence)."""
    if not 0.0 <= alpha <= 1.0:
        raise StrategyError(f"alpha must be within [0, 1], got {alpha}")
    blend = (alpha * signal + (1.0 - alpha) * adjustment.reindex(signal.index)).clip(-1.0, 1.0)
    raw = (1.0 + blend) / len(blend)
    # every asset at -1 leaves nothing to hold
    weights = raw * 0.0 if raw.sum() <= 0 else raw / raw.sum() * invested
    agreement = 1.0 - (signal - adjustment.reindex(signal.index)).abs() / 2.0
    return weights, blend, float(agreement.mean())


class HybridStrategy:
    """Technical signals + an agent's adjustment (registered as ``hybrid``).

    ``agent``: a callable returning the agent's target weights for a context (a
    registered ``agent:*`` strategy, or a stand-in policy in tests); ``alpha``: the
    technical signal's weight (``ctx.options["hybrid_alpha"]`` overrides it).
    """

    name = "hybrid"
    per_portfolio = True  # the agent reads current weights: targets differ per portfolio

    def __init__(self, agent: AgentPolicy, *, alpha: float = 0.5, agent_name: str = "the agent",
                 signals: SignalConfig | None = None) -> None:
        self._agent = agent
        self.alpha = alpha
        self.agent_name = agent_name
        self._signals = signals or SignalConfig()

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        alpha = float(ctx.options.get("hybrid_alpha", self.alpha))
        symbols = tuple(ctx.symbols)
        if not symbols:
            raise StrategyError("the hybrid strategy needs at least one symbol")
        tech = technical_signals(ctx.returns.loc[:, list(symbols)], self._signals)
        fallback = None
        try:
            answer = self._agent(ctx)
        except StrategyError as exc:
            answer, fallback = {s: 1.0 / len(symbols) for s in symbols}, str(exc)
        agent_weights, agent_name = answer if isinstance(answer, tuple) else (answer, self.agent_name)
        if fallback is not None:
            alpha, agent_name = 1.0, "no agent"
        invested = min(max(sum(max(float(v), 0.0) for v in agent_weights.values()), 0.0), 1.0)
        adjustment = agent_adjustment(agent_weights, symbols)
        weights, blend, confidence = hybrid_blend(tech["signal"], adjustment, alpha, invested)
        if fallback is not None:
            confidence *= 0.5
        top = blend.sort_values(ascending=False)
        if fallback is not None:
            explanation = (
                "Hybrid without an agent (none can decide yet: " + fallback + "), so technical signals "
                f"(momentum, RSI, MACD) alone tilt an equal-weight mix. Most favoured: {top.index[0]} "
                f"({top.iloc[0]:+.2f}); least: {top.index[-1]} ({top.iloc[-1]:+.2f})."
            )
        else:
            explanation = (
                f"Hybrid of technical signals (momentum, RSI, MACD; weight {alpha:.0%}) and {agent_name}'s "
                f"adjustment (weight {1 - alpha:.0%}); they agree {confidence:.0%} on average. Most favoured: "
                f"{top.index[0]} ({top.iloc[0]:+.2f}); least: {top.index[-1]} ({top.iloc[-1]:+.2f})."
            )
        return StrategyResult(
            weights={s: float(weights[s]) for s in symbols},
            confidence=confidence,
            explanation=explanation,
            strategy=self.name,
            details={
                "alpha": alpha,
                "agent": agent_name,
                "fallback": fallback,
                "signals": {s: {k: float(tech.loc[s, k]) for k in tech.columns} for s in symbols},
                "adjustment": {s: float(adjustment[s]) for s in symbols},
                "blend": {s: float(blend[s]) for s in symbols},
            },
        )
