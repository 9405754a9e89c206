"""Practical EBIPLA: Algorithm 2 (App. C.1) with the warm-up of Algorithm 3 (App. C.2).

Marks, Wang, Akyildiz, "Learning Latent Energy-Based Models via Interacting Particle Langevin Dynamics"
(UAI 2026). Notation: x is the latent, y the observation; X^{m,n} is particle n of data point m.

Per iteration k, with a minibatch B of size B out of M and L = M / B:
  3. drift the batch particles: X^{B,1:N} <- X^{B,1:N} - h [nabla_x U_alpha + nabla_x V_beta]   (eq. 13)
  4. noise on all M x N particles: X <- X + sqrt(2h / L) W  (one epoch adds variance 2h, as eq. 13 does)
  5. fresh short-run prior chains X_hat^B from N(0, I): J ULA steps of size gamma              (eq. 14)
  6. losses L_e (46) and L_d (45) at X_k (Algorithm 2, ``pre_update``) or X_{k+1} (``post_update``)
  7. Adam steps on alpha and beta.
The parameters carry no Langevin noise here (Algorithm 2 has none; see ``ebipla_full`` for Algorithm 1).

Warm-up (Algorithm 3): for the first S_warm iterations the bank holds N' particles per point and the batch
particles take 10 inner ULA steps of h_warm with full noise and no all-particle noise; the losses use the moved
particles. At k = S_warm each cloud is replicated N / N' times.

Implementation notes: the particle bank (M, N, d_x) lives on the training device, or in pinned host memory
(:mod:`.bank`). With ``pre_update`` the drift's
nabla_x U + nabla_x V comes out of the same backward pass that gives the loss gradients (exact, not an
approximation), so the non-chain work costs one forward and one backward pass over the B x N particles.
"""

from __future__ import annotations

import math

import torch

from ..config.schema import EbiplaConfig, RunConfig
from ..models import LatentEBM
from .bank import add_noise, gather, new_bank, scatter
from .base import Batch, TrainState, adam_optimizers, backward_losses, optimizer_steps, phase, set_precision
from .langevin import fresh_prior_samples, ula_chain

uses_minibatches = True


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    """Particles X_0^{m,n} ~ N(0, I) (paper.md section 9, row 13); N' per point while warming up."""
    algo: EbiplaConfig = cfg.algorithm  # type: ignore[assignment]
    n = algo.warmup_particles if algo.warmup_iters > 0 else algo.n_particles
    particles = new_bank((n_data, n, model.d_x), gen, cfg.train.particle_storage)  # (M, N or N', d_x)
    set_precision(model, cfg.train)
    opt_e, opt_g = adam_optimizers(model, cfg.train)
    return TrainState(model, algo, n_data, cfg.train.batch_size, opt_e, opt_g, particles, cfg.train.grad_clip)


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: EbiplaConfig = state.cfg  # type: ignore[assignment]
    if state.iteration < cfg.warmup_iters:
        return warmup_step(state, batch, gen)
    if state.particles.shape[1] != cfg.n_particles:  # k = S_warm: N' -> N copies of each cloud
        copies = state.particles.repeat_interleave(cfg.n_particles // state.particles.shape[1], dim=1)
        state.particles = copies.pin_memory() if state.particles.is_pinned() else copies
    model, idx, y = state.model, batch[0], batch[1]
    h, device = cfg.h, y.device

    # 5. Fresh prior chains, one per batch element, with alpha_k.
    with phase("prior_chain", device):
        x_hat = fresh_prior_samples(model.energy, len(idx), model.d_x, cfg.gamma, cfg.n_prior_steps, gen,
                                    model.compute_dtype)  # (B, d_x)

    if cfg.loss_particles == "pre_update":
        # 6. Losses at X_k; their backward pass also yields the drift nabla_x phi at (theta_k, X_k).
        with phase("losses", device):
            x_batch = gather(state.particles, idx, device)  # X_k^{B, 1:N}, (B, N, d_x)
            loss_e, loss_d, drift = backward_losses(model, x_batch, y, x_hat, want_x_grad=True)
        with phase("posterior", device):
            # 3. Drift step on the batch particles.
            scatter(state.particles, idx, x_batch - h * drift)
            # 4. Noise sqrt(2h / L) on all particles.
            add_all_particle_noise(state, h, gen)
    else:
        with phase("posterior", device):
            # 3-4. Drift with theta_k, then noise on all particles; 6. losses at X_{k+1} (Algorithm 3's box).
            x_batch = gather(state.particles, idx, device)  # X_k^{B, 1:N}, (B, N, d_x)
            scatter(state.particles, idx, x_batch - h * model.grad_x_posterior(x_batch, y))
            add_all_particle_noise(state, h, gen)
        with phase("losses", device):
            x_new = gather(state.particles, idx, device)  # X_{k+1}^{B, 1:N}
            loss_e, loss_d, _ = backward_losses(model, x_new, y, x_hat, want_x_grad=False)

    # 7. Adam steps on alpha and beta.
    with phase("optimiser", device):
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_energy": loss_e, "loss_decoder": loss_d}


def add_all_particle_noise(state: TrainState, h: float, gen: torch.Generator) -> None:
    """X^{1:M, 1:N} += sqrt(2h / L) W, W ~ N(0, I) (Algorithm 2, step 4)."""
    add_noise(state.particles, math.sqrt(2.0 * h / state.batches_per_epoch), gen)


def warmup_step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    """Algorithm 3, k < S_warm: inner ULA steps on the batch particles, then losses at the moved particles."""
    cfg: EbiplaConfig = state.cfg  # type: ignore[assignment]
    model, idx, y = state.model, batch[0], batch[1]
    device = y.device
    with phase("posterior", device):
        x_batch = gather(state.particles, idx, device)  # (B, N', d_x)
        noise = torch.randn((cfg.warmup_inner_steps, *x_batch.shape), generator=gen, device=x_batch.device)
        x_batch = ula_chain(model.grad_x_posterior_fn(y), x_batch, cfg.warmup_h, noise)
        scatter(state.particles, idx, x_batch)
    with phase("prior_chain", device):
        x_hat = fresh_prior_samples(model.energy, len(idx), model.d_x, cfg.gamma, cfg.n_prior_steps, gen,
                                    model.compute_dtype)
    with phase("losses", device):
        loss_e, loss_d, _ = backward_losses(model, x_batch, y, x_hat, want_x_grad=False)
    with phase("optimiser", device):
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_energy": loss_e, "loss_decoder": loss_d}
