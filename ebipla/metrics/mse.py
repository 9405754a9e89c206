"""Reconstruction MSE through MAP latents (paper.md 4.2, following Kuntz et al. 2023).

    x_map = argmin_x |y - g_beta(x)|^2 / (2 sigma^2) + U_alpha(x),   reconstruction g_beta(x_map)

solved from ``restarts`` random starts x ~ N(0, I), each with ``iterations`` steps of Adam (PyTorch defaults,
initial lr 1) under ReduceLROnPlateau (PyTorch defaults: factor 0.1, patience 10, relative threshold 1e-4) stepped
on the objective every iteration; per image the restart with the lowest final objective is kept. Both the
optimiser and the scheduler act on each image separately, written out vectorised over the batch (a scheduler on
the batch's summed objective would couple the images), and restart r of image i starts from the generator seeded
by (seed, i), so the result does not depend on the batch size.

The MSE is the per-image mean over C x H x W of (y - g(x_map))^2, averaged over the images, on data in [-1, 1]
(the LEBM-family convention); on [0, 1] it is a quarter of that.
"""

from __future__ import annotations

import torch

from ..config.schema import MseConfig
from ..data.images import to_unit_range
from ..models import LatentEBM
from ..seeding import per_sample_normal

STREAM_MAP = 21
BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam defaults
FACTOR, PATIENCE, THRESHOLD = 0.1, 10, 1e-4  # torch.optim.lr_scheduler.ReduceLROnPlateau defaults


@torch.no_grad()
def map_objective(model: LatentEBM, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|y - g(x)|^2 / (2 sigma^2) + U(x) per image. x (B, d_x), y (B, *obs) -> (B,)."""
    return model.V(x, y, frozen=True) + model.energy(x)


def adam_plateau(model: LatentEBM, y: torch.Tensor, x: torch.Tensor, iterations: int,
                 lr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image Adam + ReduceLROnPlateau from x; returns (x, final objective)."""
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    lrs = torch.full((len(x), 1), lr, dtype=x.dtype, device=x.device)
    best = torch.full((len(x),), float("inf"), dtype=x.dtype, device=x.device)
    bad = torch.zeros(len(x), dtype=torch.long, device=x.device)
    grad_fn = model.grad_x_posterior_fn(y)  # the parameters stay fixed: set the energy's gradient up once
    for step in range(1, iterations + 1):
        objective = map_objective(model, x, y)  # at the current x, as loss.backward() would see it
        grad = grad_fn(x)
        # Adam (torch.optim.Adam's update, with a learning rate per image).
        m.mul_(BETAS[0]).add_(grad, alpha=1 - BETAS[0])
        v.mul_(BETAS[1]).addcmul_(grad, grad, value=1 - BETAS[1])
        denom = (v.sqrt() / (1 - BETAS[1] ** step) ** 0.5).add_(EPS)
        x = x - lrs / (1 - BETAS[0] ** step) * m / denom
        # ReduceLROnPlateau(mode='min', threshold_mode='rel') per image.
        improved = objective < best * (1 - THRESHOLD)
        best = torch.where(improved, objective, best)
        bad = torch.where(improved, torch.zeros_like(bad), bad + 1)
        reduce = bad > PATIENCE
        lrs = torch.where(reduce[:, None], lrs * FACTOR, lrs)
        bad = torch.where(reduce, torch.zeros_like(bad), bad)
    return x, map_objective(model, x, y)


def map_latents(model: LatentEBM, y: torch.Tensor, cfg: MseConfig, first_index: int) -> torch.Tensor:
    """MAP latents (B, d_x) of images y (B, *obs) in [-1, 1]; image i of the batch is image first_index + i."""
    starts = per_sample_normal(cfg.seed, STREAM_MAP, range(first_index, first_index + len(y)),
                               (cfg.restarts, model.d_x)).to(y.device)  # (B, restarts, d_x)
    best_x, best_obj = None, None
    for r in range(cfg.restarts):
        x, obj = adam_plateau(model, y, starts[:, r], cfg.iterations, cfg.lr)
        if best_x is None:
            best_x, best_obj = x, obj
        else:
            better = obj < best_obj
            best_x = torch.where(better[:, None], x, best_x)
            best_obj = torch.where(better, obj, best_obj)
    return best_x


def reconstruction_mse(model: LatentEBM, images: torch.Tensor, cfg: MseConfig, through_encoder: bool = False) -> dict:
    """MSE of MAP reconstructions of uint8 images (N, 3, H, W); also the MAP latents of every image. With
    ``through_encoder`` the latents are the encoder's instead (:meth:`LatentEBM.encode_mean`; vae and rae)."""
    device = next(model.parameters()).device
    squared, latents = [], []
    for start in range(0, len(images), cfg.batch_size):
        y = to_unit_range(images[start:start + cfg.batch_size].to(device))  # (B, C, H, W) in [-1, 1]
        if through_encoder:
            with torch.no_grad():
                x = model.encode_mean(y)
        else:
            x = map_latents(model, y, cfg, start)
        with torch.no_grad():
            squared.append((y - model.decode(x)).square().flatten(1).mean(1).cpu())
        latents.append(x.cpu())
    per_image = torch.cat(squared)
    mse = float(per_image.mean())
    return {"mse": mse, "mse_01": mse / 4.0, "n_images": len(per_image), "latents": torch.cat(latents)}
