"""``ebipla quickstart``: the synthetic experiments at CPU size, from the embedded presets, end to end.

For each data set and method: train the paper preset with the quick overlay (25 epochs, J = 100), evaluate MMD^2
against held-out data, compute the energy landscape; then write ``summary.md`` (MMD^2 table) and ``figure.png``
(data, samples and landscapes). Runs that already finished are reused, so the command can be rerun after an
interruption.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from . import run as rundir
from .checkpoint import atomic_write_text
from .config import config_from_layers, load_config
from .data import make_synthetic
from .evaluate import evaluate_run, landscape_run
from .plotting import landscape, plt, save_figure, scatter
from .presets import NAMES, QUICK, paper_preset, run_name
from .train import train

log = logging.getLogger("ebipla.quickstart")


def quickstart(out: str | Path, datasets: list[str], methods: list[str], n: int, device: str) -> dict:
    root = Path(out)
    results: dict[tuple[str, str], dict] = {}
    for dataset in datasets:
        for method in methods:
            name = run_name(dataset, method, n)
            cfg = config_from_layers([(paper_preset(dataset, method, n), f"preset {name}"),
                                      (QUICK, "quick overlay"), ({"device": device}, "--device")])
            run_dir = root / name
            log.info("%s: training", name)
            train(cfg, run_dir)
            results[dataset, method] = evaluate_run(run_dir)
            landscape_run(run_dir)
            log.info("%s: MMD^2 = %.2e", name, results[dataset, method]["mmd2"])
    atomic_write_text(root / "summary.md", summary_table(results, datasets, methods, n))
    save_figure(summary_figure(root, datasets, methods, n), root / "figure.png")
    print((root / "summary.md").read_text())
    log.info("wrote %s and %s", root / "summary.md", root / "figure.png")
    return results


def summary_table(results: dict, datasets: list[str], methods: list[str], n: int) -> str:
    lines = [f"# Quickstart: synthetic experiments at CPU size (N = {n})", "",
             "Quick variant of the paper's settings (25 epochs, J = 100 prior steps instead of 200 and 500): "
             "a smoke test of the pipeline, not the paper's numbers. MMD^2 (unbiased, Gaussian kernel, "
             "median-heuristic bandwidth, 2,000 samples vs 2,000 held-out points) is our addition; the paper "
             "reports no synthetic metric.", "",
             "| data set | " + " | ".join(f"{m} MMD^2" for m in methods) + " |",
             "|---|" + "---|" * len(methods)]
    for dataset in datasets:
        lines.append(f"| {dataset} | " + " | ".join(f"{results[dataset, m]['mmd2']:.2e}" for m in methods) + " |")
    return "\n".join(lines) + "\n"


def summary_figure(root: Path, datasets: list[str], methods: list[str], n: int) -> plt.Figure:
    cols = 1 + 2 * len(methods)
    fig, axes = plt.subplots(len(datasets), cols, figsize=(1.8 * cols, 1.9 * len(datasets)), squeeze=False)
    for row, dataset in enumerate(datasets):
        cfg = load_config([root / run_name(dataset, methods[0], n) / rundir.CONFIG])
        data = make_synthetic(cfg.data, "eval", 2000).y.numpy()
        span = float(np.abs(data).max()) * 1.3
        scatter(axes[row, 0], data, f"{NAMES[dataset]}: data", (-span, span))
        for i, method in enumerate(methods):
            run_dir = root / run_name(dataset, method, n)
            samples = np.load(run_dir / rundir.SAMPLES)["y"]
            scatter(axes[row, 1 + 2 * i], samples, f"{method} samples", (-span, span))
            landscape(axes[row, 2 + 2 * i], dict(np.load(run_dir / rundir.LANDSCAPE)), f"{method} exp(-U)")
    fig.tight_layout()
    return fig
