"""Evaluation of a trained run: samples, MMD^2 against held-out data, and the energy landscape.

MMD^2 is not in the paper (its UAI version compares the synthetic runs qualitatively, paper.md 4.1); it is our
addition, following paper.md section 9 row 4: 5,000 model samples against 5,000 fresh points from the data
generator (seed ``data.eval_seed``), in ambient space, Gaussian kernel with the median-heuristic bandwidth.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from . import run as rundir
from .checkpoint import atomic_save_npz, atomic_write_json
from .config import RunConfig
from .data import make_synthetic
from .errors import ConfigError
from .metrics import mmd2_unbiased
from .models import LatentEBM
from .sampling import decode_samples, sample_latents


def sampler_settings(cfg: RunConfig) -> tuple[int, float]:
    """(J, gamma) for sampling: the eval section's values, else the algorithm's training values."""
    n_steps = cfg.eval.n_prior_steps or cfg.algorithm.n_prior_steps
    gamma = cfg.eval.gamma or cfg.algorithm.gamma
    return n_steps, gamma


def particles_or_steps(cfg: RunConfig) -> int:
    """N of the paper's grid: particles per data point (EBIPLA) or posterior ULA steps (LEBM)."""
    algo = cfg.algorithm
    return algo.n_posterior_steps if algo.name == "lebm" else algo.n_particles


def run_fields(cfg: RunConfig, payload: dict) -> dict:
    """What every metrics.json records about the run it evaluates (``payload``: its checkpoint): the sampler, the
    iteration, data set, method, N and seed (the fields the tables group by), and the divergence recoveries that
    training went through with the step scale they left (train.divergence; the tables count recovered runs)."""
    n_steps, gamma = sampler_settings(cfg)
    return {"sampler_steps": n_steps, "sampler_gamma": gamma, "iteration": payload["iteration"],
            "dataset": cfg.data.name, "algorithm": cfg.algorithm.name, "n": particles_or_steps(cfg), "seed": cfg.seed,
            "divergence_recoveries": payload.get("recoveries", 0), "step_scale": payload.get("step_scale", 1.0)}


def draw_latents(model: LatentEBM, cfg: RunConfig, n: int | None = None) -> torch.Tensor:
    """Prior samples (n, d_x) with per-sample seeds from ``eval.sample_seed``."""
    n_steps, gamma = sampler_settings(cfg)
    return sample_latents(model, n or cfg.eval.n_samples, n_steps, gamma, cfg.eval.sample_seed,
                          cfg.eval.sample_batch_size)


def draw_samples(model: LatentEBM, cfg: RunConfig, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(latents (n, d_x), observations (n, *obs)): prior samples, then decoded."""
    x = draw_latents(model, cfg, n)
    y = decode_samples(model, x, cfg.eval.sample_seed, cfg.eval.decoder_noise, cfg.eval.sample_batch_size)
    return x, y


@torch.no_grad()
def energy_landscape(model: LatentEBM, bounds: np.ndarray, grid: int) -> dict[str, np.ndarray]:
    """exp(-U_alpha) on a grid x grid lattice over ``bounds`` [[x0_lo, x0_hi], [x1_lo, x1_hi]], normalised so that
    density * cell_area sums to 1 (paper Figure 1's "exponentiated energy landscape"). 2-d latents only."""
    if model.d_x != 2:
        raise ConfigError(f"an energy landscape needs a 2-d latent space; this model has model.latent_dim = "
                          f"{model.d_x}.")
    device = next(model.parameters()).device
    axes = [torch.linspace(float(lo), float(hi), grid, dtype=torch.float64) for lo, hi in bounds]
    g0, g1 = torch.meshgrid(axes[0], axes[1], indexing="xy")  # (grid, grid): rows follow x1, columns x0
    points = torch.stack([g0, g1], dim=-1).reshape(-1, 2).float().to(device)
    log_p = -model.energy(points).double().cpu()
    cell = float((axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0]))
    log_p = log_p - torch.logsumexp(log_p, 0) - math.log(cell)
    return {"x0": axes[0].numpy(), "x1": axes[1].numpy(), "density": log_p.exp().reshape(grid, grid).numpy(),
            "bounds": np.asarray(bounds, dtype=np.float64)}


def landscape_bounds(latents: torch.Tensor, margin: float) -> np.ndarray:
    """The latents' bounding box, widened by ``margin`` of its span on each side. -> (2, 2)."""
    lo, hi = latents.min(0).values.double().cpu().numpy(), latents.max(0).values.double().cpu().numpy()
    pad = margin * (hi - lo)
    return np.stack([lo - pad, hi + pad], axis=1)


# ------------------------------------------------------------------------------------------------ run-level


def sample_run(run_dir: str | Path, n: int | None = None, out: str | Path | None = None,
               overrides: list[str] = ()) -> Path:
    """Write ``samples.npz`` (latents ``x``, observations ``y``) for a trained run."""
    trained = rundir.load_run(run_dir, eval_overrides=overrides)
    x, y = draw_samples(trained.model, trained.cfg, n)
    path = Path(out) if out else Path(run_dir) / rundir.SAMPLES
    atomic_save_npz(path, x=x.cpu().numpy(), y=y.cpu().numpy())
    return path


def evaluate_run(run_dir: str | Path, out: str | Path | None = None, overrides: list[str] = ()) -> dict:
    """Synthetic runs: MMD^2 of model samples against held-out data; writes ``metrics.json``, ``samples.npz`` and,
    for a 2-d latent space, ``landscape.npz``. Image runs: see :func:`ebipla.evaluate_images.evaluate_image_run`."""
    trained = rundir.load_run(run_dir, eval_overrides=overrides)
    cfg = trained.cfg
    if cfg.data.is_image:
        from .evaluate_images import evaluate_image_run

        return evaluate_image_run(trained, run_dir, out)
    x, y = draw_samples(trained.model, cfg)
    held_out = make_synthetic(cfg.data, "eval", cfg.eval.n_eval_points).y
    mmd2, bandwidth = mmd2_unbiased(y, held_out, cfg.eval.mmd_bandwidth)
    metrics = {
        "mmd2": mmd2,
        "mmd_bandwidth": bandwidth,
        "mmd_bandwidth_rule": "fixed" if cfg.eval.mmd_bandwidth else "median heuristic",
        "n_samples": cfg.eval.n_samples,
        "n_eval_points": cfg.eval.n_eval_points,
        **run_fields(cfg, trained.payload),
        "n_prior_steps": cfg.algorithm.n_prior_steps,
        "note": "MMD^2 is an addition: the paper reports no synthetic metric",
    }
    atomic_save_npz(Path(run_dir) / rundir.SAMPLES, x=x.cpu().numpy(), y=y.cpu().numpy())
    if trained.model.d_x == 2:  # the landscape from the same latents (what ebipla landscape computes)
        save_landscape(trained, x, Path(run_dir) / rundir.LANDSCAPE)
    atomic_write_json(Path(out) if out else Path(run_dir) / rundir.EVAL_METRICS, metrics)
    return metrics


def save_landscape(trained: rundir.TrainedRun, latents: torch.Tensor, path: Path) -> Path:
    bounds = landscape_bounds(latents, trained.cfg.eval.landscape_margin)
    atomic_save_npz(path, **energy_landscape(trained.model, bounds, trained.cfg.eval.landscape_grid))
    return path


def landscape_run(run_dir: str | Path, out: str | Path | None = None, overrides: list[str] = ()) -> Path:
    """Write ``landscape.npz``: normalised exp(-U) on a grid spanning the model's latent samples."""
    trained = rundir.load_run(run_dir, eval_overrides=overrides)
    path = Path(out) if out else Path(run_dir) / rundir.LANDSCAPE
    return save_landscape(trained, draw_latents(trained.model, trained.cfg), path)
