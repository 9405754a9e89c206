"""Paper figures drawn from run directories' saved arrays (samples.npz, landscape.npz) and timing CSVs.

Each figure is written as .pdf and .png with byte-stable metadata.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .. import run as rundir
from ..config import load_config
from ..evaluate import particles_or_steps
from ..plotting import landscape, plt, save_figure, scatter, wrap
from .tables import METHOD_LABELS


def _run_info(run_dir: Path) -> tuple[str, str, int, int]:
    cfg = load_config([run_dir / rundir.CONFIG])
    return cfg.data.name, cfg.algorithm.name, particles_or_steps(cfg), cfg.algorithm.n_prior_steps


def _limits(points: np.ndarray) -> tuple[float, float]:
    span = float(np.abs(points).max()) * 1.15
    return -span, span


def save_both(fig: plt.Figure, prefix: str | Path) -> None:
    prefix = Path(prefix)
    save_figure(fig, prefix.with_suffix(".pdf"), prefix.with_suffix(".png"))


def samples_and_landscapes(run_dirs: list[str | Path], data_files: list[str | Path], prefix: str | Path,
                           title: str) -> None:
    """Figure 1 (left) layout: a row per (data set, N) and, per method, its samples and exp(-U).

    ``data_files``: one ``ebipla data`` output per data set, whose held-out points fix the axes and fill the
    first column.
    """
    runs = {_run_info(Path(d))[:3]: Path(d) for d in run_dirs}
    data = {Path(f).stem: np.load(f)["y_eval"] for f in data_files}
    keys = sorted({(ds, n) for ds, _, n in runs}, key=lambda k: (list(data).index(k[0]), k[1]))
    methods = [m for m in METHOD_LABELS if any(r[1] == m for r in runs)]
    cols = 1 + 2 * len(methods)
    fig, axes = plt.subplots(len(keys), cols, figsize=(1.6 * cols, 1.6 * len(keys)), squeeze=False)
    for row, (dataset, n) in enumerate(keys):
        lim = _limits(data[dataset])
        scatter(axes[row, 0], data[dataset][:2000], f"{dataset} data", lim)
        for i, method in enumerate(methods):
            run_dir = runs.get((dataset, method, n))
            ax_s, ax_l = axes[row, 1 + 2 * i], axes[row, 2 + 2 * i]
            if run_dir is None:
                ax_s.axis("off")
                ax_l.axis("off")
                continue
            scatter(ax_s, np.load(run_dir / rundir.SAMPLES)["y"][:2000], f"{METHOD_LABELS[method]} N={n}", lim)
            landscape(ax_l, dict(np.load(run_dir / rundir.LANDSCAPE)), f"{METHOD_LABELS[method]} exp(-U)")
    fig.suptitle(wrap(title, 25 * cols), fontsize=8)
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


def runtime_vs_n(timing_csv: str | Path, prefix: str | Path, title: str) -> None:
    """Figure 1 (right): seconds per training step against N, mean +- s.d. over the timed runs."""
    with open(timing_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["activations"].endswith("(paper)")]
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    n = [int(r["N"]) for r in rows]
    for method, label in METHOD_LABELS.items():
        mean = [float(r[f"{method}_mean_s"]) for r in rows]
        std = [float(r[f"{method}_std_s"]) for r in rows]
        ax.errorbar(n, mean, yerr=std, marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(n, [str(v) for v in n])
    ax.set_xlabel("N (EBIPLA particles / LEBM posterior steps)")
    ax.set_ylabel("seconds per training step")
    ax.set_title(wrap(f"{title} Device: {rows[0]['device']}." if rows else title, 70), fontsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_both(fig, prefix)
