"""Pieces shared by the agents: observation normalisation, MLPs, seeding, progress."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

ProgressFn = Callable[[float, dict], None]
"""Called with (fraction done in [0, 1], latest training statistics)."""


def bf16_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX), where
    bfloat16 autocast halves the time of a matrix product; elsewhere it is emulated and slower."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes
        return False


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for explicit sampling."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class RunningMeanStd:
    """Running mean and variance of observations (parallel Welford / Chan et al.)."""

    def __init__(self, dim: int, epsilon: float = 1e-4) -> None:
        self.mean = torch.zeros(dim, dtype=torch.float64)
        self.var = torch.ones(dim, dtype=torch.float64)
        self.count = epsilon

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double()
        batch_mean, n = x.mean(0), x.shape[0]
        # explicit form: Tensor.var(dim=0) on a (batch, features) tensor is ~7x slower here
        batch_var = ((x - batch_mean) ** 2).mean(0)
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        z = (x - self.mean.to(x.dtype)) / torch.sqrt(self.var.to(x.dtype) + 1e-8)
        return torch.clamp(z, -clip, clip)

    def state_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": float(self.count)}

    def load_state_dict(self, state: dict) -> None:
        self.mean = torch.tensor(state["mean"], dtype=torch.float64)
        self.var = torch.tensor(state["var"], dtype=torch.float64)
        self.count = float(state["count"])


class _Tanh(torch.autograd.Function):
    """tanh as 2·sigmoid(2x) − 1 (the same function), with the usual (1 − y²) backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1.0 - y * y)


class FastTanh(nn.Module):
    """``nn.Tanh`` computed through sigmoid: torch's CPU tanh is 2-3x slower than its
    sigmoid on a training minibatch's activations (float32 and bfloat16); the values
    agree to float rounding (tested against ``torch.tanh``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Tanh.apply(x)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2, act: type = nn.Tanh) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), act()]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Linear:
    """Orthogonal init as in the PPO implementation details (Huang et al., 2022)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer
