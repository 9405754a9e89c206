"""Paper figures drawn from run directories' saved arrays (samples.npz, landscape.npz, interpolations.npz), the
synthetic data files and timing CSVs.

Each figure is written as .pdf and .png with byte-stable metadata.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import run as rundir
from ..config import load_config
from ..data import held_out_data
from ..data.images import as_numpy_grid
from ..plotting import (
    OUTSIDE_LIMIT,
    border_ratio,
    density_colorbar,
    landscape,
    mark_outside,
    plt,
    save_both,
    scatter,
    wrap,
)
from ..run import particles_or_steps
from .paper_values import DATASET_LABELS
from .tables import METHOD_LABELS


def _run_info(run_dir: Path) -> tuple[str, str, int, int]:
    cfg = load_config([run_dir / rundir.CONFIG])
    return cfg.data.name, cfg.algorithm.name, particles_or_steps(cfg), getattr(cfg.algorithm, "n_prior_steps", 0)


def _limits(points: np.ndarray) -> tuple[float, float]:
    span = float(np.abs(points).max()) * 1.15
    return -span, span


@dataclass
class _SyntheticRun:
    samples: dict[str, np.ndarray]  # samples.npz: y (short-run), y_long (long-run MALA) when evaluated with it
    landscape: dict[str, np.ndarray]  # landscape.npz
    metrics: dict  # metrics.json ({} when missing)


def _load_synthetic(run_dir: Path) -> _SyntheticRun:
    metrics_path = run_dir / rundir.EVAL_METRICS
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    return _SyntheticRun(dict(np.load(run_dir / rundir.SAMPLES)), dict(np.load(run_dir / rundir.LANDSCAPE)), metrics)


def _mmd(value: float | None) -> str:
    return "MMD$^2$ –" if value is None else f"MMD$^2$={value:.2e}"


def _beyond(points: np.ndarray, limits: tuple[float, float]) -> str:
    """", k% out" for the share of points outside the panel's limits, when it is at least 1 %."""
    share = float((np.abs(points) > limits[1]).any(-1).mean())
    return f", {share:.0%} out" if share >= 0.01 else ""


def outside_note(metrics: dict, density: np.ndarray) -> str | None:
    """Why a landscape's mass lies outside its grid, or None. Rule: more than OUTSIDE_LIMIT (10 %) of the long-run
    MALA chains end outside the grid (``long_run_outside_grid``), or exp(-U) on the grid's edge exceeds
    OUTSIDE_LIMIT of its maximum (the grid cuts through the density)."""
    outside = metrics.get("long_run_outside_grid")
    if outside is not None and outside > OUTSIDE_LIMIT:
        return f"mass outside grid: {outside:.0%} of long-run chains"
    ratio = border_ratio(density)
    if ratio > OUTSIDE_LIMIT:
        return f"mass outside grid: exp(-U) at edge {ratio:.0%} of max"
    return None


def _method_panels(axes: list[plt.Axes], run: _SyntheticRun | None, name: str, limits: tuple[float, float]):
    """One method's panels of a Figure 1 row: short-run y, [long-run y,] exp(-U) over x. Returns the landscape
    image (None without a run)."""
    if run is None:
        for ax in axes:
            ax.axis("off")
        axes[0].text(0.5, 0.5, f"{name}: no run", ha="center", va="center", fontsize=6, transform=axes[0].transAxes)
        return None
    y = run.samples["y"]
    scatter(axes[0], y[:2000], f"{name}: short-run y\n{_mmd(run.metrics.get('mmd2'))}{_beyond(y, limits)}",
            limits, "y")
    if len(axes) == 3:
        if "y_long" in run.samples:
            y_long = run.samples["y_long"]
            escaped = run.metrics.get("long_run_escaped_fraction") or 0.0
            note = f", {escaped:.0%} esc." if escaped > 0 else _beyond(y_long, limits)
            scatter(axes[1], y_long[:2000], f"{name}: long-run y\n{_mmd(run.metrics.get('mmd2_long_run'))}{note}",
                    limits, "y")
        else:
            axes[1].axis("off")
            axes[1].text(0.5, 0.5, "no long run", ha="center", va="center", fontsize=6, transform=axes[1].transAxes)
    image = landscape(axes[-1], run.landscape, f"{name}: exp(-U)\nover latent x", "x")
    note = outside_note(run.metrics, run.landscape["density"])
    if note:
        mark_outside(axes[-1], note)
    return image


def _legend(ax: plt.Axes, with_long: bool, steps: int | None, width_in: float) -> None:
    """The key to Figure 1's panels, as text."""
    parts = ["Columns: data y = held-out points in data space. short-run y = samples of the model as trained and as "
             "the paper samples it: J ULA steps on U from N(0, I), decoded by the generator."]
    if with_long:
        parts.append(f"long-run y = samples of exp(-U) itself: MALA chains (Metropolis-adjusted, step size adapted "
                     f"to acceptance 0.574, then fixed; {steps or 'T'} steps) from N(0, I), decoded the same way; "
                     "\"esc.\" = share of chains that escaped beyond 10 x the short-run latents' radius; "
                     "\"out\" = share of points beyond the panel.")
    parts.append("exp(-U) = the energy landscape over latent x, normalised on a grid spanning the short-run latents "
                 "(+10 %), on a log colour scale (colour bar), grey beyond the grid. MMD^2 against the held-out "
                 "points (our addition; one kernel for both samplers). Red frame: more than 10 % of the mass lies "
                 "outside the grid (long-run chains outside it, or exp(-U) on its edge above 10 % of its max).")
    ax.axis("off")
    ax.text(0.0, 1.0, "\n".join(wrap(p, max(int(width_in * 19), 40)) for p in parts), transform=ax.transAxes,
            va="top", ha="left", fontsize=6.5, linespacing=1.3)


def samples_and_landscapes(run_dirs: list[str | Path], data_files: list[str | Path], prefix: str | Path,
                           title: str, timing_csv: str | Path | None = None) -> None:
    """Figure 1. One row per (data set, N): the held-out data, then per method its short-run samples, its long-run
    samples of exp(-U) (when the runs were evaluated with them) and exp(-U) over the latent grid, all panels
    square; a shared colour bar for exp(-U). Below: seconds per training step against N (with ``timing_csv``, an
    ``ebipla bench`` output) and the key to the panels.

    ``data_files``: one ``ebipla data`` output per data set, whose held-out points fix the data-space axes and fill
    the first column. Sample panels carry their MMD^2 from the run's metrics.json.
    """
    runs = {_run_info(Path(d))[:3]: _load_synthetic(Path(d)) for d in run_dirs}
    data = {Path(f).stem: np.load(f)["y_eval"] for f in data_files}
    keys = sorted({(ds, n) for ds, _, n in runs}, key=lambda k: (list(data).index(k[0]), k[1]))
    methods = [m for m in METHOD_LABELS if any(r[1] == m for r in runs)]
    with_long = any("y_long" in r.samples for r in runs.values())
    per_method = 3 if with_long else 2
    cols = 1 + per_method * len(methods)
    panel, bottom = 1.75, 2.0  # inches
    width = panel * cols + 0.7
    fig = plt.figure(figsize=(width, panel * 1.12 * len(keys) + bottom + 0.5), layout="constrained")
    outer = fig.add_gridspec(2, 1, height_ratios=[panel * 1.12 * len(keys), bottom])
    top = outer[0].subgridspec(len(keys), cols + 1, width_ratios=[1] * cols + [0.07])
    image = None
    for row, (dataset, n) in enumerate(keys):
        lim = _limits(data[dataset])
        scatter(fig.add_subplot(top[row, 0]), data[dataset][:2000],
                f"{DATASET_LABELS.get(dataset, dataset)}, N={n}\ndata y (held-out)", lim, "y")
        for i, method in enumerate(methods):
            axes = [fig.add_subplot(top[row, 1 + per_method * i + j]) for j in range(per_method)]
            image = _method_panels(axes, runs.get((dataset, method, n)), f"{METHOD_LABELS[method]} N={n}",
                                   lim) or image
    if image is not None:
        density_colorbar(fig, image, fig.add_subplot(top[:, -1]))
    steps = next((r.metrics["long_run_steps"] for r in runs.values() if "long_run_steps" in r.metrics), None)
    if timing_csv:
        low = outer[1].subgridspec(1, 2, width_ratios=[1.0, 2.0])
        runtime_panel(fig.add_subplot(low[0, 0]), timing_csv)
        _legend(fig.add_subplot(low[0, 1]), with_long, steps, width * 2.0 / 3.0)
    else:
        _legend(fig.add_subplot(outer[1]), with_long, steps, width)
    fig.suptitle(wrap(title, int(width * 16)), fontsize=8)
    save_both(fig, prefix)


BASELINES_KEY = (
    "Columns: data y = held-out points in data space. Per method: short-run y = its samples (blue) over the held-out "
    "points (grey), MMD^2 against them in the title; exp(-U) over latent x = its prior, normalised on a grid spanning "
    "the samples' latents, log colour scale: learned by EBIPLA and LEBM, the fixed N(0, I) of PGD and ABP, whose "
    "generator alone shapes the data.")


def baselines_synthetic(run_dirs: list[str | Path], data_files: list[str | Path], prefix: str | Path,
                        title: str) -> None:
    """The synthetic baselines figure: one row per data set, the held-out data, then per run (method and N, in
    METHOD_LABELS' order) its short-run samples over the held-out points, with MMD^2, and its exp(-U), drawn as
    Figure 1's panels; a shared colour bar and the key below.

    ``data_files``: one ``ebipla data`` output per data set (the data column and the axes' limits)."""
    runs = {_run_info(Path(d))[:3]: _load_synthetic(Path(d)) for d in run_dirs}
    data = {Path(f).stem: np.load(f)["y_eval"] for f in data_files}
    datasets = [d for d in data if any(key[0] == d for key in runs)]
    methods = list(METHOD_LABELS)
    columns = sorted({(m, n) for _, m, n in runs}, key=lambda c: (methods.index(c[0]), c[1]))
    cols = 1 + 2 * len(columns)
    panel, bottom = 1.75, 0.5  # inches
    width = panel * cols + 0.7
    fig = plt.figure(figsize=(width, panel * 1.12 * len(datasets) + bottom + 0.5), layout="constrained")
    outer = fig.add_gridspec(2, 1, height_ratios=[panel * 1.12 * len(datasets), bottom])
    top = outer[0].subgridspec(len(datasets), cols + 1, width_ratios=[1] * cols + [0.07])
    image = None
    for row, dataset in enumerate(datasets):
        held_out, lim = data[dataset][:2000], _limits(data[dataset])
        scatter(fig.add_subplot(top[row, 0]), held_out,
                f"{DATASET_LABELS.get(dataset, dataset)}\ndata y (held-out)", lim, "y")
        for i, (method, n) in enumerate(columns):
            axes = [fig.add_subplot(top[row, 1 + 2 * i + j]) for j in range(2)]
            run = runs.get((dataset, method, n))
            if run is not None:  # the data under the samples
                axes[0].scatter(held_out[:, 0], held_out[:, 1], s=0.5, color="0.75", rasterized=True, linewidths=0)
            image = _method_panels(axes, run, f"{METHOD_LABELS[method]} N={n}", lim) or image
    if image is not None:
        density_colorbar(fig, image, fig.add_subplot(top[:, -1]))
    key = fig.add_subplot(outer[1])
    key.axis("off")
    key.text(0.0, 1.0, wrap(BASELINES_KEY, int(width * 19)), transform=key.transAxes, va="top", ha="left",
             fontsize=6.5, linespacing=1.3)
    fig.suptitle(wrap(title, int(width * 16)), fontsize=8)
    save_both(fig, prefix)


def j_ablation(run_dirs: list[str | Path], prefix: str | Path, title: str) -> None:
    """Appendix E.1: samples and exp(-U) for increasing J (columns), two rows per data set."""
    runs = {(ds, j): Path(d) for d in run_dirs for ds, _, _, j in [_run_info(Path(d))]}
    datasets = sorted({ds for ds, _ in runs})
    js = sorted({j for _, j in runs})
    fig, axes = plt.subplots(2 * len(datasets), len(js), figsize=(1.7 * len(js) + 0.8, 3.5 * len(datasets) + 0.4),
                             squeeze=False, layout="constrained")
    image = None
    for r, dataset in enumerate(datasets):
        for c, j in enumerate(js):
            run_dir = runs.get((dataset, j))
            if run_dir is None:
                axes[2 * r, c].axis("off")
                axes[2 * r + 1, c].axis("off")
                continue
            run = _load_synthetic(run_dir)
            y = run.samples["y"][:2000]
            scatter(axes[2 * r, c], y, f"{dataset} J={j}: short-run y\n{_mmd(run.metrics.get('mmd2'))}", _limits(y),
                    "y")
            image = landscape(axes[2 * r + 1, c], run.landscape, f"J={j}: exp(-U) over x", "x")
            note = outside_note(run.metrics, run.landscape["density"])
            if note:
                mark_outside(axes[2 * r + 1, c], note)
    if image is not None:
        density_colorbar(fig, image, ax=axes)
    fig.suptitle(wrap(title, 25 * len(js)), fontsize=8)
    save_both(fig, prefix)


def runtime_panel(ax: plt.Axes, timing_csv: str | Path) -> None:
    """Figure 1 (right): seconds per training step against N, mean +- s.d. over the timed runs (the paper's
    activations: SiLU for EBIPLA, ReLU for LEBM)."""
    with open(timing_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["activations"].endswith("(paper)")]
    n = [int(r["N"]) for r in rows]
    for method in ("ebipla", "lebm"):  # the methods ebipla bench times
        label = METHOD_LABELS[method]
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
    arrays = np.load(Path(run_dir) / rundir.INTERPOLATIONS)
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


def custom_samples(run_dirs: list[str | Path], prefix: str | Path, title: str) -> None:
    """Your experiment's samples (config["custom"]), one panel per run: an image run's sample grid (``samples.npz``
    of ``ebipla evaluate``), or a vector run's short-run samples over its held-out data (the validation split for an
    array), first two coordinates, in the data's units."""
    fig, axes = plt.subplots(1, len(run_dirs), figsize=(3.2 * len(run_dirs), 3.6), squeeze=False)
    for ax, run_dir in zip(axes[0], map(Path, run_dirs)):
        cfg = load_config([run_dir / rundir.CONFIG])
        label = f"{METHOD_LABELS[cfg.algorithm.name]} N={particles_or_steps(cfg)}"
        samples = np.load(run_dir / rundir.SAMPLES)
        if cfg.data.is_image:
            grid = torch.from_numpy(samples["grid"][:64])  # (<=64, C, H, W) uint8
            _image_axis(ax, as_numpy_grid(grid.expand(-1, 3, -1, -1)), label)  # grey images drawn as RGB
            continue
        data, y = held_out_data(cfg.data, cfg.eval.n_eval_points).numpy(), samples["y"]  # (n, d_y) each
        if y.shape[1] == 1:  # one coordinate: draw it against its index
            data, y = (np.stack([np.arange(len(a)), a[:, 0]], 1) for a in (data, y))
        ax.scatter(y[:, 0], y[:, 1], s=2, c="C0", alpha=0.5, label="samples", rasterized=True)
        ax.scatter(data[:, 0], data[:, 1], s=1, c="k", label="held-out data", rasterized=True)
        ax.set_title(label, fontsize=8)
        ax.legend(fontsize=6, markerscale=3, loc="best")
        ax.tick_params(labelsize=6)
    fig.suptitle(wrap(title, 45 * len(run_dirs)), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)
