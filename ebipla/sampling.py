"""Sampling from a trained latent EBM, seeded per sample.

Sample k starts from x_0 ~ N(0, I), runs J ULA steps of size gamma on U_alpha (eq. 14, the same sampler as in
training), and is decoded as y = g_beta(x_J) [+ sigma eps]. Its starting point and all of its noise come from a
generator of its own, seeded by (seed, k), so sample k does not depend on the batch size or on which other
samples are drawn with it.
"""

from __future__ import annotations

import torch

from .algorithms.langevin import per_sample_normal, prior_chain
from .models import LatentEBM

STREAM_CHAIN, STREAM_DECODER = 11, 12  # derive_seed tags


@torch.no_grad()
def sample_latents(model: LatentEBM, n: int, n_steps: int, gamma: float, seed: int,
                   batch_size: int = 1000, first: int = 0) -> torch.Tensor:
    """Prior samples x_J number first, ..., first + n - 1, (n, d_x), on the model's device."""
    device = next(model.parameters()).device
    out = []
    for start in range(first, first + n, batch_size):
        rows = range(start, min(first + n, start + batch_size))
        draws = per_sample_normal(seed, STREAM_CHAIN, rows, (1 + n_steps, model.d_x)).to(device)  # (b, 1+J, d_x)
        x0, noise = draws[:, 0], draws[:, 1:].transpose(0, 1)  # (b, d_x), (J, b, d_x)
        out.append(prior_chain(model.energy, x0, gamma, noise))
    return torch.cat(out)


@torch.no_grad()
def decode_samples(model: LatentEBM, x: torch.Tensor, seed: int, decoder_noise: bool,
                   batch_size: int = 1000) -> torch.Tensor:
    """y_k = g_beta(x_k) [+ sigma eps_k] with eps_k from sample k's own generator. (n, d_x) -> (n, *obs_shape)."""
    out = []
    for start in range(0, len(x), batch_size):
        rows = range(start, min(len(x), start + batch_size))
        y = model.decode(x[start:start + len(rows)])
        if decoder_noise:
            y = y + model.sigma * per_sample_normal(seed, STREAM_DECODER, rows, model.obs_shape).to(y.device)
        out.append(y)
    return torch.cat(out)
