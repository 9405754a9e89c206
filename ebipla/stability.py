"""``ebipla trace``: replay a run from its checkpoint one iteration at a time and record why it stays stable or not.

A diagnostic for the energy running away (train.divergence): it continues an EBIPLA run from ``checkpoint.pt``
with the run's own random stream (so, with no overrides, it retraces exactly what training did) and records, per
iteration k, before the update:

* the two terms of the energy loss (eq. 46): ``u_pos`` = mean U_alpha over the batch particles X_k^{B,1:N} and
  ``u_neg`` = mean U_alpha over the short-run prior samples X_hat_{k,J} (``loss_energy`` = u_pos - u_neg);
* the prior chain's stability: ``gamma_curv_max`` / ``gamma_curv_p99`` = gamma lambda_max(nabla^2 U_alpha) over
  the chain's end points (ULA on a locally quadratic U is stable only while gamma lambda_max < 2), and
  ``gamma_curv_data`` the same at the batch particles (where U is trained);
* where the chains end: ``chain_norm_max`` (largest |X_hat_J|), ``chain_outside`` (fraction outside the batch
  particles' bounding box widened by half its span);
* the particles' stability: ``h_curv_particles`` = h lambda_max(nabla^2 U + J_g^T J_g / sigma^2) at the batch
  particles (for the linear generator J_g = W; the drift of eq. 13 is stable while it is below 2);
* ``alpha_step``: |alpha_{k+1} - alpha_k|, the size of the Adam update of the energy.

Curvatures come from central differences of nabla_x U in float64 (exact up to O(eps^2)). Overrides (``--set``)
change the continuation, e.g. ``algorithm.gamma=0.0045`` or ``algorithm.n_prior_steps=1000``; ``--particles n``
keeps the first n particles of every cloud (and sets algorithm.n_particles = n) to test the energy loss's
dependence on N. Only the practical EBIPLA (Algorithms 2-3, pre-update losses) is supported.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import math
from collections.abc import Iterator
from pathlib import Path

import torch

from . import run as rundir
from .algorithms import ALGORITHMS
from .algorithms import ebipla as ebipla_algorithm
from .checkpoint import atomic_write_text, load_checkpoint
from .config import config_from_layers
from .config.loader import parse_override
from .errors import ConfigError
from .trainer import Trainer, batch_indices

FIELDS = ("iteration", "loss_energy", "u_pos", "u_neg", "gamma_curv_max", "gamma_curv_p99", "gamma_curv_data",
          "chain_norm_max", "chain_outside", "h_curv_particles", "alpha_step", "loss_decoder")


def _layers(run_dir: Path, payload: dict, overrides: list[str]) -> list[tuple[dict, str]]:
    layers = [(payload["config"], f"the config stored in {run_dir / rundir.CHECKPOINT}")]
    for text in overrides:
        keys, value = parse_override(text)
        nested = value
        for key in reversed(keys):
            nested = {key: nested}
        layers.append((nested, "command line"))
    return layers


@torch.no_grad()
def max_curvature(energy: torch.nn.Module, x: torch.Tensor, extra: torch.Tensor | None = None,
                  eps: float = 1e-4) -> torch.Tensor:
    """lambda_max of the symmetrised Hessian of U (+ ``extra``, a constant (d, d) matrix) at each row of x (n, d),
    by central differences of nabla_x U in float64. -> (n,)"""
    e64 = copy.deepcopy(energy).double()
    grad = e64.grad_x_fn()
    x64 = x.double()
    d = x64.shape[1]
    cols = []
    for j in range(d):
        step = torch.zeros(d, dtype=torch.float64)
        step[j] = eps
        cols.append((grad(x64 + step) - grad(x64 - step)) / (2 * eps))  # (n, d): column j of the Hessian
    hess = torch.stack(cols, dim=2)  # (n, d, d)
    hess = 0.5 * (hess + hess.transpose(1, 2))
    if extra is not None:
        hess = hess + extra.double()
    return torch.linalg.eigvalsh(hess)[:, -1]


def _decoder_curvature(model) -> torch.Tensor | None:
    """J_g^T J_g / sigma^2 for a linear generator (constant in x), else None."""
    weight = getattr(model.generator, "weight", None)
    if weight is None:
        layer = next((m for m in model.generator.modules() if isinstance(m, torch.nn.Linear)), None)
        weight = None if layer is None else layer.weight
    if weight is None or weight.dim() != 2:
        return None
    return weight.detach().double().t() @ weight.detach().double() / model.sigma**2


@contextlib.contextmanager
def _capture_prior_samples() -> Iterator[dict]:
    """While open, the EBIPLA step's prior chains report their end points X_hat_{k,J} (B, d_x), with the mean of
    U_{alpha_k} there and lambda_max of its Hessian, computed when the chains end (before the Adam step changes
    alpha). The step itself is unchanged: the chains run once, with the step's own random draws."""
    seen: dict = {}
    original = ebipla_algorithm.fresh_prior_samples

    def recording(energy, *args, **kwargs):
        x_hat = original(energy, *args, **kwargs)
        with torch.no_grad():
            seen["u_neg"] = float(energy(x_hat).mean())
        finite = torch.isfinite(x_hat).all(1)
        seen["curvature"] = max_curvature(energy, x_hat[finite]) if finite.any() else torch.tensor([math.inf])
        seen["x_hat"] = x_hat
        return x_hat

    ebipla_algorithm.fresh_prior_samples = recording
    try:
        yield seen
    finally:
        ebipla_algorithm.fresh_prior_samples = original


def _override_learning_rates(trainer: Trainer, saved_train: dict) -> None:
    """Loading the optimisers restores the checkpoint's learning rates; an overridden ``train.lr_energy`` or
    ``train.lr_generator`` rescales them (and their schedules) by new / old."""
    train_cfg = trainer.cfg.train
    pairs = ((trainer.state.opt_energy, train_cfg.lr_energy / saved_train["lr_energy"]),
             (trainer.state.opt_generator, train_cfg.lr_generator / saved_train["lr_generator"]))
    for (opt, ratio), sched in zip(pairs, trainer.schedulers):
        if opt is None or ratio == 1.0:
            continue
        for group in opt.param_groups:
            group["lr"] *= ratio
        sched.base_lrs = [lr * ratio for lr in sched.base_lrs]


def trace(run_dir: str | Path, iterations: int, overrides: list[str] = (), particles: int | None = None,
          out: str | Path | None = None) -> list[dict]:
    """Continue ``run_dir``'s checkpoint for ``iterations`` iterations and return one row of FIELDS per iteration
    (also written to ``out`` as CSV). Nothing in ``run_dir`` is written."""
    run_dir = Path(run_dir)
    payload = load_checkpoint(run_dir / rundir.CHECKPOINT, map_location="cpu")
    if particles is not None:
        overrides = [*overrides, f"algorithm.n_particles={particles}"]
    cfg = config_from_layers(_layers(run_dir, payload, list(overrides)))
    if cfg.algorithm.name != "ebipla" or cfg.algorithm.loss_particles != "pre_update":
        raise ConfigError(f"ebipla trace supports EBIPLA with pre_update losses; {run_dir} is {cfg.algorithm.name}.")
    device = torch.device("cpu")
    trainer = Trainer.build(cfg, run_dir, device)
    trainer.load(payload)
    _override_learning_rates(trainer, payload["config"]["train"])
    state, gen, algo = trainer.state, trainer.gen, ALGORITHMS["ebipla"]
    if particles is not None:
        state.particles = state.particles[:, :particles].contiguous()
    if state.iteration < cfg.algorithm.warmup_iters:
        raise ConfigError("ebipla trace starts after the warm-up; this checkpoint is inside it.")
    decoder_curv = _decoder_curvature(state.model)
    rows, perm_cache = [], {}
    for _ in range(iterations):
        algo_cfg = state.cfg
        idx = batch_indices(cfg, len(trainer.data), state.iteration, perm_cache)
        y = trainer.data.batch(idx)
        model = state.model
        x_pos = state.particles[idx]  # (B, N, d_x)
        flat = x_pos.reshape(-1, model.d_x)
        sub = flat[torch.linspace(0, len(flat) - 1, min(len(flat), 2000)).long()]
        with torch.no_grad():
            u_pos = float(model.energy(x_pos).mean())
        curv_data = max_curvature(model.energy, sub)
        curv_post = max_curvature(model.energy, sub, decoder_curv) if decoder_curv is not None else None
        alpha_before = torch.cat([p.detach().flatten() for p in model.energy.parameters()]).clone()
        with _capture_prior_samples() as chains:  # X_hat_{k,J} and U_{alpha_k} at it, from inside the step
            state, metrics = algo.step(state, (idx, y), gen)
        x_hat, u_neg, curv_chain = chains["x_hat"], chains["u_neg"], chains["curvature"]
        lo, hi = flat.min(0).values, flat.max(0).values
        pad = 0.5 * (hi - lo)
        outside = ((x_hat < lo - pad) | (x_hat > hi + pad)).any(1).float().mean()
        alpha_after = torch.cat([p.detach().flatten() for p in model.energy.parameters()])
        rows.append({
            "iteration": state.iteration, "loss_energy": float(metrics["loss_energy"]), "u_pos": u_pos,
            "u_neg": u_neg, "gamma_curv_max": algo_cfg.gamma * float(curv_chain.max()),
            "gamma_curv_p99": algo_cfg.gamma * float(torch.quantile(curv_chain, 0.99)),
            "gamma_curv_data": algo_cfg.gamma * float(curv_data.max()),
            "chain_norm_max": float(x_hat.norm(dim=1).max()), "chain_outside": float(outside),
            "h_curv_particles": algo_cfg.h * float(curv_post.max()) if curv_post is not None else math.nan,
            "alpha_step": float((alpha_after - alpha_before).norm()),
            "loss_decoder": float(metrics["loss_decoder"]),
        })
    if out is not None:
        write_rows(Path(out), rows)
    return rows


def write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(FIELDS)]
    lines += [",".join(f"{r[f]:.6g}" if isinstance(r[f], float) else str(r[f]) for f in FIELDS) for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_rows(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]

