"""The paper's image tables (1, 2(a), 2(b), 4, 5-7): our rows from the runs' metrics files and the timing CSV, next
to the paper's rows and the literature rows it cites (``paper_values``), each marked by its source.

Every table is written four times (``tables.write_table``): ``.csv`` in long form, one value per row with columns
``model, source, dataset, N, metric, mean, uncertainty, n_runs, runs`` (``source`` is ``ours``, ``paper`` or
``cited: <reference>``; ``runs`` the run directories behind our values), and ``.md`` / ``.tex`` / ``.html`` in the
paper's layout. Our uncertainties are standard errors over seeds (Tables 1, 2, 5-7) and standard deviations over
timed runs (Table 4), the paper's conventions.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from . import paper_values as pv
from .tables import METHOD_LABELS, fmt_value, image_metrics, write_table

METRIC_FORMATS = {"mse": ("{:.4f}", "{:.1e}"), "fid": ("{:.2f}", "{:.2f}"), "seconds": ("{:.3g}", "{:.2g}"),
                  "gflops": ("{:.3g}", "{:.2g}")}
METRIC_LABELS = {"mse": "MSE", "fid": "FID"}


def long_row(model: str, source: str, dataset: str, metric: str, mean: float | None,
             uncertainty: float | None = None, n: int | None = None, n_runs: int | None = None, runs: str = "",
             method: str = "", **scale) -> dict:
    """One long-form row; ``scale``: the settings report.md checks against the paper's (batch_size, n_epochs,
    fid_samples for the image tables; B, J for Table 4)."""
    return {"model": model, "source": source, "method": method, "dataset": dataset, "N": n, "metric": metric,
            "mean": mean, "uncertainty": uncertainty, "n_runs": n_runs, "runs": runs, **scale}


def ours(metrics_files: list[str | Path], metrics: tuple[str, ...] = ("mse", "fid"),
         method: str | None = None) -> list[dict]:
    """Long rows of our runs: one per (data set, method, N, metric), mean and s.e. over seeds."""
    if not metrics_files:
        return []
    rows = []
    for r in image_metrics(metrics_files).itertuples():
        if method is not None and r.method != method:
            continue
        for metric in metrics:
            rows.append(long_row(f"{METHOD_LABELS[r.method]} (ours, N={r.N})", "ours", r.dataset, metric,
                                 getattr(r, f"{metric}_mean"), getattr(r, f"{metric}_sem"), r.N, r.n_seeds, r.runs,
                                 r.method, batch_size=r.batch_size, n_epochs=r.n_epochs,
                                 fid_samples=r.fid_samples))
    return rows


def _wide(long: pd.DataFrame, columns: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per (model, source), one column per (data set, metric), cells formatted as mean ± uncertainty."""
    out = []
    for (model, source), group in long.groupby(["model", "source"], sort=False):
        cells = {(r.dataset, r.metric): fmt_value(r.mean, r.uncertainty, *METRIC_FORMATS[r.metric])
                 for r in group.itertuples()}
        line = {"model": model, "source": source}
        for dataset, metric in columns:
            line[f"{pv.DATASET_LABELS[dataset]} {METRIC_LABELS[metric]}"] = cells.get((dataset, metric), "–")
        out.append(line)
    return pd.DataFrame(out)


def table1(metrics_files: list[str | Path], datasets: list[str], prefix: str | Path, caption: str) -> pd.DataFrame:
    """Table 1: MSE and FID per data set; the literature rows, the paper's EBIPLA row, then ours."""
    rows = [long_row(model, f"cited: {ref}", ds, metric, value)
            for model, (ref, values) in pv.TABLE1_CITED.items() for ds in datasets if ds in values
            for metric, value in zip(("mse", "fid"), values[ds])]
    rows += [long_row("EBIPLA (paper)", "paper", ds, metric, *pv.EBIPLA_TABLE1[ds][metric], method="ebipla")
             for ds in datasets if ds in pv.EBIPLA_TABLE1 for metric in ("mse", "fid")]
    rows += ours(metrics_files)
    long = pd.DataFrame(rows)
    write_table(long, _wide(long, [(ds, m) for ds in datasets for m in ("mse", "fid")]), prefix, caption)
    return long


def table2a(metrics_files: list[str | Path], datasets: list[str], prefix: str | Path, caption: str) -> pd.DataFrame:
    """Table 2(a): CelebA-HQ FID; the cited rows and the paper's EBIPLA, then ours (one run in the paper)."""
    rows = [long_row(model, "cited: Table 2(a)", "celebahq", "fid", value)
            for model, value in pv.TABLE2A_CITED.items()]
    rows += [long_row("EBIPLA (paper)", "paper", ds, "fid", *value, method="ebipla")
             for ds, value in pv.EBIPLA_TABLE2A.items()]
    rows += ours(metrics_files, ("fid",))
    long = pd.DataFrame(rows)
    columns = [(ds, "fid") for ds in dict.fromkeys(["celebahq", *datasets])]
    write_table(long, _wide(long, columns), prefix, caption)
    return long


def table2b(metrics_files: list[str | Path], prefix: str | Path, caption: str) -> pd.DataFrame:
    """Table 2(b): EBIPLA's FID against N (the paper's on SVHN, ours on the experiment's data set)."""
    rows = [long_row("EBIPLA (paper)", "paper", pv.TABLE2B_DATASET, "fid", *value, n=n, method="ebipla")
            for n, value in pv.EBIPLA_TABLE2B.items()]
    rows += [{**r, "model": "EBIPLA (ours)"} for r in ours(metrics_files, ("fid",), method="ebipla")]
    long = pd.DataFrame(rows)
    wide = []
    for n in sorted(set(long["N"])):
        line = {"N": str(n)}
        for (model, dataset), group in long.groupby(["model", "dataset"], sort=False):
            match = group[group["N"] == n]
            label = f"{model} {pv.DATASET_LABELS[dataset]} FID"
            line[label] = fmt_value(*match[["mean", "uncertainty"]].iloc[0], *METRIC_FORMATS["fid"]) \
                if len(match) else "–"
        wide.append(line)
    write_table(long, pd.DataFrame(wide), prefix, caption)
    return long


def literature(table: str, metrics_files: list[str | Path], dataset: str, prefix: str | Path,
               caption: str) -> pd.DataFrame:
    """Tables 5-7 (Appendix E.2): FID of the literature on one data set, the paper's EBIPLA, then ours."""
    paper_dataset, entries = pv.LITERATURE[table]
    rows = [long_row(model, "cited: Appendix E.2", paper_dataset, "fid", value) for model, value in entries]
    rows.append(long_row("EBIPLA (paper)", "paper", paper_dataset, "fid", *pv.EBIPLA_TABLE1[paper_dataset]["fid"],
                         method="ebipla"))
    rows += [r for r in ours(metrics_files, ("fid",)) if r["dataset"] == dataset]
    long = pd.DataFrame(rows)
    wide = pd.DataFrame({"model": long["model"], "source": long["source"],
                         "data set": [pv.DATASET_LABELS[d] for d in long["dataset"]],
                         "FID": [fmt_value(m, u, *METRIC_FORMATS["fid"])
                                 for m, u in zip(long["mean"], long["uncertainty"])]})
    write_table(long, wide, prefix, caption)
    return long


def table4(timing_csv: str | Path, prefix: str | Path, caption: str) -> pd.DataFrame:
    """Table 4: seconds per training step (mean ± s.d. over runs) and GFLOPs per step, ours (from ``ebipla
    bench-images``) next to the paper's (one RTX 3090)."""
    with open(timing_csv, newline="") as f:
        timed = [r for r in csv.DictReader(f) if r.get("variant", "default") == "default"]  # not --compare's rows
    rows = []
    for r in timed:
        dataset, method, n = r["dataset"], r["method"], int(r["N"])
        model = f"{METHOD_LABELS[method]} (ours, N={n})"
        device = r["device"]
        scale = {"B": _int_or_none(r.get("B")), "J": _int_or_none(r.get("J"))}  # batch size, prior steps
        rows.append(long_row(model, f"ours: {device}", dataset, "seconds", float(r["mean_s"]), float(r["std_s"]),
                             n, int(r["runs"]), str(timing_csv), method, **scale))
        rows.append(long_row(model, f"ours: {device}", dataset, "gflops", float(r["gflops_per_step"]), None, n, 1,
                             str(timing_csv), method, **scale))
    for dataset in dict.fromkeys(r["dataset"] for r in timed):
        for method, (seconds, gflops) in pv.TABLE4.get(dataset, {}).items():
            model = f"{METHOD_LABELS[method]} (paper)"
            rows.append(long_row(model, f"paper: {pv.TABLE4_DEVICE}", dataset, "seconds", *seconds, method=method))
            rows.append(long_row(model, f"paper: {pv.TABLE4_DEVICE}", dataset, "gflops", gflops, method=method))
    long = pd.DataFrame(rows)
    wide = []
    for (dataset, model, source), group in long.groupby(["dataset", "model", "source"], sort=False):
        cells = {r.metric: fmt_value(r.mean, r.uncertainty, *METRIC_FORMATS[r.metric]) for r in group.itertuples()}
        wide.append({"data set": pv.DATASET_LABELS[dataset], "model": model, "device": source.split(": ", 1)[1],
                     "seconds per step": cells["seconds"], "GFLOPs per step": cells["gflops"]})
    order = list(pv.DATASET_LABELS.values())
    wide.sort(key=lambda line: order.index(line["data set"]))
    write_table(long, pd.DataFrame(wide), prefix, caption)
    return long


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None
