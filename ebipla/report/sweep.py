"""``ebipla report sweep``: a table of evaluated runs grouped by config keys, mean +- s.e. over the seeds.

For a sweep such as the image step-size comparison of config/README.md: every run directory is read once (its
resolved ``config.yaml``, ``metrics.json`` when it was evaluated, ``train_summary.json`` when training finished),
grouped by the values of ``--by`` keys (dotted config keys; ``N`` is EBIPLA's particles or LEBM's posterior
steps), and each metric summarised as mean +- standard error over the group's
finished runs. A run that has no ``train_summary.json`` did not finish (diverged or stopped): it is counted in the
``unfinished`` column and left out of the means.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import yaml

from .. import run as rundir
from ..checkpoint import atomic_write_text
from ..errors import ConfigError
from .tables import table_html


def _get(cfg: dict, dotted: str):
    """A config value by dotted key; ``N`` is the paper's N of the run (EBIPLA's particles, LEBM's posterior steps)."""
    if dotted == "N":
        algo = cfg.get("algorithm", {})
        return algo.get("n_particles", algo.get("n_posterior_steps"))
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"ebipla report sweep: the key {dotted!r} is not in the runs' config.yaml.")
        node = node[part]
    return node


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample s.d. / sqrt(n); 0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def sweep_rows(run_dirs: list[str | Path], by: list[str], metrics: list[str]) -> list[dict]:
    """One row per group of ``by`` values (in first-seen order): n, unfinished, seeds, and per metric its mean,
    s.e. and the per-seed values."""
    groups: dict[tuple, dict] = {}
    for d in map(Path, run_dirs):
        cfg = yaml.safe_load((d / rundir.CONFIG).read_text(encoding="utf-8"))
        key = tuple(_get(cfg, k) for k in by)
        group = groups.setdefault(key, {"runs": [], "unfinished": []})
        finished = (d / rundir.TRAIN_SUMMARY).exists() and (d / rundir.EVAL_METRICS).exists()
        if not finished:
            group["unfinished"].append(cfg.get("seed"))
            continue
        values = json.loads((d / rundir.EVAL_METRICS).read_text(encoding="utf-8"))
        group["runs"].append((cfg.get("seed"), values))
    rows = []
    for key, group in groups.items():
        row = dict(zip(by, key))
        runs = sorted(group["runs"], key=lambda r: r[0])
        row.update(n=len(runs), unfinished=len(group["unfinished"]), seeds=[s for s, _ in runs],
                   unfinished_seeds=sorted(group["unfinished"]))
        for m in metrics:
            vals = [float(v[m]) for _, v in runs if v.get(m) is not None]
            row[m] = mean_se(vals) if vals else (math.nan, math.nan)
            row[f"{m}_values"] = vals
        rows.append(row)
    return rows


def write_sweep(run_dirs: list[str | Path], by: list[str], metrics: list[str], prefix: str | Path,
                caption: str = "") -> list[dict]:
    """Write ``prefix.csv`` (one line per group and metric, with the per-seed values), ``prefix.md`` and
    ``prefix.html`` (one row per group, as ``snakemake --report`` shows it)."""
    rows = sweep_rows(run_dirs, by, metrics)
    csv_lines = [",".join([*by, "metric", "mean", "se", "n", "unfinished", "values"])]
    header = [*by, *metrics, "runs (unfinished)"]
    md = [f"{caption}\n" if caption else "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cells_html = []
    for row in rows:
        for m in metrics:
            mean, se = row[m]
            values = " ".join(f"{v:.6g}" for v in row[f"{m}_values"])
            csv_lines.append(",".join([*(str(row[k]) for k in by), m, f"{mean:.6g}", f"{se:.6g}", str(row["n"]),
                                       str(row["unfinished"]), values]))
        cells = [*(str(row[k]) for k in by), *(f"{row[m][0]:.4g} +- {row[m][1]:.2g}" for m in metrics),
                 f"{row['n']} ({row['unfinished']})"]
        md.append("| " + " | ".join(cells) + " |")
        cells_html.append(cells)
    path = Path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path.with_suffix(".csv"), "\n".join(csv_lines) + "\n")
    atomic_write_text(path.with_suffix(".md"), "\n".join(line for line in md if line) + "\n")
    atomic_write_text(path.with_suffix(".html"), table_html(pd.DataFrame(cells_html, columns=header), caption))
    return rows
