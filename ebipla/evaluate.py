"""Evaluation of a trained run: samples, MMD^2 against held-out data, and the energy landscape.

MMD^2 is not in the paper (its UAI version compares the synthetic runs qualitatively, paper.md 4.1); it is our
addition, following paper.md section 9 row 4: 5,000 model samples against 5,000 fresh points from the data
generator (seed ``data.eval_seed``), in ambient space, Gaussian kernel with the median-heuristic bandwidth.

Two samplers are scored. ``mmd2``: the short-run samples, J ULA steps of gamma from N(0, I) (the training sampler,
eq. 14), i.e. the model as the paper samples it. ``mmd2_long_run``: long-run MALA chains on exp(-U) itself
(``eval.long_run_*``; :func:`ebipla.sampling.long_run_latents`), decoded the same way and scored with the same
kernel (the short-run bandwidth), which asks whether exp(-U) / Z, and not only the short-run chain, models the
data. The synthetic energies have no Gaussian tilt, so exp(-U) need not be normalisable: where U falls without
bound the chains run off, which ``long_run_escaped_fraction`` (chains with |x| beyond
``long_run_escape_radius``) and ``long_run_outside_grid`` (chains outside the landscape's grid) record.
``long_run_mixing_mmd2`` compares the decoded states of one half of the chains midway through the sampling phase
with those of the other half at its end: near 0 (within the estimator's noise) when the chains have mixed; it
says nothing once the chains have escaped (far-away points all look alike to the kernel), so read it together
with the escaped fraction.

Vectors from a file (``data.name: array``) are scored the same way, against the first ``eval.n_eval_points`` points
of their validation split in place of a fresh draw. Samples (short- and long-run) are mapped back to the data's
units (:class:`~ebipla.data.DataTransform`, recorded in the checkpoint) before the MMD and in samples.npz; the
landscape stays in latent space.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from . import run as rundir
from .checkpoint import atomic_save_npz, atomic_write_json
from .config import RunConfig
from .data import DataTransform, held_out_data
from .errors import ConfigError
from .metrics import mmd2_unbiased
from .models import LatentEBM
from .run import run_fields, sampler_settings
from .sampling import decode_samples, long_run_latents, sample_latents


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


def long_run(model: LatentEBM, cfg: RunConfig, x_short: torch.Tensor, held_out: torch.Tensor, bandwidth: float,
             bounds: np.ndarray | None = None,
             transform: DataTransform | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Long-run MALA samples of exp(-U) (``eval.long_run_*``), decoded, mapped to the data's units by
    ``transform`` (None: the identity) and scored against ``held_out`` with the short-run MMD's ``bandwidth``.
    ``x_short``: the short-run latents (the default escape radius is 10 times their largest norm); ``bounds``: the
    landscape's grid (2, 2), for the fraction of chains outside it.

    Returns (metrics, arrays): the ``long_run_*`` fields and ``mmd2_long_run``; ``x_long`` and ``y_long``.
    """
    ev, transform = cfg.eval, transform or DataTransform()
    n, n_steps = ev.long_run_chains or ev.n_samples, ev.long_run_steps
    n_burnin = min(ev.long_run_burnin, n_steps)
    mid = (n_burnin + n_steps) // 2  # midway through the sampling phase
    start, cpu_start = time.perf_counter(), time.process_time()
    chains = long_run_latents(model, n, n_steps, n_burnin, ev.long_run_step_init, ev.sample_seed, (mid,))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    y_long, y_mid = (transform.to_data(decode_samples(model, x, ev.sample_seed, ev.decoder_noise,
                                                      ev.sample_batch_size))
                     for x in (chains.x, chains.snapshots[mid]))
    half = n // 2  # mixing: chains 0..half-1 at `mid` against chains half..n-1 at the end (independent sets)
    mixing, _ = mmd2_unbiased(y_mid[:half], y_long[half:], bandwidth)
    radius = ev.long_run_escape_radius or 10.0 * float(x_short.norm(dim=-1).max())
    norms = chains.x.norm(dim=-1)
    metrics = {
        "mmd2_long_run": mmd2_unbiased(y_long, held_out, bandwidth)[0],
        "long_run_chains": n, "long_run_steps": n_steps, "long_run_burnin": n_burnin,
        "long_run_step_size": chains.step_size, "long_run_acceptance": chains.acceptance,
        "long_run_burnin_acceptance": chains.burnin_acceptance,
        "long_run_mixing_mmd2": mixing, "long_run_mixing_steps": [mid, n_steps],
        "long_run_escape_radius": radius, "long_run_escaped_fraction": float((norms > radius).float().mean()),
        "long_run_norm_median": float(norms.median()), "long_run_norm_max": float(norms.max()),
        "long_run_seconds": round(seconds, 2), "long_run_cpu_seconds": round(cpu_seconds, 2),  # CPU: all threads
    }
    if bounds is not None:
        lo, hi = torch.as_tensor(bounds[:, 0]).to(chains.x), torch.as_tensor(bounds[:, 1]).to(chains.x)
        inside = ((chains.x >= lo) & (chains.x <= hi)).all(-1)
        metrics["long_run_outside_grid"] = float(1.0 - inside.float().mean())
    return metrics, {"x_long": chains.x.cpu().numpy(), "y_long": y_long.cpu().numpy()}


# ------------------------------------------------------------------------------------------------ run-level


def sample_run(run_dir: str | Path, n: int | None = None, out: str | Path | None = None,
               overrides: list[str] = ()) -> Path:
    """Write ``samples.npz`` (latents ``x``, observations ``y`` in the data's units) for a trained run."""
    trained = rundir.load_run(run_dir, eval_overrides=overrides)
    x, y = draw_samples(trained.model, trained.cfg, n)
    y = trained.transform.to_data(y)
    path = Path(out) if out else Path(run_dir) / rundir.SAMPLES
    atomic_save_npz(path, x=x.cpu().numpy(), y=y.cpu().numpy())
    return path


def evaluate_run(run_dir: str | Path, out: str | Path | None = None, overrides: list[str] = ()) -> dict:
    """Synthetic and array runs: MMD^2 of model samples against held-out data (:func:`ebipla.data.held_out_data`), in
    the data's units; writes ``metrics.json``, ``samples.npz`` and, for a 2-d latent space, ``landscape.npz``. Image
    runs: see :func:`ebipla.evaluate_images.evaluate_image_run`."""
    trained = rundir.load_run(run_dir, eval_overrides=overrides)
    cfg = trained.cfg
    if cfg.data.is_image:
        from .evaluate_images import evaluate_image_run

        return evaluate_image_run(trained, run_dir, out)
    x, y = draw_samples(trained.model, cfg)
    y = trained.transform.to_data(y)
    held_out = held_out_data(cfg.data, cfg.eval.n_eval_points)
    mmd2, bandwidth = mmd2_unbiased(y, held_out, cfg.eval.mmd_bandwidth)
    metrics = {
        "mmd2": mmd2,
        "mmd_bandwidth": bandwidth,
        "mmd_bandwidth_rule": "fixed" if cfg.eval.mmd_bandwidth else "median heuristic",
        "n_samples": cfg.eval.n_samples,
        "n_eval_points": len(held_out),
        **run_fields(cfg, trained.payload, run_dir),
        "n_prior_steps": getattr(cfg.algorithm, "n_prior_steps", 0),
        "note": "MMD^2 is an addition: the paper reports no synthetic metric",
    }
    arrays = {"x": x.cpu().numpy(), "y": y.cpu().numpy()}
    bounds = landscape_bounds(x, cfg.eval.landscape_margin) if trained.model.d_x == 2 else None
    if cfg.eval.long_run_steps > 0:  # long-run samples of exp(-U), scored with the same kernel
        long_metrics, long_arrays = long_run(trained.model, cfg, x, held_out, bandwidth, bounds,
                                             trained.transform)
        metrics.update(long_metrics)
        arrays.update(long_arrays)
    atomic_save_npz(Path(run_dir) / rundir.SAMPLES, **arrays)
    if bounds is not None:  # the landscape on the grid of the same latents (what ebipla landscape computes)
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
