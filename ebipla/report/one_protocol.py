"""``table_one_protocol``: every method (EBIPLA, LEBM and the baselines VAE, ABP, PGD, RAE) trained under one
protocol (``config/images/one_protocol``, issue 15) and scored alike, one row per (data set, method, N), next to
what the paper prints for that method on that data set.

The ``.csv`` is in ``paper_tables``' long form, one value per row. Ours (``source`` ``ours``): each metric of
``METRICS``, mean and standard error over the seeds that record it (the s.e. from two seeds on; ``mse_encoder``,
``train_seconds`` and ``gflops_per_step`` are optional fields of metrics.json). The paper's (``cited_rows``): for
EBIPLA its own rows (``paper``), for the others the literature rows it cites (``cited``), from its Tables 1, 2(a)
and 5-7, each named in ``paper_table``. The ``.md`` and ``.tex`` put each of our rows beside the paper's values.
Reads JSON and CSV only (no torch): a workflow table job stays light.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import paper_values as pv
from .paper_tables import METRIC_FORMATS, long_row
from .tables import METHOD_LABELS, first_recorded, fmt_value, mean_sem, read_metrics, run_pattern, write_table

# Our metric -> its column label. seconds_per_iteration = train_seconds / iteration (training wall time, evaluation
# excluded); gflops_per_iteration = gflops_per_step (one training step's FLOPs, counted once per run).
METRICS = {"mse": "MSE", "mse_encoder": "MSE (encoder)", "fid": "FID", "seconds_per_iteration": "s / iteration",
           "gflops_per_iteration": "GFLOPs / iteration"}
FORMATS = {"mse": METRIC_FORMATS["mse"], "mse_encoder": METRIC_FORMATS["mse"], "fid": METRIC_FORMATS["fid"],
           "seconds_per_iteration": METRIC_FORMATS["seconds"], "gflops_per_iteration": METRIC_FORMATS["gflops"]}
SCALE = ("batch_size", "n_epochs", "fid_samples")  # recorded with our rows, for report.md's scale check
# The labels under which the paper's tables print each baseline (Table 7 lists the VAE twice).
CITED_MODELS = {"vae": ("VAE", "VAE (second entry)"), "abp": ("ABP",), "lebm": ("LEBM",), "rae": ("RAE",)}


def _numeric(df: pd.DataFrame, field: str) -> pd.Series:
    """A metrics.json field as numbers, NaN where a run does not record it (missing or null)."""
    if field not in df:
        return pd.Series(float("nan"), index=df.index)
    return pd.to_numeric(df[field], errors="coerce")


def run_values(df: pd.DataFrame) -> pd.DataFrame:
    """Each run's value of every metric of ``METRICS`` (NaN where the run does not record it)."""
    return pd.DataFrame({"mse": _numeric(df, "mse"), "mse_encoder": _numeric(df, "mse_encoder"),
                         "fid": _numeric(df, "fid"),
                         "seconds_per_iteration": _numeric(df, "train_seconds") / _numeric(df, "iteration"),
                         "gflops_per_iteration": _numeric(df, "gflops_per_step")})


def our_rows(metrics_files: list[str | Path]) -> list[dict]:
    """Long rows of our runs: one per (data set, method, N, metric) that at least one seed records."""
    df = read_metrics(metrics_files)
    values = run_values(df)
    rows = []
    for (dataset, method, n), group in df.groupby(["dataset", "algorithm", "n"], sort=False):
        scale = {key: first_recorded(group, key) for key in SCALE}
        for metric in METRICS:
            recorded = values.loc[group.index, metric].dropna()
            if recorded.empty:
                continue
            mean, sem, count = mean_sem(recorded)
            sem = 0.0 if sem <= 1e-12 * abs(mean) else sem  # equal values (GFLOPs): no rounding noise
            runs = run_pattern([str(Path(p).parent) for p in group.loc[recorded.index, "path"]])
            rows.append(long_row(f"{METHOD_LABELS[method]} (ours, N={int(n)})", "ours", dataset, metric, mean, sem,
                                 int(n), count, runs, method, **scale))
    return rows


def _paper(model: str, source: str, table: str, dataset: str, metric: str, value: pv.Value, method: str) -> dict:
    return long_row(model, source, dataset, metric, *value, method=method, paper_table=table)


def cited_rows(method: str, dataset: str) -> list[dict]:
    """What the paper prints for ``method`` on ``dataset``: EBIPLA's own rows of Tables 1 and 2(a) (source
    ``paper``); for a baseline the rows it cites in Table 1 (MSE and FID), Table 2(a) and Tables 5-7 (FID), source
    ``cited``. [] where it prints none (PGD; the offline digits)."""
    if method == "ebipla":
        rows = [_paper("EBIPLA (paper)", "paper", "Table 1", dataset, metric, value, method)
                for metric, value in pv.EBIPLA_TABLE1.get(dataset, {}).items()]
        if dataset in pv.EBIPLA_TABLE2A:
            rows.append(_paper("EBIPLA (paper)", "paper", "Table 2(a)", dataset, "fid", pv.EBIPLA_TABLE2A[dataset],
                               method))
        return rows
    rows = []
    for model in CITED_MODELS.get(method, ()):
        reference, values = pv.TABLE1_CITED.get(model, ("", {}))
        for metric, value in zip(("mse", "fid"), values.get(dataset, (None, None))):
            if value is not None:
                rows.append(_paper(model, f"cited: Table 1 ({reference})", "Table 1", dataset, metric,
                                   pv.Value(value), method))
        if dataset == "celebahq" and model in pv.TABLE2A_CITED:
            rows.append(_paper(model, "cited: Table 2(a)", "Table 2(a)", dataset, "fid",
                               pv.Value(pv.TABLE2A_CITED[model]), method))
        for table, (table_dataset, entries) in pv.LITERATURE.items():
            label = f"Table {table.removeprefix('table')}"
            rows += [_paper(model, f"cited: {label} (Appendix E.2)", label, dataset, "fid", pv.Value(value), method)
                     for name, value in entries if name == model and table_dataset == dataset]
    return rows


def paper_cell(cited: pd.DataFrame, metric: str) -> str:
    """The paper's values of one metric, each with the tables that print it: ``46.78 (Table 1, Table 6)``, several
    values separated by ``;``; ``–`` without any."""
    rows = cited[cited["metric"] == metric]
    if rows.empty:
        return "–"
    texts: dict[str, list[str]] = {}
    for r in rows.itertuples():
        text = fmt_value(r.mean, None if pd.isna(r.uncertainty) else r.uncertainty, *METRIC_FORMATS[metric])
        texts.setdefault(text, []).append(f"{r.paper_table}: {r.model}")
    return "; ".join(f"{text} ({', '.join(tables)})" for text, tables in texts.items())


def _wide(long: pd.DataFrame) -> pd.DataFrame:
    """One line per (data set, method, N) of ours: seeds, our metrics, then the paper's MSE and FID."""
    ours = long[long["source"] == "ours"]
    lines = []
    for (dataset, method, n), group in ours.groupby(["dataset", "method", "N"], sort=False):
        cells = {r.metric: fmt_value(r.mean, r.uncertainty, *FORMATS[r.metric]) for r in group.itertuples()}
        cited = long[(long["source"] != "ours") & (long["dataset"] == dataset) & (long["method"] == method)]
        lines.append({"data set": pv.DATASET_LABELS.get(dataset, dataset), "method": METHOD_LABELS[method],
                      "N": str(int(n)), "seeds": str(int(group["n_runs"].max())),
                      **{label: cells.get(metric, "–") for metric, label in METRICS.items()},
                      "paper's MSE": paper_cell(cited, "mse"), "paper's FID": paper_cell(cited, "fid")})
    return pd.DataFrame(lines)


def _order(long: pd.DataFrame) -> pd.DataFrame:
    """Data sets in the paper's order, then methods as METHOD_LABELS, then N; ours before the paper's rows."""
    datasets = {d: i for i, d in enumerate(pv.DATASET_LABELS)}
    methods = {m: i for i, m in enumerate(METHOD_LABELS)}
    keys = pd.DataFrame({"d": long["dataset"].map(datasets).fillna(len(datasets)), "m": long["method"].map(methods),
                         "n": long["N"].fillna(0), "paper": long["source"] != "ours"})
    return long.loc[keys.sort_values(["d", "m", "paper", "n"], kind="stable").index].reset_index(drop=True)


def table_one_protocol(metrics_files: list[str | Path], prefix: str | Path, caption: str) -> pd.DataFrame:
    """Write ``prefix``.csv (long form), .md, .tex and .html (one line per data set and method) of the one-protocol
    comparison; returns the long form."""
    ours = our_rows(metrics_files)
    pairs = dict.fromkeys((r["method"], r["dataset"]) for r in ours)
    long = _order(pd.DataFrame(ours + [row for method, dataset in pairs for row in cited_rows(method, dataset)]))
    write_table(long, _wide(long), prefix, caption)
    return long
