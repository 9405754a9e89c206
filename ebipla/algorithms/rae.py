"""RAE: regularised autoencoder, the RAE-L2 variant (Ghosh, Sajjadi, Vergari, Black, Schoelkopf, "From Variational
to Deterministic Autoencoders", ICLR 2020), a baseline of the one-protocol comparison (docs/baselines.md).

A deterministic encoder z = E_phi(y) and the generator as decoder. Per iteration, for a minibatch B, an Adam step
on (beta, phi) together on (Ghosh et al. eq. 2 with L_REG = |beta|^2, their RAE-L2)

    L = mean_b [ V_beta(z_b, y_b) + b |z_b|^2 / 2 ] + lambda |beta|^2,

with V the common Gaussian decoder's |y - g(z)|^2 / (2 sigma^2) as reconstruction term (so b = 1 makes the first
part the N(0, I) MAP objective), b = ``algorithm.beta`` and lambda = ``algorithm.weight_decay``.
Ex-post density (their sec. 4): after the last iteration a Gaussian mixture of ``algorithm.n_components``
components (full covariances) is fitted by scikit-learn on the codes of all M training points (:func:`finish`);
it is the model's prior, used for sampling and for the MAP reconstructions of the common MSE protocol.
"""

from __future__ import annotations

import torch

from ..config.schema import RaeConfig, RunConfig
from ..models import LatentEBM
from .base import Batch, TrainState, init_without_bank, optimizer_steps, phase

uses_minibatches = True


def init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState:
    return init_without_bank(cfg, model, n_data)


def step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]:
    cfg: RaeConfig = state.cfg  # type: ignore[assignment]
    model, y = state.model, batch[1]
    device = y.device
    with phase("posterior", device):
        z = model.encoder(y)  # (B, d_x)
    with phase("losses", device):
        v = model.V(z, y)  # (B,)
        code = 0.5 * z.square().sum(-1)  # (B,)
        decay = sum((p.square().sum() for p in model.generator.parameters()), torch.zeros((), device=device))
        loss = v.mean() + cfg.beta * code.mean() + cfg.weight_decay * decay
        loss.backward()
    with phase("optimiser", device):
        optimizer_steps(state)
    state.iteration += 1
    return state, {"loss_decoder": v.detach().mean(), "code_norm": code.detach().mean()}


@torch.no_grad()
def finish(state: TrainState, data, gen: torch.Generator) -> None:
    """After the last iteration: fit the prior's Gaussian mixture to the codes E_phi(y) of all training points
    (in batches of the training batch size), seeded from the run's generator."""
    model = state.model
    codes = []
    for start in range(0, len(data), state.batch_size):
        idx = torch.arange(start, min(len(data), start + state.batch_size), device=gen.device)
        codes.append(model.encoder(data.batch(idx)))
    seed = int(torch.randint(2**31 - 1, (1,), generator=gen, device=gen.device))
    model.energy.fit(torch.cat(codes), seed)
