"""The paper's synthetic data sets (paper.md section 4.1) and the toy hierarchical model of the theory.

Every generator is a pure function of its config section, the number of points and a seed: the same seed gives
the same points on every machine (NumPy's PCG64 stream, float64, then float32). Each returns the latent points
x_lat (M, 2) and the observed ambient points y (M, d_y) = T(x_lat).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import atomic_save_npz
from ..config.schema import CircleConfig, DataConfig, MoonsConfig, SwissRollConfig, ToyConfig


@dataclass(frozen=True)
class SyntheticData:
    x_lat: torch.Tensor  # (M, d) latent points before the ambient map
    y: torch.Tensor  # (M, d_y) observations the model is trained on


def rotation(angle_deg: float) -> np.ndarray:
    """T_theta = [[cos, -sin], [sin, cos]]: orthonormal rows, applied as y = T x."""
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def swissroll_arclength(t: np.ndarray) -> np.ndarray:
    """s(t) = (1/2)[t sqrt(1 + t^2) + asinh t]: arc length of (t cos t, t sin t) from 0, up to the 1/8 scale."""
    return 0.5 * (t * np.sqrt(1.0 + t * t) + np.arcsinh(t))


def invert_arclength(s: np.ndarray, n_newton: int = 30) -> np.ndarray:
    """Solve s(t) = s for t >= 0 by Newton's method (s'(t) = sqrt(1 + t^2)); s(t) ~ t^2 / 2 gives the start."""
    t = np.sqrt(2.0 * s)
    for _ in range(n_newton):
        t = t - (swissroll_arclength(t) - s) / np.sqrt(1.0 + t * t)
    return t


def swissroll(cfg: SwissRollConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t_min, t_max = (np.pi * v for v in cfg.t_range_pi)
    s = rng.uniform(swissroll_arclength(t_min), swissroll_arclength(t_max), size=n)  # uniform in arc length
    t = invert_arclength(s)
    x = cfg.scale * np.stack([t * np.cos(t), t * np.sin(t)], axis=1) + cfg.noise_std * rng.standard_normal((n, 2))
    return x, x @ rotation(cfg.angle_deg).T


def moons(cfg: MoonsConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons  # imported here: sklearn costs seconds at startup

    base, _ = make_moons(n_samples=n, noise=0.0, shuffle=True, random_state=int(rng.integers(2**31)))
    x = base + cfg.noise_std * rng.standard_normal((n, 2))
    return x, x @ rotation(cfg.angle_deg).T


def circle(cfg: CircleConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    phi = rng.uniform(0.0, 2.0 * np.pi, size=n)
    x = cfg.radius * np.stack([np.cos(phi), np.sin(phi)], axis=1) + cfg.noise_std * rng.standard_normal((n, 2))
    return x, cfg.ambient_scale * x


def toy(cfg: ToyConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = cfg.alpha_true + rng.standard_normal((n, cfg.dim))
    return x, x + cfg.sigma * rng.standard_normal((n, cfg.dim))


GENERATORS = {"swissroll": swissroll, "moons": moons, "circle": circle, "toy": toy}


def make_synthetic(cfg: DataConfig, split: str = "train", n: int | None = None) -> SyntheticData:
    """Training points (seed ``cfg.seed``) or held-out points (seed ``cfg.eval_seed``)."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    seed = cfg.seed if split == "train" else cfg.eval_seed
    rng = np.random.default_rng(seed)
    x, y = GENERATORS[cfg.name](getattr(cfg, cfg.name), n or cfg.n_points, rng)
    return SyntheticData(torch.from_numpy(x).float(), torch.from_numpy(y).float())


def write_synthetic(cfg: DataConfig, path: str | Path, n_eval: int) -> Path:
    """Save the training points (x_lat, y) and ``n_eval`` held-out points (x_lat_eval, y_eval) as .npz."""
    train, held_out = make_synthetic(cfg, "train"), make_synthetic(cfg, "eval", n_eval)
    atomic_save_npz(path, x_lat=train.x_lat.numpy(), y=train.y.numpy(), x_lat_eval=held_out.x_lat.numpy(),
                    y_eval=held_out.y.numpy())
    return Path(path)
