"""Sampling from a trained latent EBM, seeded per sample.

Sample k starts from x_0 ~ N(0, I), runs J ULA steps of size gamma on U_alpha (eq. 14, the same sampler as in
training), and is decoded as y = g_beta(x_J) [+ sigma eps]. Its starting point and all of its noise come from a
generator of its own, seeded by (seed, k), so sample k does not depend on the batch size or on which other
samples are drawn with it.

Long-run samples (:func:`long_run_latents`): MALA chains on exp(-U_alpha) (:mod:`.algorithms.mala`), chain k
started from N(0, I) and driven by normals from its own generator, seeded by (seed, STREAM_LONG_RUN, k). The step
size is adapted on all chains together, so chain k depends on the set of chains run (never on a batch size).
"""

from __future__ import annotations

import torch

from .algorithms.langevin import prior_chain
from .algorithms.mala import MalaRun, mala_chain, value_and_grad_fn
from .models import LatentEBM
from .seeding import derive_seed, per_sample_normal

STREAM_CHAIN, STREAM_DECODER, STREAM_LONG_RUN = 11, 12, 13  # derive_seed tags


@torch.no_grad()
def sample_latents(model: LatentEBM, n: int, n_steps: int, gamma: float, seed: int,
                   batch_size: int = 1000, first: int = 0) -> torch.Tensor:
    """Prior samples x_J number first, ..., first + n - 1, (n, d_x), on the model's device. A fixed prior
    (:mod:`ebipla.models.fixed_priors`) is sampled exactly instead, from d_x + 1 normals of sample k's stream."""
    device = next(model.parameters()).device
    out = []
    for start in range(first, first + n, batch_size):
        rows = range(start, min(first + n, start + batch_size))
        if getattr(model.energy, "exact_sampler", False):
            draws = per_sample_normal(seed, STREAM_CHAIN, rows, (model.d_x + 1,)).to(device)  # (b, d_x + 1)
            out.append(model.energy.sample(draws[:, :-1], draws[:, -1]))
            continue
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


class PerSampleStreams:
    """One generator per sample, seeded by (seed, stream, k), drawn from in successive chunks."""

    def __init__(self, seed: int, stream: int, indices: range):
        self.gens = [torch.Generator().manual_seed(derive_seed(seed, stream, k)) for k in indices]

    def normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The next standard normals of every sample: (n, *shape)."""
        return torch.stack([torch.randn(shape, generator=gen) for gen in self.gens])


@torch.no_grad()
def long_run_latents(model: LatentEBM, n: int, n_steps: int, n_burnin: int, step_init: float, seed: int,
                     snapshot_steps: tuple[int, ...] = ()) -> MalaRun:
    """n MALA chains on exp(-U_alpha) from x_0 ~ N(0, I), ``n_steps`` steps of which the first ``n_burnin`` adapt
    the step size (from ``step_init``). States (n, d_x) on the model's device."""
    device = next(model.parameters()).device
    streams = PerSampleStreams(seed, STREAM_LONG_RUN, range(n))
    x0 = streams.normal((model.d_x,)).to(device)  # (n, d_x)

    def draw(k: int) -> torch.Tensor:  # the next k steps: (k, n, d_x + 1)
        return streams.normal((k, model.d_x + 1)).transpose(0, 1).to(device)

    return mala_chain(value_and_grad_fn(model.energy), x0, step_init, n_steps, n_burnin, draw, snapshot_steps)
