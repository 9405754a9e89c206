"""``ebipla quickstart``: the synthetic experiments at CPU size, from the embedded presets, end to end.

For each data set and method: train the paper preset with the quick overlay (25 epochs, J = 100), evaluate MMD^2
against held-out data and compute the energy landscape; then write the MMD^2 table (``synthetic_mmd.md``, .csv,
.tex) and the samples-and-landscapes figure (``figure1.png``, .pdf). Finished runs are reused, so the command can
be rerun after an interruption (an interrupted run resumes from its checkpoint).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .config import config_from_layers
from .data import write_synthetic
from .evaluate import evaluate_run
from .presets import QUICK, paper_preset, run_name
from .report import figures, tables
from .trainer import train

log = logging.getLogger("ebipla.quickstart")

CAPTION = ("Quick variant of the paper's synthetic settings (25 epochs, J = 100 instead of 200 and 500; one seed): "
           "a CPU smoke test, not the paper's numbers. MMD^2 (unbiased, Gaussian kernel, median heuristic, 2,000 vs "
           "2,000 held-out points) is our addition: the paper reports no synthetic metric.")


def quickstart(out: str | Path, datasets: list[str], methods: list[str], n: int, device: str) -> None:
    root = Path(out)
    run_dirs, metrics, data_files = [], [], []
    total, start = len(datasets) * len(methods), time.perf_counter()
    log.info("%d runs (each trains 250 iterations and evaluates; about 1.5 min per run on 2 CPU cores)", total)
    for dataset in datasets:
        for method in methods:
            name = run_name(dataset, method, n)
            cfg = config_from_layers([(paper_preset(dataset, method, n), f"preset {name}"),
                                      (QUICK, "quick overlay"), ({"device": device}, "--device")])
            run_dir = root / name
            log.info("run %d of %d: %s: training", len(run_dirs) + 1, total, name)
            train(cfg, run_dir)
            mmd2 = evaluate_run(run_dir)["mmd2"]
            run_dirs.append(run_dir)
            elapsed = time.perf_counter() - start
            left = elapsed / len(run_dirs) * (total - len(run_dirs))
            log.info("run %d of %d: %s: MMD^2 = %.2e (%.0f s so far, about %.0f s to go)", len(run_dirs), total, name,
                     mmd2, elapsed, left)
            metrics.append(run_dir / "metrics.json")
        data_files.append(write_synthetic(cfg.data, root / "data" / f"{dataset}.npz", cfg.eval.n_eval_points))
    tables.write_synthetic_mmd(metrics, root / "synthetic_mmd", CAPTION)
    figures.samples_and_landscapes(run_dirs, data_files, root / "figure1", CAPTION)
    print((root / "synthetic_mmd.md").read_text())
    log.info("wrote %s and %s", root / "synthetic_mmd.md", root / "figure1.png")
