"""Figures drawn from saved arrays only (samples.npz, landscape.npz), never from live models."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .checkpoint import atomic_write  # noqa: E402

PNG_METADATA = {"Software": None}  # byte-stable output
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def save_figure(fig: plt.Figure, *paths: str | Path) -> None:
    """Save to each path as PNG or PDF (by suffix), atomically and without timestamps (equal figures give equal
    bytes), then close the figure."""
    for path in map(Path, paths):
        fmt = path.suffix.lstrip(".")
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150, metadata=PNG_METADATA if fmt == "png" else PDF_METADATA)
        data = buf.getvalue()
        atomic_write(path, lambda f, data=data: f.write(data))
    plt.close(fig)


def save_both(fig: plt.Figure, prefix: str | Path) -> None:
    """:func:`save_figure` to ``<prefix>.pdf`` and ``<prefix>.png``."""
    prefix = Path(prefix)
    save_figure(fig, prefix.with_suffix(".pdf"), prefix.with_suffix(".png"))


def wrap(text: str, width: int = 80) -> str:
    """A caption broken into lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(text, width))


LOG_FLOOR = -4.0  # exp(-U) is drawn as log10(density / its maximum on the grid), clipped below at this value
OUTSIDE_LIMIT = 0.1  # a landscape is marked when more than this share of its mass lies outside its grid
AXIS_LABELS = {"x": ("$x_1$", "$x_2$"), "y": ("$y_1$", "$y_2$")}  # latent x, observation y (the paper's notation)


def _axes_style(ax: plt.Axes, title: str, space: str | None) -> None:
    """Title, small ticks and, for ``space`` "x" (latent) or "y" (data), the axis labels."""
    ax.set_title(title, fontsize=6.5)
    ax.tick_params(labelsize=5, length=2, pad=1)
    if space is not None:
        ax.set_xlabel(AXIS_LABELS[space][0], fontsize=6, labelpad=0)
        ax.set_ylabel(AXIS_LABELS[space][1], fontsize=6, labelpad=0)


def scatter(ax: plt.Axes, points: np.ndarray, title: str, limits: tuple[float, float] | None = None,
            space: str | None = None) -> None:
    """Points (n, 2) in a square panel with equal scales on both axes (``limits`` on both, if given)."""
    ax.scatter(points[:, 0], points[:, 1], s=0.5, alpha=0.4, color="tab:blue", rasterized=True, linewidths=0)
    if limits is not None:
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_box_aspect(1)
    _axes_style(ax, title, space)


def log_relative_density(density: np.ndarray) -> np.ndarray:
    """log10(density / max density), clipped below at LOG_FLOOR: a concentrated density stays visible."""
    with np.errstate(divide="ignore"):
        rel = np.log10(density / density.max())
    return np.clip(rel, LOG_FLOOR, 0.0)


def border_ratio(density: np.ndarray) -> float:
    """The largest density on the grid's edge over the largest on the grid: near 0 when the mass lies inside."""
    edge = np.concatenate([density[0], density[-1], density[:, 0], density[:, -1]])
    return float(edge.max() / density.max())


def landscape(ax: plt.Axes, data: dict[str, np.ndarray], title: str, space: str | None = "x"):
    """exp(-U) normalised on its grid (see ``evaluate.energy_landscape``) on the log colour scale of
    :func:`log_relative_density`, in a square panel (grey where the panel reaches beyond the grid). Returns the
    image, for a colour bar (vmin LOG_FLOOR, vmax 0)."""
    x0, x1 = data["x0"], data["x1"]
    image = ax.imshow(log_relative_density(data["density"]), origin="lower", extent=(x0[0], x0[-1], x1[0], x1[-1]),
                      cmap="viridis", vmin=LOG_FLOOR, vmax=0.0, aspect="equal", interpolation="nearest")
    ax.set_facecolor("0.85")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_box_aspect(1)
    _axes_style(ax, title, space)
    return image


def density_colorbar(fig: plt.Figure, image, cax: plt.Axes | None = None, ax=None) -> None:
    """The colour bar of :func:`landscape`'s scale, in ``cax`` or beside the axes ``ax``."""
    bar = fig.colorbar(image, cax=cax, ax=ax, shrink=1.0 if cax is not None else 0.6)
    bar.set_label(f"log10 of exp(-U) / its max on the grid (clipped at {LOG_FLOOR:g})", fontsize=6)
    bar.ax.tick_params(labelsize=5)


def mark_outside(ax: plt.Axes, note: str) -> None:
    """A red frame and ``note`` on a landscape whose mass lies largely outside its grid."""
    for spine in ax.spines.values():
        spine.set_color("red")
        spine.set_linewidth(2.0)
    ax.text(0.5, 0.02, note, transform=ax.transAxes, ha="center", va="bottom", fontsize=5, color="red",
            bbox={"facecolor": "white", "alpha": 0.8, "pad": 1, "linewidth": 0})


def training_curve(metrics_jsonl: str | Path, out: str | Path) -> None:
    """The training curve of a run (``train_metrics.jsonl``, one JSON row per logged iteration) as a PNG: one panel
    per logged quantity (the losses, and the energy's learning rate where a schedule is used) against the
    iteration."""
    import json

    rows = [json.loads(line) for line in Path(metrics_jsonl).read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        return
    keys = [k for k in rows[0] if k not in ("iteration", "epoch")]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.6), squeeze=False)
    it = np.array([r["iteration"] for r in rows])
    for ax, key in zip(axes[0], keys):
        values = np.array([r.get(key, np.nan) for r in rows], dtype=float)
        ax.plot(it, values, lw=0.8, marker="." if len(it) < 30 else None)
        if np.all(values[np.isfinite(values)] > 0) and np.nanmax(values) > 100 * np.nanmin(values):
            ax.set_yscale("log")
        ax.set_title(key, fontsize=8)
        ax.set_xlabel("iteration", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    save_figure(fig, out)

