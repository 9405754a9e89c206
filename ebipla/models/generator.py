"""Generators g_beta: R^{d_x} -> observation space, mapping latents (n, d_x) to observations (n, *obs_shape).

The synthetic experiments use a single linear layer (paper.md 4.1); the toy model of the theory uses the
identity. Every generator exposes ``obs_shape``, so convolutional image generators plug in the same way.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config.schema import GeneratorConfig


class LinearGenerator(nn.Module):
    """g_beta(x) = W x + b."""

    def __init__(self, d_x: int, obs_shape: tuple[int, ...], bias: bool = True):
        super().__init__()
        if len(obs_shape) != 1:
            raise ValueError(f"the linear generator needs vector observations, not shape {obs_shape}")
        self.obs_shape = obs_shape
        self.linear = nn.Linear(d_x, obs_shape[0], bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # (n, d_y)


class IdentityGenerator(nn.Module):
    """g(x) = x, with no parameters (beta is empty): y | x ~ N(x, sigma^2 I)."""

    def __init__(self, d_x: int, obs_shape: tuple[int, ...]):
        super().__init__()
        if obs_shape != (d_x,):
            raise ValueError(f"the identity generator needs observations of shape ({d_x},), not {obs_shape}")
        self.obs_shape = obs_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def build_generator(d_x: int, obs_shape: tuple[int, ...], cfg: GeneratorConfig) -> nn.Module:
    if cfg.kind == "identity":
        return IdentityGenerator(d_x, obs_shape)
    return LinearGenerator(d_x, obs_shape, cfg.bias)
