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


def scatter(ax: plt.Axes, points: np.ndarray, title: str, limits: tuple[float, float] | None = None) -> None:
    ax.scatter(points[:, 0], points[:, 1], s=0.5, alpha=0.4, color="tab:blue", rasterized=True)
    ax.set_title(title, fontsize=8)
    if limits is not None:
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def landscape(ax: plt.Axes, data: dict[str, np.ndarray], title: str) -> None:
    """exp(-U) normalised on its grid (see ``evaluate.energy_landscape``)."""
    x0, x1 = data["x0"], data["x1"]
    ax.imshow(data["density"], origin="lower", extent=(x0[0], x0[-1], x1[0], x1[-1]), cmap="viridis",
              aspect="equal", interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
