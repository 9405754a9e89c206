"""Full EBIPLA, Algorithm 1 (eqs. 11-17): the Euler-Maruyama discretisation that Theorems 1 and 2 cover.

Every iteration moves theta = (alpha, beta) and all M x N particles at once from (theta_k, X_k):

  alpha <- alpha - (h / MN) sum_{m,n} grad_alpha U(X^{m,n}) + h E_{p_alpha}[grad_alpha U] + sqrt(2h / MN) W  (11)
  beta  <- beta  - (h / MN) sum_{m,n} grad_beta V(X^{m,n}, y_m)                            + sqrt(2h / MN) W  (12)
  X^{m,n} <- X^{m,n} - h [grad_x U + grad_x V](X^{m,n}, y_m)                               + sqrt(2h) W       (13)

The prior expectation is exact when the energy provides it (``expected_grad_alpha``, e.g. the Gaussian toy energy,
eq. 11), otherwise the ULA estimate (1/M) sum_m grad_alpha U(X_hat^m_{k,J}) from M fresh chains of J steps of
size gamma (eqs. 14-15). No Adam, no minibatches: this is the scheme the theory is about, and the reference
against which the noise scalings are tested (the theta-marginal of its stationary law is
proportional to exp(MN l_M(theta)), see tests/test_theory.py).
"""

from __future__ import annotations

import math

import torch

from ..config.schema import EbiplaFullConfig, RunConfig
from ..errors import ConfigError
from ..models import LatentEBM
from .base import Batch, TrainState, set_precision
from .langevin import fresh_prior_samples

uses_minibatches = False


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    algo: EbiplaFullConfig = cfg.algorithm  # type: ignore[assignment]
    if algo.prior_expectation == "exact" and model.energy.expected_grad_alpha() is None:
        raise ConfigError(
            f"algorithm.prior_expectation is 'exact' but the {cfg.model.energy.kind!r} energy has no closed-form "
            "prior expectation. Set algorithm.prior_expectation: ula."
        )
    set_precision(model, cfg.train)
    device = next(model.parameters()).device
    particles = torch.randn((n_data, algo.n_particles, model.d_x), generator=gen, device=device)  # (M, N, d_x)
    return TrainState(model, algo, n_data, n_data, particles=particles)


def prior_expectation(state: TrainState, gen: torch.Generator) -> list[torch.Tensor]:
    """E_{p_alpha}[grad_alpha U_alpha]: exact (eq. 11) or the ULA estimate over M fresh chains (eq. 15)."""
    cfg: EbiplaFullConfig = state.cfg  # type: ignore[assignment]
    energy = state.model.energy
    if cfg.prior_expectation == "exact":
        return energy.expected_grad_alpha()
    x_hat = fresh_prior_samples(energy, state.n_data, state.model.d_x, cfg.gamma, cfg.n_prior_steps, gen,
                                state.model.compute_dtype)
    return list(torch.autograd.grad(energy(x_hat).mean(), list(energy.parameters())))


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: EbiplaFullConfig = state.cfg  # type: ignore[assignment]
    model, y, X = state.model, batch[1], state.particles  # y (M, *obs), X (M, N, d_x)
    h, mn = cfg.h, X.shape[0] * X.shape[1]

    # Gradients at (theta_k, X_k) of S = sum_{m,n} phi_{y_m}(theta, X^{m,n}) without log Z.
    expectation = prior_expectation(state, gen)
    alpha, beta = list(model.energy.parameters()), list(model.generator.parameters())
    x = X.detach().requires_grad_(True)
    u, v = model.energy(x), model.V(x, y)  # (M, N) each
    grads = torch.autograd.grad(u.sum() + v.sum(), [x, *alpha, *beta])
    grad_x, grad_alpha, grad_beta = grads[0], grads[1:1 + len(alpha)], grads[1 + len(alpha):]

    with torch.no_grad():
        # Eqs. 11 / 15 and 12 / 16: Euler-Maruyama on theta with noise sqrt(2h / MN).
        theta_noise = math.sqrt(2.0 * h / mn)
        for p, g, e in zip(alpha, grad_alpha, expectation):
            p.add_(-h / mn * g + h * e + theta_noise * torch.randn(p.shape, generator=gen, device=p.device))
        for p, g in zip(beta, grad_beta):
            p.add_(-h / mn * g + theta_noise * torch.randn(p.shape, generator=gen, device=p.device))
        # Eqs. 13 / 17: every particle moves with the old parameters' gradient.
        X.add_(grad_x, alpha=-h).add_(torch.randn(X.shape, generator=gen, device=X.device), alpha=math.sqrt(2 * h))

    state.iteration += 1
    return state, {"mean_energy": u.detach().mean(), "loss_decoder": v.detach().mean()}
