"""LEBM: latent EBM trained with nested short-run MCMC (Pang, Han, Nijkamp, Zhu, Wu, NeurIPS 2020).

Per iteration, for a minibatch of B observations y:
  1. posterior chain: x ~ N(0, I), then N ULA steps of size h on phi_y = U_alpha + V_beta(., y)
     (N is "the number of posterior MCMC steps" of the paper's matched-compute grid, K1 in Pang's code);
  2. prior chain: x_hat ~ N(0, I), then J ULA steps of size gamma on U_alpha (K0 in Pang's code);
  3. the same losses as EBIPLA, L_e (46) and L_d (45), one posterior sample per data point;
  4. Adam steps on alpha and beta.
Nothing persists between iterations except the parameters.

Step sizes: Pang's code writes x <- x - (s^2/2) grad + s w; here x <- x - h grad + sqrt(2h) w, so h = s^2 / 2
(``langevin.lebm_step_to_h``). The paper's LEBM step-size table (paper.md 4.1) is read as h directly. Pang's
generator loss is the squared error without 1/(2 sigma^2); we use V as defined (eq. 45) for both methods, which
Adam's scale invariance makes immaterial apart from its epsilon.
"""

from __future__ import annotations

import torch

from ..config.schema import LebmConfig, RunConfig
from ..models import LatentEBM
from .base import Batch, TrainState, backward_losses, init_without_bank, optimizer_steps, phase
from .langevin import draw_chain_inputs, fresh_prior_samples, ula_chain

uses_minibatches = True


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    return init_without_bank(cfg, model, n_data)


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: LebmConfig = state.cfg  # type: ignore[assignment]
    model, y = state.model, batch[1]
    device = y.device

    # 1. Posterior chain from N(0, I): N ULA steps of size h on U + V.
    with phase("posterior", device):
        x0, noise = draw_chain_inputs((len(y), model.d_x), cfg.n_posterior_steps, gen, device)
        x_post = ula_chain(model.grad_x_posterior_fn(y), x0, cfg.h, noise)  # (B, d_x)

    # 2. Prior chain from N(0, I): J ULA steps of size gamma on U.
    with phase("prior_chain", device):
        x_hat = fresh_prior_samples(model.energy, len(y), model.d_x, cfg.gamma, cfg.n_prior_steps, gen,
                                    model.compute_dtype)  # (B, d_x)

    # 3-4. Losses (45)-(46) and Adam steps.
    with phase("losses", device):
        loss_e, loss_d, _ = backward_losses(model, x_post, y, x_hat, want_x_grad=False)
    with phase("optimiser", device):
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_energy": loss_e, "loss_decoder": loss_d}
