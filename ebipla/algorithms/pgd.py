"""PGD: particle gradient descent (Kuntz, Lim, Johansen, "Particle algorithms for maximum likelihood training of
latent variable models", AISTATS 2023), a baseline of the one-protocol comparison (docs/baselines.md).

The model is the generator with a fixed prior, p(x) = N(0, I). PGD discretises the gradient flow of the free
energy with N particles per data point: the particles take Langevin steps on the posterior of their data point
and the parameters descend the N-particle average of -log p_beta(X, y) (Kuntz et al. eq. 11). It is EBIPLA's
particle system (our Algorithm 2, eq. 13) without the learned prior, which isolates what p_alpha adds. Per
iteration, for a minibatch B of M points and L = M / B:
  1. L_d = mean over the B x N particles of V_beta(X, y) (eq. 45), its gradient in beta and the drift
     nabla_x [|X|^2 / 2 + V_beta(X, y)] from one backward pass at (beta_k, X_k);
  2. drift the batch particles by -h times it, then noise sqrt(2h / L) W on all M x N particles (as EBIPLA's
     steps 3-4, so one epoch adds variance 2h per particle);
  3. an Adam step on beta.
Kuntz et al. step theta with a scaled gradient (RMSProp in their image experiments); under the common protocol the
generator takes the same Adam steps as in every other method here.
"""

from __future__ import annotations

import torch

from ..config.schema import PgdConfig, RunConfig
from ..models import LatentEBM
from .bank import gather, new_bank, scatter
from .base import Batch, TrainState, adam_optimizers, backward_decoder, optimizer_steps, phase, set_precision
from .ebipla import add_all_particle_noise

uses_minibatches = True


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    """Particles X_0^{m,n} ~ N(0, I): the bank (M, N, d_x)."""
    algo: PgdConfig = cfg.algorithm  # type: ignore[assignment]
    particles = new_bank((n_data, algo.n_particles, model.d_x), gen, cfg.train.particle_storage)
    set_precision(model, cfg.train)
    opt_e, opt_g = adam_optimizers(model, cfg.train)
    return TrainState(model, algo, n_data, cfg.train.batch_size, opt_e, opt_g, particles, cfg.train.grad_clip)


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: PgdConfig = state.cfg  # type: ignore[assignment]
    model, idx, y = state.model, batch[0], batch[1]
    device = y.device
    with phase("losses", device):
        # 1. Loss and drift at (beta_k, X_k).
        x_batch = gather(state.particles, idx, device)  # (B, N, d_x)
        loss_d, drift = backward_decoder(model, x_batch, y, want_x_grad=True)
    with phase("posterior", device):
        # 2. Drift on the batch particles, noise on all particles.
        scatter(state.particles, idx, x_batch - cfg.h * drift)
        add_all_particle_noise(state, cfg.h, gen)
    with phase("optimiser", device):
        # 3. Adam on beta.
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_decoder": loss_d}
