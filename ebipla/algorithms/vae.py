"""VAE: variational autoencoder (Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014), a baseline of
the one-protocol comparison (docs/baselines.md).

The model is the generator with a fixed prior p(x) = N(0, I) and the same Gaussian decoder as every method here,
p_beta(y | x) = N(g_beta(x), sigma^2 I); the encoder (``model.encoder``) gives q_phi(x | y) = N(mu_phi(y),
diag exp(v_phi(y))). Per iteration, for a minibatch B, the negative ELBO (Kingma and Welling eq. 10, up to the
constant of the Gaussian likelihood)

    L = mean_b [ (1/S) sum_s V_beta(mu + exp(v / 2) * eps_s, y_b) + KL(q_phi(. | y_b) || N(0, I)) ],
    KL = (1/2) sum_j (mu_j^2 + exp(v_j) - 1 - v_j),   eps_s ~ N(0, I)   (the reparameterisation, their eq. 7)

is minimised by an Adam step on (beta, phi) together, at the generator's settings.
Sampling: x ~ N(0, I), then the decoder. Reconstruction: the encoder's mean mu_phi(y) (``mse_encoder``) and the
MAP latents of the common protocol (``mse``), both reported.
"""

from __future__ import annotations

import torch

from ..config.schema import RunConfig, VaeConfig
from ..models import LatentEBM
from .base import Batch, TrainState, init_without_bank, optimizer_steps, phase

uses_minibatches = True


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    return init_without_bank(cfg, model, n_data)


def encode(model: LatentEBM, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q_phi(x | y): mean and log-variance, (B, d_x) each."""
    mu, log_var = model.encoder(y).chunk(2, dim=-1)
    return mu, log_var


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: VaeConfig = state.cfg  # type: ignore[assignment]
    model, y = state.model, batch[1]
    device = y.device
    with phase("posterior", device):
        mu, log_var = encode(model, y)  # (B, d_x)
        eps = torch.randn((len(y), cfg.n_samples, model.d_x), generator=gen, device=device)
        x = mu[:, None] + (0.5 * log_var).exp()[:, None] * eps  # (B, S, d_x)
    with phase("losses", device):
        v = model.V(x, y).mean(1)  # (B,)
        kl = 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)  # (B,)
        loss = v.mean() + kl.mean()
        loss.backward()
    with phase("optimiser", device):
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_decoder": v.detach().mean(), "kl": kl.detach().mean()}
