"""Paper figures drawn from run directories' saved arrays (samples.npz, landscape.npz, interpolations.npz), the
synthetic data files and timing CSVs.

Each figure is written as .pdf and .png with byte-stable metadata.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from .. import run as rundir
from ..config import load_config
from ..data.images import as_numpy_grid
from ..evaluate import particles_or_steps
from ..evaluate_images import INTERPOLATIONS
from ..plotting import landscape, plt, save_both, scatter, wrap
from .paper_values import DATASET_LABELS
from .tables import METHOD_LABELS


def _run_info(run_dir: Path) -> tuple[str, str, int, int]:
    cfg = load_config([run_dir / rundir.CONFIG])
    return cfg.data.name, cfg.algorithm.name, particles_or_steps(cfg), cfg.algorithm.n_prior_steps


def _limits(points: np.ndarray) -> tuple[float, float]:
    span = float(np.abs(points).max()) * 1.15
    return -span, span


def samples_and_landscapes(run_dirs: list[str | Path], data_files: list[str | Path], prefix: str | Path,
                           title: str, timing_csv: str | Path | None = None) -> None:
    """Figure 1. Left: a row per (data set, N) and, per method, its samples and exp(-U); right (with
    ``timing_csv``, an ``ebipla bench`` output): seconds per training step against N.

    ``data_files``: one ``ebipla data`` output per data set, whose held-out points fix the axes and fill the
    first column.
    """
    runs = {_run_info(Path(d))[:3]: Path(d) for d in run_dirs}
    data = {Path(f).stem: np.load(f)["y_eval"] for f in data_files}
    keys = sorted({(ds, n) for ds, _, n in runs}, key=lambda k: (list(data).index(k[0]), k[1]))
    methods = [m for m in METHOD_LABELS if any(r[1] == m for r in runs)]
    cols = 1 + 2 * len(methods)
    extra = 3 if timing_csv else 0  # grid columns of the runtime panel
    fig = plt.figure(figsize=(1.6 * (cols + extra), 1.6 * max(len(keys), 2)))
    grid = fig.add_gridspec(max(len(keys), 2), cols + extra)
    for row, (dataset, n) in enumerate(keys):
        lim = _limits(data[dataset])
        scatter(fig.add_subplot(grid[row, 0]), data[dataset][:2000], f"{dataset} data", lim)
        for i, method in enumerate(methods):
            ax_s, ax_l = fig.add_subplot(grid[row, 1 + 2 * i]), fig.add_subplot(grid[row, 2 + 2 * i])
            run_dir = runs.get((dataset, method, n))
            if run_dir is None:
                ax_s.axis("off")
                ax_l.axis("off")
                continue
            scatter(ax_s, np.load(run_dir / rundir.SAMPLES)["y"][:2000], f"{METHOD_LABELS[method]} N={n}", lim)
            landscape(ax_l, dict(np.load(run_dir / rundir.LANDSCAPE)), f"{METHOD_LABELS[method]} exp(-U)")
    if timing_csv:
        top = max(len(keys) // 2 - 1, 0)
        runtime_panel(fig.add_subplot(grid[top:top + 2, cols + 1:]), timing_csv)
    fig.suptitle(wrap(title, 25 * (cols + extra)), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)


def j_ablation(run_dirs: list[str | Path], prefix: str | Path, title: str) -> None:
    """Appendix E.1: samples and exp(-U) for increasing J (columns), two rows per data set."""
    runs = {(ds, j): Path(d) for d in run_dirs for ds, _, _, j in [_run_info(Path(d))]}
    datasets = sorted({ds for ds, _ in runs})
    js = sorted({j for _, j in runs})
    fig, axes = plt.subplots(2 * len(datasets), len(js), figsize=(1.6 * len(js), 3.2 * len(datasets)),
                             squeeze=False)
    for r, dataset in enumerate(datasets):
        for c, j in enumerate(js):
            run_dir = runs.get((dataset, j))
            if run_dir is None:
                axes[2 * r, c].axis("off")
                axes[2 * r + 1, c].axis("off")
                continue
            y = np.load(run_dir / rundir.SAMPLES)["y"][:2000]
            scatter(axes[2 * r, c], y, f"{dataset} J={j}", _limits(y))
            landscape(axes[2 * r + 1, c], dict(np.load(run_dir / rundir.LANDSCAPE)), "exp(-U)")
    fig.suptitle(wrap(title, 25 * len(js)), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)


def runtime_panel(ax: plt.Axes, timing_csv: str | Path) -> None:
    """Figure 1 (right): seconds per training step against N, mean +- s.d. over the timed runs (the paper's
    activations: SiLU for EBIPLA, ReLU for LEBM)."""
    with open(timing_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["activations"].endswith("(paper)")]
    n = [int(r["N"]) for r in rows]
    for method, label in METHOD_LABELS.items():
        mean = [float(r[f"{method}_mean_s"]) for r in rows]
        std = [float(r[f"{method}_std_s"]) for r in rows]
        ax.errorbar(n, mean, yerr=std, marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(n, [str(v) for v in n])
    ax.set_xlabel("N (EBIPLA particles / LEBM posterior steps)", fontsize=7)
    ax.set_ylabel("seconds per training step", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.set_title(wrap(f"Swiss roll, J = {rows[0]['J']}, B = {rows[0]['B']}; {rows[0]['device']}", 45)
                 if rows else "", fontsize=7)
    ax.legend(fontsize=7)


def _image_axis(ax: plt.Axes, image: np.ndarray, title: str) -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def sample_grids(run_dirs: list[str | Path], prefix: str | Path, title: str) -> None:
    """Figure 2: a sample grid (``samples.npz`` of ``ebipla evaluate``) per image run, side by side."""
    fig, axes = plt.subplots(1, len(run_dirs), figsize=(3.2 * len(run_dirs), 3.6), squeeze=False)
    for ax, run_dir in zip(axes[0], map(Path, run_dirs)):
        dataset, method, n, _ = _run_info(run_dir)
        grid = torch.from_numpy(np.load(run_dir / rundir.SAMPLES)["grid"][:64])  # (<=64, 3, H, W) uint8
        _image_axis(ax, as_numpy_grid(grid), f"{DATASET_LABELS[dataset]}, {METHOD_LABELS[method]} N={n}")
    fig.suptitle(wrap(title, 45 * len(run_dirs)), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)


def interpolations(run_dir: str | Path, prefix: str | Path, title: str) -> None:
    """Figure 4: latent interpolations between validation images (MAP latents, top) and training images (a random
    posterior particle, bottom), one row per pair (``interpolations.npz`` of ``ebipla evaluate``)."""
    arrays = np.load(Path(run_dir) / INTERPOLATIONS)
    panels = [(key, label) for key, label in (("val", "validation set (MAP latents)"),
                                              ("train", "training set (posterior particles)")) if key in arrays]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels) + 0.6), squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], panels):
        pairs, points = arrays[key].shape[:2]  # (pairs, points, 3, H, W) uint8
        images = torch.from_numpy(arrays[key].reshape(pairs * points, *arrays[key].shape[2:]))
        _image_axis(ax, as_numpy_grid(images, points), label)
    fig.suptitle(wrap(title, 90), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)


def synthetic_datasets(data_files: list[str | Path], prefix: str | Path, title: str) -> None:
    """Figure 5: each synthetic data set in latent space (x) and ambient space (y = T(x) + noise)."""
    fig, axes = plt.subplots(2, len(data_files), figsize=(2.4 * len(data_files), 4.8), squeeze=False)
    for c, path in enumerate(map(Path, data_files)):
        arrays = np.load(path)
        x, y = arrays["x_lat_eval"][:2000], arrays["y_eval"][:2000]  # (n, 2) each
        label = DATASET_LABELS.get(path.stem, path.stem)
        scatter(axes[0, c], x, f"{label}: latent x", _limits(x))
        scatter(axes[1, c], y, f"{label}: ambient y", _limits(y))
    fig.suptitle(wrap(title, 40 * len(data_files)), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)
