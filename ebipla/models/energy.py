"""Prior energies U_alpha(x), p_alpha(x) = exp(-U_alpha(x)) / Z(alpha) (paper eq. 2).

Both energies map latents of shape (..., d_x) to energies of shape (...). Besides ``forward`` (differentiable in
x and alpha, used for the losses) each provides ``grad_x``, the latent gradient nabla_x U_alpha(x) computed
without autograd: no graph is recorded through the parameters, which the Langevin chains never differentiate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config.schema import EnergyConfig

_aten = torch.ops.aten


def _activation(name: str, slope: float):
    """(forward, backward) of an activation; backward(g, z) = g * act'(z), with ATen's fused kernels."""
    if name == "silu":
        return F.silu, _aten.silu_backward
    if name == "gelu":
        return F.gelu, lambda g, z: _aten.gelu_backward(g, z, approximate="none")
    if name == "relu":
        return F.relu, lambda g, z: _aten.threshold_backward(g, z, 0.0)
    if name == "leaky_relu":
        return (lambda z: F.leaky_relu(z, slope)), (lambda g, z: _aten.leaky_relu_backward(g, z, slope, False))
    raise ValueError(f"unknown activation {name!r}")


class EnergyMLP(nn.Module):
    """U_alpha(x) = MLP(x) [+ |x|^2 / (2 sigma_p^2) with Pang et al.'s Gaussian tilt].

    Hidden layers ``hidden`` with the chosen activation, then a linear map to one output (paper.md 4.1: three
    hidden layers of 128 units; Pang et al.'s image energy: two of 200 with GELU or LeakyReLU(0.2)).
    """

    def __init__(self, d_x: int, cfg: EnergyConfig):
        super().__init__()
        widths = (d_x, *cfg.hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], 1)
        self.act, self.act_backward = _activation(cfg.activation, cfg.leaky_slope)
        self.prior_sigma = cfg.prior_sigma
        self.d_x = d_x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x  # (..., d_x)
        for layer in self.hidden:
            h = self.act(layer(h))
        u = self.out(h).squeeze(-1)  # (...)
        if self.prior_sigma is not None:
            u = u + x.square().sum(-1) / (2.0 * self.prior_sigma**2)
        return u

    @torch.no_grad()
    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        """nabla_x U_alpha(x) per point, by a hand-written backward pass. (..., d_x) -> (..., d_x)."""
        flat = x.reshape(-1, self.d_x)  # (n, d_x)
        pre = []
        h = flat
        for layer in self.hidden:
            z = F.linear(h, layer.weight, layer.bias)  # (n, width)
            pre.append(z)
            h = self.act(z)
        g = self.out.weight.expand(flat.shape[0], -1)  # dU/dh for the last hidden layer, (n, width)
        for layer, z in zip(reversed(self.hidden), reversed(pre)):
            g = self.act_backward(g, z) @ layer.weight  # (n, fan_in)
        if self.prior_sigma is not None:
            g = g + flat / self.prior_sigma**2
        return g.reshape(x.shape)

    def expected_grad_alpha(self) -> None:
        """E_{p_alpha}[nabla_alpha U_alpha] has no closed form for an MLP: Algorithm 1 falls back to ULA."""
        return None


class GaussianEnergy(nn.Module):
    """U_alpha(x) = |x - alpha|^2 / 2, i.e. p_alpha = N(alpha, I): the toy hierarchical model of IPLA and PGD."""

    def __init__(self, d_x: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(d_x))
        self.d_x = d_x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x - self.alpha).square().sum(-1)

    @torch.no_grad()
    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.alpha

    def expected_grad_alpha(self) -> list[torch.Tensor]:
        """E_{x ~ N(alpha, I)}[nabla_alpha U_alpha(x)] = E[alpha - x] = 0: the exact prior term of eq. 11."""
        return [torch.zeros_like(self.alpha)]


def build_energy(d_x: int, cfg: EnergyConfig) -> nn.Module:
    return GaussianEnergy(d_x) if cfg.kind == "gaussian" else EnergyMLP(d_x, cfg)
