"""Tables built from metrics files only (``metrics.json`` of each run), written as .csv, .md, .tex and .html.

Aggregates are the mean and the standard error of the mean (s.e. = sample s.d. / sqrt(n)) over seeds, the
paper's convention for Table 1.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd

from ..checkpoint import atomic_write_text
from ..presets import DATASETS

# The paper's two methods, then the baselines of the one-protocol comparison (issue 15), in the tables' order.
METHOD_LABELS = {"ebipla": "EBIPLA", "lebm": "LEBM", "vae": "VAE", "abp": "ABP", "pgd": "PGD", "rae": "RAE"}


def read_metrics(files: list[str | Path]) -> pd.DataFrame:
    """One row per metrics.json, with its path."""
    rows = []
    for path in files:
        row = json.loads(Path(path).read_text())
        row["path"] = str(path)
        rows.append(row)
    return pd.DataFrame(rows)


def mean_sem(values: pd.Series) -> tuple[float, float, int]:
    n = int(values.count())
    mean = float(values.mean())
    sem = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return mean, sem, n


def fmt_mean_sem(mean: float, sem: float) -> str:
    return f"{mean:.2e}" if math.isnan(sem) else f"{mean:.2e} ± {sem:.1e}"


def recovered_runs(group: pd.DataFrame) -> int:
    """How many of the group's runs went through a divergence recovery (metrics.json files written before the
    field existed count as none)."""
    return int((group["divergence_recoveries"].fillna(0) > 0).sum()) if "divergence_recoveries" in group else 0


def synthetic_mmd(files: list[str | Path]) -> pd.DataFrame:
    """Long form, one row per (data set, method, N): MMD^2 of the short-run samples (``mmd2``, mean over seeds, and
    ``mmd2_sem``, its s.e.) and of the long-run MALA samples of exp(-U) (``mmd2_long_run`` and s.e.; NaN for runs
    evaluated without them) with the long run's acceptance, mixing MMD^2 and escaped fraction (means); the number
    of seeds; the divergence recoveries (summed over seeds) and how many runs went through one; the training
    iterations; the wall seconds of training (mean; NaN where not recorded); the run directories (``runs``)."""
    df = read_metrics(files)
    rows = []
    for (dataset, method, n), group in df.groupby(["dataset", "algorithm", "n"], sort=True):
        mean, sem, count = mean_sem(group["mmd2"])
        long_mean, long_sem = _mean_sem_of(group, "mmd2_long_run")
        rows.append({"dataset": dataset, "method": method, "N": int(n), "mmd2": mean, "mmd2_sem": sem,
                     "mmd2_long_run": long_mean, "mmd2_long_run_sem": long_sem,
                     "long_run_acceptance": _mean_of(group, "long_run_acceptance"),
                     "long_run_mixing_mmd2": _mean_of(group, "long_run_mixing_mmd2"),
                     "long_run_escaped_fraction": _mean_of(group, "long_run_escaped_fraction"),
                     "n_seeds": count,
                     "divergence_recoveries": int(group["divergence_recoveries"].fillna(0).sum())
                     if "divergence_recoveries" in group else 0,
                     "recovered_runs": recovered_runs(group),
                     "iterations": int(group["iteration"].max()), "train_seconds": _mean_of(group, "train_seconds"),
                     "n_samples": int(group["n_samples"].iloc[0]),
                     "runs": _runs_of(group)})
    table = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(DATASETS)}  # the paper's order
    return table.sort_values(["dataset", "method", "N"], key=lambda c: c.map(order) if c.name == "dataset" else c,
                             ignore_index=True)


def _mean_of(group: pd.DataFrame, column: str) -> float:
    """Mean over the group's runs that have ``column``; NaN when none has it."""
    return float(pd.to_numeric(group[column], errors="coerce").mean()) if column in group else float("nan")


def _mean_sem_of(group: pd.DataFrame, column: str) -> tuple[float, float]:
    if column not in group or group[column].count() == 0:
        return float("nan"), float("nan")
    mean, sem, _ = mean_sem(pd.to_numeric(group[column], errors="coerce"))
    return mean, sem


def _runs_of(group: pd.DataFrame) -> str:
    """The group's run directories as one seed pattern (``run_pattern``), or listed with "; " if they differ in
    more than the seed."""
    dirs = [str(Path(p).parent) for p in group["path"]]
    try:
        return run_pattern(dirs)
    except ValueError:
        return "; ".join(sorted(set(dirs)))


def image_metrics(files: list[str | Path]) -> pd.DataFrame:
    """Long form: data set, method, N, FID and MSE (on [-1, 1]) mean and s.e. over seeds."""
    df = read_metrics(files)
    rows = []
    for (dataset, method, n), group in df.groupby(["dataset", "algorithm", "n"], sort=True):
        fid, fid_sem, count = mean_sem(group["fid"])
        mse, mse_sem, _ = mean_sem(group["mse"].astype(float))
        rows.append({"dataset": dataset, "method": method, "N": int(n), "fid_mean": fid, "fid_sem": fid_sem,
                     "mse_mean": mse, "mse_sem": mse_sem, "n_seeds": count,
                     "fid_samples": int(group["fid_samples"].iloc[0]),
                     "fid_feature_extractor": group["fid_feature_extractor"].iloc[0],
                     "iteration": int(group["iteration"].max()),
                     "batch_size": first_recorded(group, "batch_size"), "n_epochs": first_recorded(group, "n_epochs"),
                     "runs": run_pattern([str(Path(p).parent) for p in group["path"]])})
    return pd.DataFrame(rows)


def first_recorded(group: pd.DataFrame, column: str) -> float:
    """The group's first recorded value of ``column`` (NaN where no run records it: older metrics files)."""
    values = group[column].dropna() if column in group else []
    return float(values.iloc[0]) if len(values) else float("nan")


def run_pattern(run_dirs: list[str]) -> str:
    """Run directories that differ only in their seed, as one shell brace pattern: ``.../seed{0,1,2}``."""
    dirs = sorted(set(run_dirs), key=lambda d: (len(d), d))
    if len(dirs) == 1:
        return dirs[0]
    heads = {d.rsplit("seed", 1)[0] for d in dirs}
    if len(heads) != 1:
        raise ValueError(f"runs differ in more than the seed: {dirs}")
    return f"{heads.pop()}seed{{{','.join(d.rsplit('seed', 1)[1] for d in dirs)}}}"


def expand_pattern(pattern: str) -> list[str]:
    """The inverse of ``run_pattern``."""
    if "{" not in pattern:
        return [pattern]
    head, rest = pattern.split("{", 1)
    body, tail = rest.split("}", 1)
    return [f"{head}{part}{tail}" for part in body.split(",")]


def fmt_value(mean: float | None, uncertainty: float | None, mean_fmt: str, unc_fmt: str) -> str:
    """``mean ± uncertainty`` in the given formats; the mean alone without an uncertainty; ``–`` without a mean."""
    if mean is None or _isnan(mean):
        return "–"
    if uncertainty is None or _isnan(uncertainty):
        return mean_fmt.format(mean)
    return f"{mean_fmt.format(mean)} ± {unc_fmt.format(uncertainty)}"


def _isnan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


def table_html(wide: pd.DataFrame, caption: str) -> str:
    """The wide (paper-layout) table as a small self-contained HTML page with its caption: what
    ``snakemake --report`` shows inline for a table (it offers a CSV only as a download)."""
    table = wide.to_html(index=False, border=0, escape=True, na_rep="–")
    style = ("body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse} "
             "th,td{padding:3px 9px;border-bottom:1px solid #ccc;text-align:right} "
             "th:first-child,td:first-child{text-align:left}")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(caption)}</title>'
            f"<style>{style}</style></head>\n<body>\n<p>{html.escape(caption)}</p>\n{table}\n</body></html>\n")


def write_table(long: pd.DataFrame, wide: pd.DataFrame, prefix: str | Path, caption: str) -> None:
    """``prefix``.csv: the long form (unformatted numbers, one row per value); .md, .tex and .html: the wide form
    (the paper's layout) with the caption."""
    prefix = Path(prefix)
    atomic_write_text(prefix.with_suffix(".csv"), long.to_csv(index=False))
    markdown = wide.to_markdown(index=False, disable_numparse=True)
    atomic_write_text(prefix.with_suffix(".md"), f"{caption}\n\n{markdown}\n")
    latex = wide.style.hide(axis="index").to_latex(hrules=True, caption=caption.replace("^2", "$^2$"))
    atomic_write_text(prefix.with_suffix(".tex"), latex.replace("±", r"$\pm$"))
    atomic_write_text(prefix.with_suffix(".html"), table_html(wide, caption))


def write_synthetic_mmd(files: list[str | Path], prefix: str | Path, caption: str) -> pd.DataFrame:
    """``prefix``.csv (long form), .md, .tex and .html (data set x N rows; per method the short-run and the long-run
    MMD^2, mean ± s.e. over seeds, side by side)."""
    long = synthetic_mmd(files)
    long["short"] = [fmt_mean_sem(m, s) + (f" ({r} of {n} runs recovered from a divergence)" if r else "")
                     for m, s, r, n in zip(long["mmd2"], long["mmd2_sem"], long["recovered_runs"], long["n_seeds"])]
    long["long"] = [_long_run_cell(r) for r in long.itertuples()]
    wide = long.pivot(index=["dataset", "N"], columns="method", values=["short", "long"])
    methods = [m for m in METHOD_LABELS if m in set(long["method"])]
    wide = wide[[(kind, m) for m in methods for kind in ("short", "long")]]
    wide.columns = [f"{METHOD_LABELS[m]} {'short-run' if kind == 'short' else 'long-run (MALA)'}"
                    for kind, m in wide.columns]
    wide = wide.reset_index().sort_values(["dataset", "N"], key=lambda c: c.map({d: i for i, d in enumerate(DATASETS)})
                                          if c.name == "dataset" else c, ignore_index=True)
    wide = wide.rename(columns={"dataset": "data set"}).fillna("–")
    write_table(long.drop(columns=["short", "long"]), wide, prefix, caption)
    return long


def _long_run_cell(row) -> str:
    """The long-run MMD^2 cell: mean ± s.e., with the share of escaped chains when any escaped; – without."""
    if _isnan(row.mmd2_long_run):
        return "–"
    escaped = row.long_run_escaped_fraction
    return fmt_mean_sem(row.mmd2_long_run, row.mmd2_long_run_sem) + (
        f" ({escaped:.1%} of chains escaped)" if not _isnan(escaped) and escaped > 0 else "")
