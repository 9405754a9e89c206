"""ABP: alternating back-propagation (Han, Lu, Zhu, Wu, "Alternating Back-Propagation for Generator Network",
AAAI 2017), a baseline of the one-protocol comparison (docs/baselines.md).

The model is the generator with a fixed prior, p(x) = N(0, I), p_beta(y | x) = N(g_beta(x), sigma^2 I). Each data
point m keeps one latent X^m (initialised from N(0, I)) that persists across epochs: Han et al.'s warm-started
chains. Per iteration, for a minibatch B:
  1. inferential back-propagation: K ULA steps on the batch latents for the posterior p_beta(x | y),
         X <- X - h [X + nabla_x V_beta(X, y)] + sqrt(2h) W       (Han et al. eq. 7, with h = delta^2 / 2;
     the drift's X is nabla_x |x|^2 / 2, the prior's energy);
  2. learning back-propagation: an Adam step on beta with nabla_beta of L_d = mean V_beta(X, y) (our eq. 45;
     Han et al. ascend the complete-data log-likelihood, the same gradient up to the factor 1 / (B sigma^2)
     absorbed by Adam's scale invariance).
Nothing else persists. With a learned energy in place of N(0, I) and fresh chains this would be LEBM's posterior
step; ABP has no prior chain.
"""

from __future__ import annotations

import torch

from ..config.schema import AbpConfig, RunConfig
from ..models import LatentEBM
from .bank import gather, new_bank, scatter
from .base import Batch, TrainState, adam_optimizers, backward_decoder, optimizer_steps, phase, set_precision
from .langevin import ula_chain

uses_minibatches = True


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    """Latents X_0^m ~ N(0, I), one per data point: the bank (M, 1, d_x)."""
    latents = new_bank((n_data, 1, model.d_x), gen, cfg.train.particle_storage)
    set_precision(model, cfg.train)
    opt_e, opt_g = adam_optimizers(model, cfg.train)
    return TrainState(model, cfg.algorithm, n_data, cfg.train.batch_size, opt_e, opt_g, latents, cfg.train.grad_clip)


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: AbpConfig = state.cfg  # type: ignore[assignment]
    model, idx, y = state.model, batch[0], batch[1]
    device = y.device
    with phase("posterior", device):
        # 1. K ULA steps from the warm-started latents.
        x = gather(state.particles, idx, device)  # (B, 1, d_x)
        noise = torch.randn((cfg.n_posterior_steps, *x.shape), generator=gen, device=x.device)
        x = ula_chain(model.grad_x_posterior_fn(y), x, cfg.h, noise)
        scatter(state.particles, idx, x)
    with phase("losses", device):
        loss_d, _ = backward_decoder(model, x, y, want_x_grad=False)
    with phase("optimiser", device):
        # 2. Adam on beta.
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_decoder": loss_d}
