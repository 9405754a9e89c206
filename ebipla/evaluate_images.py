"""Evaluation of a trained image run: FID, reconstruction MSE, a sample grid and latent interpolations.

* FID (paper.md 4.2): ``eval.fid.n_samples`` prior samples, each its own seeded ULA chain (J steps of gamma from
  N(0, I), the training sampler) decoded without noise, against the training set's cached statistics.
* MSE: MAP reconstructions of the validation split (:mod:`ebipla.metrics.mse`).
* Figure 2's data: the first ``eval.figures.grid`` samples of the FID stream.
* FID reference points (``ebipla fid-baselines``, :func:`fid_baselines`): the FID of the held-out real images and of
  the untrained model (the run's initial parameters, the same sampler and sample count) against the same reference,
  so that a FID on a data set the paper does not use (the offline digits) can be read.
* Figure 4's data: latent interpolations lerp(x0, x1, t) = t x0 + (1 - t) x1, decoded, between pairs of validation
  images (their MAP latents) and of training images (one of the final particles of each, chosen at random; LEBM
  keeps no particles, so its training latents are MAP latents too).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from . import run as rundir
from .checkpoint import atomic_save_npz, atomic_write, atomic_write_json
from .config import RunConfig
from .data.images import as_numpy_grid, load_split, to_uint8, to_unit_range
from .metrics import fid as fidlib
from .metrics.mse import map_latents, reconstruction_mse
from .models import LatentEBM
from .run import particles_or_steps, run_fields, sampler_settings
from .sampling import sample_latents

STREAM_FIGURES = 31


def reference_path(cfg: RunConfig) -> Path:
    """Where the training set's FID statistics live (eval.fid.reference, or next to the prepared data)."""
    if cfg.eval.fid.reference:
        return Path(cfg.eval.fid.reference)
    return cfg.data.prepared_dir / f"fid_ref_{cfg.eval.fid.feature_extractor}.npz"


def compute_reference(cfg: RunConfig, device: torch.device, out: str | Path | None = None) -> Path:
    """FID statistics of the training images (``ebipla fid-ref``), computed once per data set and extractor."""
    images = load_split(cfg.data, "train")
    extractor = fidlib.create_extractor(cfg.eval.fid.feature_extractor, cfg.eval.fid.weights_path, device)
    stats = fidlib.statistics(fidlib.image_batches(images, cfg.eval.fid.batch_size), extractor)
    path = Path(out) if out else reference_path(cfg)
    fidlib.save_statistics(path, stats, n=len(images), extractor=cfg.eval.fid.feature_extractor,
                           dataset=cfg.data.dataset_name)
    return path


@torch.no_grad()
def sample_images(model: LatentEBM, cfg: RunConfig, start: int, count: int) -> torch.Tensor:
    """uint8 samples start..start+count-1 (each from its own seeded chain), (count, 3, H, W)."""
    n_steps, gamma = sampler_settings(cfg)
    x = sample_latents(model, count, n_steps, gamma, cfg.eval.sample_seed, cfg.eval.sample_batch_size, first=start)
    return to_uint8(model.decode(x)).cpu()


def fid_of_model(model: LatentEBM, cfg: RunConfig, extractor) -> tuple[float, torch.Tensor]:
    """FID of eval.fid.n_samples samples against the reference, and the first eval.figures.grid samples."""
    n, batch = cfg.eval.fid.n_samples, cfg.eval.fid.batch_size
    grid: list[torch.Tensor] = []

    def batches():
        for start in range(0, n, batch):
            images = sample_images(model, cfg, start, min(batch, n - start))
            if start < cfg.eval.figures.grid:
                grid.append(images[:cfg.eval.figures.grid - start])
            yield images

    stats = fidlib.statistics(batches(), extractor)
    fid = fidlib.frechet_distance(fidlib.load_statistics(reference_path(cfg)), stats)
    return fid, torch.cat(grid)


def fid_baselines(run_dir: str | Path, out: str | Path | None = None, overrides: list[str] = ()) -> dict:
    """Reference points for a trained image run's FID, written to ``out`` (default: the run's fid_baselines.json):

    * ``fid_heldout_real``: the validation split's real images against the training set's statistics (the
      reference every FID of the run uses); ``n_heldout`` images, fewer than the model's samples, which biases it
      upwards;
    * ``fid_untrained``: the model at its initial parameters (``run.new_model`` from the run's seed, as training
      starts), sampled exactly as ``evaluate_image_run`` samples the trained one (J steps of gamma from N(0, I),
      ``eval.fid.n_samples`` samples, the same per-sample seeds).
    """
    trained = rundir.load_run(run_dir, eval_overrides=overrides)
    cfg = trained.cfg
    device = next(trained.model.parameters()).device
    extractor = fidlib.create_extractor(cfg.eval.fid.feature_extractor, cfg.eval.fid.weights_path, device)
    reference = fidlib.load_statistics(reference_path(cfg))
    val = load_split(cfg.data, "val")
    real = fidlib.statistics(fidlib.image_batches(val, cfg.eval.fid.batch_size), extractor)
    untrained = rundir.new_model(cfg, tuple(trained.payload["obs_shape"]), device).eval()
    fid_untrained, _ = fid_of_model(untrained, cfg, extractor)
    n_steps, gamma = sampler_settings(cfg)
    result = {
        "fid_heldout_real": fidlib.frechet_distance(reference, real), "n_heldout": len(val),
        "fid_untrained": fid_untrained, "fid_samples": cfg.eval.fid.n_samples, "n_reference": reference["n"],
        "fid_feature_extractor": cfg.eval.fid.feature_extractor, "fid_reference": str(reference_path(cfg)),
        "sampler_steps": n_steps, "sampler_gamma": gamma, "dataset": cfg.data.name, "algorithm": cfg.algorithm.name,
        "n": particles_or_steps(cfg), "seed": cfg.seed, "run": str(run_dir),
    }
    atomic_write_json(Path(out) if out else Path(run_dir) / rundir.FID_BASELINES, result)
    return result


@torch.no_grad()
def interpolate(model: LatentEBM, x0: torch.Tensor, x1: torch.Tensor, points: int) -> torch.Tensor:
    """uint8 (pairs, points, 3, H, W): decode t x0 + (1 - t) x1 for t = 0, ..., 1 (the paper's lerp)."""
    t = torch.linspace(0, 1, points, device=x0.device)[None, :, None]  # (1, points, 1)
    path = t * x0[:, None] + (1 - t) * x1[:, None]  # (pairs, points, d_x)
    return to_uint8(model.decode(path)).cpu()


def training_latents(trained: rundir.TrainedRun, images: torch.Tensor, indices: torch.Tensor,
                     gen: torch.Generator) -> torch.Tensor:
    """One latent per training image: a random final particle (EBIPLA) or the MAP latent (no particle bank)."""
    bank = trained.payload.get("particles")
    device = next(trained.model.parameters()).device
    if bank is not None:
        pick = torch.randint(bank.shape[1], (len(indices),), generator=gen)
        return bank[indices, pick].to(device)
    y = to_unit_range(images[indices].to(device))
    return map_latents(trained.model, y, trained.cfg.eval.mse, first_index=0)


def evaluate_image_run(trained: rundir.TrainedRun, run_dir: str | Path, out: str | Path | None = None) -> dict:
    """FID, MSE and the figure data of a trained image run; writes metrics.json, samples.npz, interpolations.npz
    and PNG previews of both into the run directory."""
    from .bench.images import step_gflops  # the FLOP counter of Table 4, imported only here

    cfg, model = trained.cfg, trained.model
    device = next(model.parameters()).device
    run_dir = Path(run_dir)

    # FID and the sample grid.
    extractor = fidlib.create_extractor(cfg.eval.fid.feature_extractor, cfg.eval.fid.weights_path, device)
    fid, grid = fid_of_model(model, cfg, extractor)

    # Reconstruction MSE on the validation split.
    val = load_split(cfg.data, "val")
    if cfg.eval.mse.n_images is not None:
        val = val[:cfg.eval.mse.n_images]
    mse = reconstruction_mse(model, val, cfg.eval.mse) if len(val) else None
    encoder_mse = (reconstruction_mse(model, val, cfg.eval.mse, through_encoder=True)
                   if len(val) and model.encoder is not None else None)

    # Interpolations between validation images (MAP latents) and training images (particles).
    figures = cfg.eval.figures
    gen = torch.Generator().manual_seed(figures.seed)
    arrays: dict[str, np.ndarray] = {"grid": grid.numpy(), "t": np.linspace(0, 1, figures.points)}
    if mse is not None and len(val) >= 2:
        pairs = torch.randint(len(val), (figures.pairs, 2), generator=gen)
        latents = mse["latents"].to(device)
        arrays["val"] = interpolate(model, latents[pairs[:, 0]], latents[pairs[:, 1]], figures.points).numpy()
        arrays["val_pairs"] = pairs.numpy()
    train_images = load_split(cfg.data, "train")
    pairs = torch.randint(len(train_images), (figures.pairs, 2), generator=gen)
    x = training_latents(trained, train_images, pairs.flatten(), gen).reshape(figures.pairs, 2, -1)
    arrays["train"] = interpolate(model, x[:, 0], x[:, 1], figures.points).numpy()
    arrays["train_pairs"] = pairs.numpy()

    metrics = {
        "fid": fid,
        "fid_samples": cfg.eval.fid.n_samples,
        "fid_feature_extractor": cfg.eval.fid.feature_extractor,
        "fid_reference": str(reference_path(cfg)),
        "mse": mse["mse"] if mse else None,
        "mse_01": mse["mse_01"] if mse else None,
        "mse_images": mse["n_images"] if mse else 0,
        **({"mse_encoder": encoder_mse["mse"]} if encoder_mse else {}),  # vae, rae: through the encoder's mean
        **run_fields(cfg, trained.payload, run_dir),
        "gflops_per_step": round(step_gflops(cfg, tuple(trained.payload["obs_shape"]), device), 3),
    }
    if metrics["train_seconds"] is not None and metrics["iteration"]:
        metrics["seconds_per_iteration"] = metrics["train_seconds"] / metrics["iteration"]
    atomic_save_npz(run_dir / rundir.SAMPLES, grid=grid.numpy())
    atomic_save_npz(run_dir / rundir.INTERPOLATIONS, **arrays)
    write_png(run_dir / "samples.png", as_numpy_grid(grid))
    rows = [arrays[k].reshape(-1, *arrays[k].shape[2:]) for k in ("val", "train") if k in arrays]
    write_png(run_dir / "interpolations.png", as_numpy_grid(torch.from_numpy(np.concatenate(rows)), figures.points))
    atomic_write_json(Path(out) if out else run_dir / rundir.EVAL_METRICS, metrics)
    return metrics


def write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    atomic_write(path, lambda f: f.write(buf.getvalue()))
