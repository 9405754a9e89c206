"""The Langevin / ULA kernel, written once and shared by every algorithm and by sampling.

One step of the unadjusted Langevin algorithm for a potential with gradient g at x:

    x <- x - step * g(x) + sqrt(2 step) * w,   w ~ N(0, I)

This is eq. 13 for the particles (step h, gradient nabla_x phi_y), eq. 14 for the short-run prior chains (step
gamma, gradient nabla_x U_alpha), and LEBM's posterior chain. Chains take their noise as a tensor
(n_steps, *x.shape) drawn up front, so a chain is a deterministic function of its inputs: training draws the noise
from the run's generator, evaluation from one generator per sample.

Step-size conventions: Pang et al. write x <- x - (s^2 / 2) grad + s w, so their s is the noise scale and
h = s^2 / 2 (s0 = 0.4 gives gamma = 0.08, s1 = 0.1 gives h = 0.005). :func:`lebm_step_to_h` converts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

GradFn = Callable[[torch.Tensor], torch.Tensor]


def lebm_step_to_h(s: float) -> float:
    """Pang et al.'s Langevin step s (noise std) -> the h of x <- x - h grad + sqrt(2h) w."""
    return s * s / 2.0


def ula_step(x: torch.Tensor, grad: torch.Tensor, step: float, noise: torch.Tensor) -> torch.Tensor:
    """x - step * grad + sqrt(2 step) * noise (out of place)."""
    return torch.add(x, grad, alpha=-step).add_(noise, alpha=math.sqrt(2.0 * step))


def ula_chain(grad_fn: GradFn, x0: torch.Tensor, step: float, noise: torch.Tensor) -> torch.Tensor:
    """Run ``noise.shape[0]`` ULA steps from x0. x0: (*S); noise: (n_steps, *S) -> (*S)."""
    x = x0
    for w in noise:
        x = ula_step(x, grad_fn(x), step, w)
    return x


def prior_chain(energy: torch.nn.Module, x0: torch.Tensor, gamma: float, noise: torch.Tensor,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """Short-run prior chain, eq. 14: J steps of size gamma on U_alpha from x0 ~ N(0, I).

    alpha is fixed along the chain, so the energy's gradient is set up once (``grad_x_fn``) for all J steps.
    ``dtype=torch.bfloat16`` evaluates nabla_x U_alpha in bfloat16 (the chain's state and noise stay in x0's
    dtype): off by default, on in training with ``train.precision: bfloat16``; ``ebipla bench --chain-variants``
    times it.
    """
    return ula_chain(energy.grad_x_fn(dtype), x0, gamma, noise)


def draw_chain_inputs(
    shape: tuple[int, ...], n_steps: int, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """x0 ~ N(0, I) of ``shape`` and the chain's noise (n_steps, *shape), from one generator."""
    x0 = torch.randn(shape, generator=gen, device=device)
    noise = torch.randn((n_steps, *shape), generator=gen, device=device)
    return x0, noise


def fresh_prior_samples(
    energy: torch.nn.Module, n: int, d_x: int, gamma: float, n_steps: int, gen: torch.Generator,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """X_hat_{k,J}: n independent prior chains started from N(0, I) (one per batch element). -> (n, d_x)."""
    device = next(energy.parameters()).device
    x0, noise = draw_chain_inputs((n, d_x), n_steps, gen, device)
    return prior_chain(energy, x0, gamma, noise, dtype)
