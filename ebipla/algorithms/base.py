"""What every algorithm shares: the training state, the contrastive losses (eqs. 45-46) and the Adam updates.

An algorithm is a module with

    uses_minibatches: bool
    init_state(cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState
    step(state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict[str, Tensor]]

and optionally ``finish(state, data, gen)``, called once after the last iteration, before the final checkpoint
(RAE fits its ex-post prior there).

``step`` performs one iteration of the algorithm box on (state, batch) with all randomness from ``gen``. It
returns the state (parameters and the particle bank are updated in place, as optimisers do) and scalar metrics as
0-dim tensors, so that the loop decides when to synchronise with the device.

Steps mark their phases with :func:`phase` (prior chain, posterior / particle update, losses with their backward
pass, optimiser). That costs nothing in training; ``ebipla bench`` turns it on with :func:`collect_phase_times` to
report each phase's share of an iteration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import torch

from ..config.schema import AlgorithmConfig, RunConfig, TrainConfig
from ..models import LatentEBM

Batch = tuple[torch.Tensor, torch.Tensor]  # (indices (B,), observations y (B, *obs_shape))


@dataclass
class TrainState:
    model: LatentEBM
    cfg: AlgorithmConfig  # the algorithm's hyperparameters (frozen)
    n_data: int  # M
    batch_size: int  # B
    opt_energy: torch.optim.Optimizer | None = None  # Adam on alpha
    opt_generator: torch.optim.Optimizer | None = None  # Adam on beta
    particles: torch.Tensor | None = None  # persistent bank X^{1:M, 1:N}, (M, N, d_x)
    grad_clip: float | None = None
    iteration: int = 0  # k, iterations completed

    @property
    def batches_per_epoch(self) -> float:
        """L = M / B, the noise scale of Algorithm 2 (not rounded when B does not divide M)."""
        return self.n_data / self.batch_size


class Algorithm(Protocol):
    uses_minibatches: bool

    def init_state(self, cfg: RunConfig, model: LatentEBM, n_data: int, gen: torch.Generator) -> TrainState: ...

    def step(self, state: TrainState, batch: Batch, gen: torch.Generator) -> tuple[TrainState, dict]: ...


PHASES = ("prior_chain", "posterior", "losses", "optimiser")
_phase_times: dict[str, float] | None = None  # set only inside collect_phase_times


@contextmanager
def phase(name: str, device: torch.device) -> Iterator[None]:
    """Marks one phase of a step; adds its wall-clock seconds to the active collection, if any.

    Only while collecting does it synchronise with a CUDA device (before and after the phase), so training loops
    keep their asynchronous execution.
    """
    times = _phase_times
    if times is None:
        yield
        return
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    yield
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times[name] = times.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def collect_phase_times() -> Iterator[dict[str, float]]:
    """Within the block, steps add each phase's seconds to the dict yielded (benchmarks only; not re-entrant)."""
    global _phase_times
    times: dict[str, float] = {}
    _phase_times = times
    try:
        yield times
    finally:
        _phase_times = None


def set_precision(model: LatentEBM, cfg: TrainConfig) -> None:
    """train.precision: bfloat16 makes the model compute its generator passes and chain gradients in bfloat16."""
    model.compute_dtype = torch.bfloat16 if cfg.precision == "bfloat16" else None


def adam_optimizers(model: LatentEBM, cfg: TrainConfig) -> tuple[torch.optim.Adam | None, torch.optim.Adam | None]:
    """Adam for alpha (energy) and beta (generator, with the encoder's weights where the model has one, at the
    generator's settings); None for a part without parameters."""
    def adam(params: list[torch.nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Adam | None:
        return torch.optim.Adam(params, lr=lr, betas=betas) if params else None

    decoder = list(model.generator.parameters())
    if model.encoder is not None:
        decoder += list(model.encoder.parameters())
    return (adam(list(model.energy.parameters()), cfg.lr_energy, cfg.betas_energy),
            adam(decoder, cfg.lr_generator, cfg.betas_generator))


def init_without_bank(cfg: RunConfig, model: LatentEBM, n_data: int) -> TrainState:
    """``init_state`` of a method that keeps no particle bank (LEBM, VAE, RAE): precision and Adam only."""
    set_precision(model, cfg.train)
    opt_e, opt_g = adam_optimizers(model, cfg.train)  # opt_g also holds the encoder's weights where there is one
    return TrainState(model, cfg.algorithm, n_data, cfg.train.batch_size, opt_e, opt_g, None, cfg.train.grad_clip)


def backward_losses(
    model: LatentEBM, x_pos: torch.Tensor, y: torch.Tensor, x_neg: torch.Tensor, want_x_grad: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The losses of Algorithm 2 and their gradients, from one forward and one backward pass.

    Energy loss (46): L_e = mean U(x_pos) - mean U(x_neg); decoder loss (45): L_d = mean V(x_pos, y).
    x_pos: posterior latents (B, N, d_x) or (B, d_x); x_neg: prior samples X_hat (B, d_x).

    Sets ``.grad`` of alpha to nabla L_e and of beta to nabla L_d (alpha does not enter V, beta does not enter U,
    so one backward pass of S = n (L_e + L_d) serves both). With ``want_x_grad`` also returns nabla_x S, which
    equals nabla_x U(x_pos) + nabla_x V(x_pos, y) per latent exactly: the particle drift of eq. 13 at no extra cost.
    """
    x_pos = x_pos.detach().requires_grad_(want_x_grad)
    u_pos = model.energy(x_pos)  # (B, N) or (B,)
    v = model.V(x_pos, y)  # same shape
    u_neg = model.energy(x_neg.detach())  # (B,)
    n = u_pos.numel()
    total = u_pos.sum() + v.sum() - (n / u_neg.numel()) * u_neg.sum()  # = n (L_e + L_d)
    params = [p for part in (model.energy, model.generator) for p in part.parameters() if p.requires_grad]
    inputs = [x_pos, *params] if want_x_grad else params
    grads = torch.autograd.grad(total, inputs)
    for p, g in zip(params, grads[len(inputs) - len(params):]):
        p.grad = g / n
    loss_e = u_pos.detach().mean() - u_neg.detach().mean()
    return loss_e, v.detach().mean(), grads[0] if want_x_grad else None


def backward_decoder(model: LatentEBM, x: torch.Tensor, y: torch.Tensor,
                     want_x_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fixed-prior methods' loss (abp, pgd): L_d = mean V_beta(x, y) (45) over the latents x (B, N, d_x) or
    (B, d_x); sets ``.grad`` of beta to nabla_beta L_d. With ``want_x_grad`` also returns nabla_x [U(x) + V(x, y)]
    per latent (U the fixed prior's energy, no parameters), the particle drift, from the same backward pass."""
    x = x.detach().requires_grad_(want_x_grad)
    v = model.V(x, y)  # (B, N) or (B,)
    n = v.numel()
    total = v.sum() + (model.energy(x).sum() if want_x_grad else 0.0)
    params = [p for p in model.generator.parameters() if p.requires_grad]
    inputs = [x, *params] if want_x_grad else params
    grads = torch.autograd.grad(total, inputs) if inputs else ()
    for p, g in zip(params, grads[len(inputs) - len(params):]):
        p.grad = g / n
    return v.detach().mean(), grads[0] if want_x_grad else None


def optimizer_steps(state: TrainState) -> None:
    """AdamStep on alpha and beta with the gradients set by :func:`backward_losses` (optional norm clipping)."""
    for opt in (state.opt_energy, state.opt_generator):
        if opt is None:
            continue
        if state.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], state.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
