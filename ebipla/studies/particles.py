"""Particles against data size (issue 16, item 2): for M data points, where do the returns of N flatten?

Theorem 1 (paper.md section 3) bounds the error of theta by C2 / sqrt(MN) plus terms that do not depend on N, and
Remark 2 reads it as N = O(eps^-2 M^-1 d_theta): the larger the data set, the fewer particles it needs. The paper
tests N only on SVHN (Table 2(b), FID against N at one M). This study trains a grid of N x M on the synthetic sets
with the project's own commands (workflow/rules/study_particles.smk: ``ebipla train`` then ``ebipla evaluate``, one
run directory per cell and seed) and reads the finished runs:

- EBIPLA with N particles per data point (Algorithm 2) against LEBM with N posterior ULA steps per iteration, the
  paper's matched posterior budget (section 2.8: both cost O(B (N + J)) gradient evaluations per iteration);
- M = data.n_points; every cell runs the same number of iterations K (n_epochs = K / ceil(M / B)), so within one
  M every N has the same iterations and epochs (docs/particles-vs-data.md says why K and not the epochs is fixed);
- the score is the run's MMD^2 against held-out points (``ebipla evaluate``), the cost its wall seconds of training
  per epoch (train_summary.json's train_seconds / n_epochs).

Per (data set, method, M), from the seed means of MMD^2 against N (this module):

- ``best``: the N of the smallest mean MMD^2; ``n_within``: the smallest N whose mean MMD^2 is within a fraction x
  (``--within``) of it, i.e. at most best + x |best|; ``cost_ratio``: its seconds per epoch over the best N's
  (measured wall-clock); ``gradient_ratio``: (n_within + J) / (best + J), the same ratio in gradient evaluations per
  data point and iteration, which a loaded machine cannot distort;
- ``n_indistinguishable``: the smallest N whose mean lies within 2 combined standard errors of the best (with two
  or more seeds; MMD^2 is noisy, /work/shared/docs/calibration.md);
- a saturating fit mmd2(N) = a + b N^-p (a, b >= 0, p in [P_MIN, P_MAX]) by least squares on log mmd2, and the N
  where the fit comes within x of its asymptote a: N_x = (b / (x a))^(1/p).

The guideline sentence of each row ("for M points of dimension d, N = n is within x % of the best MMD^2 at y % of
its cost") is written into the guideline CSV, so the README quotes numbers computed here. Table 2(b)'s runs
(``--table2b``: FID against N on SVHN, or the quick config's digits) are drawn as a panel of their own.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import NullLocator
from scipy.optimize import least_squares

from ..checkpoint import atomic_write_text
from ..errors import ConfigError, DataError
from ..plotting import plt, save_both, wrap
from ..presets import DATASETS
from ..report.tables import METHOD_LABELS, mean_sem, read_metrics

HELP = "particles against data size: MMD^2 and seconds per epoch over N x M, where the returns of N flatten"

# Long CSV (one row per run) and guideline CSV (one row per data set, method and M).
RUN_FIELDS = ("source", "dataset", "method", "N", "M", "seed", "d", "mmd2", "fid", "seconds_per_epoch",
              "seconds_per_iteration", "train_seconds", "n_epochs", "iterations", "batch_size", "J",
              "divergence_recoveries", "run")
GUIDE_FIELDS = ("dataset", "method", "M", "d", "n_seeds", "iterations", "n_epochs", "J", "particles", "best_N",
                "mmd2_best", "mmd2_best_sem", "within", "n_within", "mmd2_within", "seconds_per_epoch_best",
                "seconds_per_epoch_within", "cost_ratio", "gradient_ratio", "n_indistinguishable", "fit_a", "fit_b",
                "fit_p", "fit_n_within", "guideline")
MMD2_FLOOR = 1e-5  # log fits and log axes clip MMD^2 here (data vs independent data is about 1e-4)
P_MIN, P_MAX = 0.1, 4.0  # the fit's exponent range
P_STARTS = (0.5, 1.0, 2.0)  # initial exponents of the fit (the best of these starts is kept: deterministic)
TABLE2B = "table2b"
STUDY = "study"
METHOD_STYLE = {"ebipla": ("o", "-"), "lebm": ("s", "--")}  # marker, fit line


# ------------------------------------------------------------------------------------------------ reading runs


def run_config(metrics_path: str | Path, required: bool = True):
    """The resolved config.yaml that ``ebipla train`` wrote beside ``metrics_path`` (None if absent and not
    ``required``)."""
    from ..config import load_config

    path = Path(metrics_path).parent / "config.yaml"
    if not path.is_file():
        if not required:
            return None
        raise DataError(f"{metrics_path}: no config.yaml beside it; the study reads M (data.n_points) and J from "
                        "the run's resolved config. Pass metrics.json files of runs trained with `ebipla train`.")
    return load_config([path])


def data_dimension(cfg) -> int | None:
    """d, the observation dimension of a synthetic data set (from two points drawn with the run's data config)."""
    from ..config.schema import SYNTHETIC
    from ..data.synthetic import make_synthetic

    if cfg is None or cfg.data.name not in SYNTHETIC:
        return None
    return int(make_synthetic(cfg.data, "eval", 2).y.shape[1])


def read_runs(files: list[str | Path], source: str) -> pd.DataFrame:
    """One row per run (RUN_FIELDS) from its metrics.json and config.yaml. ``source`` "study": synthetic grid runs
    (MMD^2 required, config.yaml required); "table2b": image runs (FID required, config.yaml optional)."""
    if not files:
        return pd.DataFrame(columns=RUN_FIELDS)
    metric = "mmd2" if source == STUDY else "fid"
    df = read_metrics(files)
    rows = []
    for rec in df.to_dict("records"):
        if metric not in rec or pd.isna(rec[metric]):
            other = "--table2b (image runs: FID)" if source == STUDY else "--metrics (synthetic runs: MMD^2)"
            raise DataError(f"{rec['path']}: no {metric!r}; is it a run for {other}?")
        cfg = run_config(rec["path"], required=source == STUDY)
        seconds, epochs, iters = rec.get("train_seconds"), rec.get("n_epochs"), rec.get("iteration")
        rows.append({
            "source": source, "dataset": rec["dataset"], "method": rec["algorithm"], "N": int(rec["n"]),
            "M": cfg.data.n_points if source == STUDY else None, "seed": int(rec["seed"]),
            "d": data_dimension(cfg), "mmd2": rec.get("mmd2"), "fid": rec.get("fid"),
            "seconds_per_epoch": _ratio(seconds, epochs), "seconds_per_iteration": _ratio(seconds, iters),
            "train_seconds": seconds, "n_epochs": epochs, "iterations": iters, "batch_size": rec.get("batch_size"),
            "J": getattr(cfg.algorithm, "n_prior_steps", None) if cfg is not None else rec.get("n_prior_steps"),
            "divergence_recoveries": rec.get("divergence_recoveries", 0), "run": str(Path(rec["path"]).parent)})
    return pd.DataFrame(rows, columns=RUN_FIELDS)


def _ratio(num: float | None, den: float | None) -> float:
    if num is None or den is None or pd.isna(num) or pd.isna(den) or den == 0:
        return float("nan")
    return float(num) / float(den)


def check_budgets(runs: pd.DataFrame) -> None:
    """Within one (data set, method, M) every run must have the same iterations (the comparison of N assumes one
    budget); raise naming the runs otherwise."""
    for key, group in runs.groupby(["dataset", "method", "M"]):
        if group["iterations"].nunique() > 1:
            shown = "; ".join(f"{r.run}: {r.iterations}" for r in group.itertuples())
            raise DataError(f"{key}: the runs differ in their iterations ({shown}); the study compares N at one "
                            "budget per M. Train them with the same study settings.")


# ------------------------------------------------------------------------------------------------ the fit


def fit_saturating(n: np.ndarray, mmd2: np.ndarray) -> tuple[float, float, float]:
    """Least squares of log max(mmd2, MMD2_FLOOR) against log(a + b N^-p) with a, b > 0, p in [P_MIN, P_MAX];
    NaNs with fewer than three distinct N. Returns (a, b, p)."""
    n, y = np.asarray(n, dtype=float), np.log(np.maximum(np.asarray(mmd2, dtype=float), MMD2_FLOOR))
    if len(np.unique(n)) < 3:
        return math.nan, math.nan, math.nan

    def residuals(v: np.ndarray) -> np.ndarray:  # v = (log a, log b, p)
        return np.logaddexp(v[0], v[1] - v[2] * np.log(n)) - y

    lo_y, hi_y = float(y.min()), float(y.max())
    lower = [math.log(MMD2_FLOOR) - 10.0, math.log(MMD2_FLOOR) - 30.0, P_MIN]
    upper = [hi_y + 5.0, hi_y + 30.0, P_MAX]
    best = None
    for p0 in P_STARTS:
        start = np.array([lo_y - 0.1, math.log(max(math.exp(hi_y) - math.exp(lo_y), MMD2_FLOOR)), p0])
        start = np.clip(start, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
        fit = least_squares(residuals, start, bounds=(lower, upper), method="trf")
        if best is None or fit.cost < best.cost:
            best = fit
    log_a, log_b, p = best.x
    return math.exp(log_a), math.exp(log_b), float(p)


def fitted_n_within(a: float, b: float, p: float, within: float) -> float:
    """N_x: where the fit a + b N^-p is within ``within`` of its asymptote a, i.e. b N^-p = within a."""
    if any(math.isnan(v) for v in (a, b, p)) or a <= 0:
        return math.nan
    return max(1.0, (b / (within * a)) ** (1.0 / p))


# ------------------------------------------------------------------------------------------------ guideline


def cell_means(runs: pd.DataFrame, value: str) -> pd.DataFrame:
    """Per (data set, method, M, N): the mean, s.e. and count over seeds of ``value``, and mean seconds per
    epoch."""
    rows = []
    keys = ["dataset", "method", "M", "N"]
    for key, group in runs.groupby(keys, dropna=False, sort=True):
        mean, sem, count = mean_sem(pd.to_numeric(group[value]))
        rows.append({**dict(zip(keys, key)), "mean": mean, "sem": sem, "n_seeds": count,
                     "seconds_per_epoch": float(group["seconds_per_epoch"].mean()),
                     "d": group["d"].iloc[0], "iterations": group["iterations"].iloc[0],
                     "n_epochs": group["n_epochs"].iloc[0], "J": group["J"].iloc[0]})
    return pd.DataFrame(rows)


def indistinguishable(cells: pd.DataFrame, best: pd.Series) -> float:
    """The smallest N whose mean lies within 2 sqrt(se_N^2 + se_best^2) of the best mean; NaN with one seed."""
    if cells["sem"].isna().any():
        return math.nan
    close = cells[cells["mean"] - best["mean"] <= 2.0 * np.sqrt(cells["sem"] ** 2 + best["sem"] ** 2)]
    return float(close["N"].min())


def guideline_row(cells: pd.DataFrame, within: float) -> dict:
    """The guideline of one (data set, method, M) from its cells (one row per N, sorted by N)."""
    best = cells.loc[cells["mean"].idxmin()]
    threshold = best["mean"] + within * abs(best["mean"])
    chosen = cells[cells["mean"] <= threshold].iloc[0]
    a, b, p = fit_saturating(cells["N"].to_numpy(), cells["mean"].to_numpy())
    first = cells.iloc[0]
    row = {"dataset": first["dataset"], "method": first["method"], "M": int(first["M"]), "d": first["d"],
           "n_seeds": int(cells["n_seeds"].min()), "iterations": first["iterations"], "n_epochs": first["n_epochs"],
           "J": first["J"], "particles": " ".join(str(int(n)) for n in cells["N"]), "best_N": int(best["N"]),
           "mmd2_best": best["mean"], "mmd2_best_sem": best["sem"], "within": within,
           "n_within": int(chosen["N"]), "mmd2_within": chosen["mean"],
           "seconds_per_epoch_best": best["seconds_per_epoch"], "seconds_per_epoch_within": chosen["seconds_per_epoch"],
           "cost_ratio": _ratio(chosen["seconds_per_epoch"], best["seconds_per_epoch"]),
           "gradient_ratio": _ratio(chosen["N"] + first["J"], best["N"] + first["J"]),
           "n_indistinguishable": indistinguishable(cells, best), "fit_a": a, "fit_b": b, "fit_p": p,
           "fit_n_within": fitted_n_within(a, b, p, within)}
    row["guideline"] = guideline_sentence(row)
    return row


def guideline_sentence(row: dict) -> str:
    """'swissroll, EBIPLA, M = 1000 points of dimension d = 2: N = 4 is within 10% of the best MMD^2 (1.00e-03 at
    N = 16) at 50% of its cost per epoch; 90% of its N + J gradient evaluations (2 seeds).'"""
    seeds = f"{row['n_seeds']} seed{'s' if row['n_seeds'] != 1 else ''}"
    d = f" of dimension d = {int(row['d'])}" if not pd.isna(row["d"]) else ""
    head = f"{row['dataset']}, {METHOD_LABELS.get(row['method'], row['method'])}, M = {row['M']} points{d}: "
    if row["best_N"] == min(int(n) for n in str(row["particles"]).split()):
        return (f"{head}the smallest N tried, N = {row['best_N']}, has the best MMD^2 ({row['mmd2_best']:.2e}); "
                f"more particles did not help ({seeds}).")
    if row["n_within"] == row["best_N"]:
        return (f"{head}no smaller N comes within {row['within']:.0%} of the best MMD^2 ({row['mmd2_best']:.2e} at "
                f"N = {row['best_N']}) ({seeds}).")
    cost = f"{row['cost_ratio']:.0%}" if not math.isnan(row["cost_ratio"]) else "an unrecorded share"
    grads = f"; {row['gradient_ratio']:.0%} of its N + J gradient evaluations" if not pd.isna(row["J"]) else ""
    return (f"{head}N = {row['n_within']} is within {row['within']:.0%} of the best MMD^2 ({row['mmd2_best']:.2e} "
            f"at N = {row['best_N']}) at {cost} of its cost per epoch{grads} ({seeds}).")


def guideline(runs: pd.DataFrame, within: float) -> pd.DataFrame:
    """GUIDE_FIELDS per (data set, method, M) from the study's runs, in the paper's data set order."""
    cells = cell_means(runs, "mmd2")
    rows = [guideline_row(group.sort_values("N", ignore_index=True), within)
            for _, group in cells.groupby(["dataset", "method", "M"], sort=True)]
    table = pd.DataFrame(rows, columns=GUIDE_FIELDS)
    order = {name: i for i, name in enumerate(DATASETS)}
    return table.sort_values(["dataset", "method", "M"], ignore_index=True,
                             key=lambda c: c.map(lambda v: order.get(v, len(order))) if c.name == "dataset" else c)


# ------------------------------------------------------------------------------------------------ figure


def _panel_mmd2(ax: plt.Axes, cells: pd.DataFrame, guide: pd.DataFrame, colors: dict) -> None:
    """MMD^2 against N per (method, M): seed means with s.e., the fit a + b N^-p, the N within x of the best."""
    for (method, m), group in cells.groupby(["method", "M"], sort=True):
        style = METHOD_STYLE.get(method, ("^", ":"))
        color = colors[m]
        y = np.maximum(group["mean"].to_numpy(), MMD2_FLOOR)
        ax.errorbar(group["N"], y, yerr=group["sem"].fillna(0).to_numpy(), fmt=style[0], ms=3.5, color=color,
                    mfc="none", capsize=2, lw=0.8, label=f"{METHOD_LABELS.get(method, method)}, M = {m}")
        fit = guide[(guide["method"] == method) & (guide["M"] == m)].iloc[0]
        if not math.isnan(fit["fit_a"]):
            grid = np.geomspace(group["N"].min(), group["N"].max(), 60)
            ax.plot(grid, fit["fit_a"] + fit["fit_b"] * grid ** -fit["fit_p"], style[1], color=color, lw=0.8)
        chosen = group[group["N"] == fit["n_within"]]
        ax.plot(chosen["N"], np.maximum(chosen["mean"], MMD2_FLOOR), "*", ms=9, color=color, mfc="none", mew=0.8)
    _n_axis(ax, cells["N"])
    ax.set_yscale("log")
    ax.set_xlabel("N (EBIPLA: particles per point; LEBM: posterior steps)", fontsize=7)
    ax.set_ylabel("MMD$^2$ vs held-out", fontsize=7)


def _panel_cost(ax: plt.Axes, runs: pd.DataFrame, colors: dict) -> None:
    """Seconds per epoch against N per (method, M), mean over seeds."""
    for (method, m), group in runs.groupby(["method", "M"], sort=True, dropna=False):
        style = METHOD_STYLE.get(method, ("^", ":"))
        mean = group.groupby("N")["seconds_per_epoch"].mean()
        ax.plot(mean.index, mean.to_numpy(), style[0] + style[1], ms=3.5, mfc="none", lw=0.8,
                color=colors.get(m, "k"), label=f"{METHOD_LABELS.get(method, method)}, M = {m}")
    _n_axis(ax, runs["N"])
    ax.set_yscale("log")
    ax.set_xlabel("N", fontsize=7)
    ax.set_ylabel("seconds per epoch (training)", fontsize=7)


def _panel_table2b(ax: plt.Axes, runs: pd.DataFrame) -> None:
    """FID against N (Table 2(b)'s runs), mean +- s.e. over seeds."""
    for (dataset, method), group in runs.groupby(["dataset", "method"], sort=True):
        cells = cell_means(group.assign(M=-1), "fid")
        ax.errorbar(cells["N"], cells["mean"], yerr=cells["sem"].fillna(0).to_numpy(), fmt="o-", ms=3.5,
                    mfc="none", capsize=2, lw=0.8, color="k",
                    label=f"{dataset}, {METHOD_LABELS.get(method, method)} (Table 2(b) runs)")
    _n_axis(ax, runs["N"])
    ax.set_xlabel("N (particles per point)", fontsize=7)
    ax.set_ylabel("FID", fontsize=7)


def _n_axis(ax: plt.Axes, n: pd.Series) -> None:
    """A log2 axis of N with the grid's values as plain tick labels."""
    ax.set_xscale("log", base=2)
    ticks = sorted({int(v) for v in n})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())


def particles_figure(runs: pd.DataFrame, guide: pd.DataFrame, table2b: pd.DataFrame, prefix: str | Path,
                     caption: str) -> None:
    """One row per data set: MMD^2 against N (left; stars: the smallest N within x of the best) and seconds per
    epoch (right), colours by M, markers by method; a last row for Table 2(b)'s FID and cost against N."""
    datasets = list(dict.fromkeys(guide["dataset"]))
    n_rows = len(datasets) + (1 if len(table2b) else 0)
    fig, axes = plt.subplots(n_rows, 2, figsize=(8.4, 2.7 * n_rows + 0.8), squeeze=False)
    sizes = sorted(runs["M"].dropna().unique())
    colors = {m: f"C{i}" for i, m in enumerate(sizes)}
    cells = cell_means(runs, "mmd2")
    for row, dataset in enumerate(datasets):
        left, right = axes[row]
        _panel_mmd2(left, cells[cells["dataset"] == dataset], guide[guide["dataset"] == dataset], colors)
        _panel_cost(right, runs[runs["dataset"] == dataset], colors)
        left.set_title(f"{dataset}: MMD$^2$ against N (star: smallest N within "
                       f"{guide['within'].iloc[0]:.0%} of the best; lines: fit a + b N$^{{-p}}$)", fontsize=7)
        right.set_title(f"{dataset}: cost against N", fontsize=7)
    if len(table2b):
        left, right = axes[-1]
        _panel_table2b(left, table2b)
        _panel_cost(right, table2b.assign(M=table2b["dataset"]), {d: "k" for d in table2b["dataset"]})
        left.set_title("Table 2(b)'s runs: FID against N", fontsize=7)
        right.set_title("Table 2(b)'s runs: cost against N", fontsize=7)
    for ax in axes.flat:
        ax.tick_params(which="both", labelsize=6)
        ax.legend(fontsize=5.5, ncol=2)
    fig.suptitle(wrap(caption, 120), fontsize=7.5)
    fig.tight_layout()
    save_both(fig, prefix)


# ------------------------------------------------------------------------------------------------ command


def write_study(metrics: list[str], table2b: list[str], prefix: str | Path, within: float,
                caption: str) -> pd.DataFrame:
    """``prefix``.csv (RUN_FIELDS, one row per run, Table 2(b)'s runs included), ``prefix``_guideline.csv
    (GUIDE_FIELDS) and ``prefix``.{pdf,png}; returns the guideline."""
    if not 0 < within < 1:
        raise ConfigError(f"--within {within}: expected a fraction in (0, 1), e.g. 0.1 for 10 %")
    runs = read_runs(metrics, STUDY)
    check_budgets(runs)
    extra = read_runs(table2b, TABLE2B)
    guide = guideline(runs, within)
    prefix = Path(prefix)
    atomic_write_text(prefix.with_suffix(".csv"), pd.concat([runs, extra], ignore_index=True).to_csv(index=False))
    atomic_write_text(guide_path(prefix), guide.to_csv(index=False))
    particles_figure(runs, guide, extra, prefix, caption)
    return guide


def guide_path(prefix: str | Path) -> Path:
    prefix = Path(prefix)
    return prefix.with_name(f"{prefix.name}_guideline.csv")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ebipla study particles", description=HELP)
    p.add_argument("--metrics", nargs="+", required=True, metavar="FILE",
                   help="metrics.json of the study's synthetic runs (ebipla evaluate), config.yaml beside each")
    p.add_argument("--table2b", nargs="*", default=[], metavar="FILE",
                   help="metrics.json of Table 2(b)'s image runs (FID against N), drawn as a panel of their own")
    p.add_argument("--out", required=True, metavar="PREFIX",
                   help="writes PREFIX.csv (runs), PREFIX_guideline.csv, PREFIX.pdf and PREFIX.png")
    p.add_argument("--within", type=float, default=0.1,
                   help="the guideline's tolerance: the smallest N within this fraction of the best MMD^2 (0.1)")
    p.add_argument("--caption", default="", help="the figure's title line (its scale)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    guide = write_study(args.metrics, args.table2b, args.out, args.within, args.caption)
    for sentence in guide["guideline"]:
        print(sentence)
    return 0


# ------------------------------------------------------------------------------------------------ report.md


def report_section(paths: list[str]) -> list[str]:
    """The report.md section from the study's CSVs (the guideline CSV and the runs' CSV, told apart by their
    columns): the guideline per data set, method and M, the fit, the seeds it rests on, Table 2(b)'s FID."""
    tables = {p: pd.read_csv(p) for p in paths}
    guide_file = next((p for p, t in tables.items() if "guideline" in t.columns), None)
    runs_file = next((p for p, t in tables.items() if "source" in t.columns), None)
    if guide_file is None:
        raise DataError(f"study particles: none of {paths} is a guideline CSV (ebipla study particles)")
    guide = tables[guide_file]
    lines = ["", "## Particles against data size (beyond the paper)", "",
             f"EBIPLA with N particles per point against LEBM with N posterior steps (the matched budget), every cell "
             f"trained for the same number of iterations; MMD^2 of short-run samples against held-out points, mean "
             f"over seeds. Per data set, method and M: the N of the best MMD^2, the smallest N within "
             f"{guide['within'].iloc[0]:.0%} of it and its cost relative to the best N's (measured seconds per "
             f"epoch, and N + J gradient evaluations per point and iteration, which machine load cannot distort), the "
             f"smallest N within 2 s.e. of the best (two or more seeds), and the fit a + b N^-p with the N where it "
             f"comes within {guide['within'].iloc[0]:.0%} of a. From `{guide_file}`.", ""]
    lines += [f"- {s}" for s in guide["guideline"]]
    lines += ["", _guide_markdown(guide), "", _seed_caveat(guide)]
    if runs_file is not None:
        lines += _table2b_lines(tables[runs_file], runs_file)
    return lines


def _guide_markdown(guide: pd.DataFrame) -> str:
    rows = []
    for r in guide.itertuples():
        rows.append({"data set": r.dataset, "method": METHOD_LABELS.get(r.method, r.method), "M": r.M,
                     "iterations (epochs)": f"{r.iterations:g} ({r.n_epochs:g})", "N tried": r.particles,
                     "best N (MMD^2)": f"{r.best_N} ({_sci(r.mmd2_best, r.mmd2_best_sem)})",
                     "N within": f"{r.n_within} ({r.mmd2_within:.2e})", "its cost": _pct(r.cost_ratio),
                     "its N + J": _pct(r.gradient_ratio),
                     "N within 2 s.e.": _int(r.n_indistinguishable),
                     "fit a, b, p": "–" if math.isnan(r.fit_a) else f"{r.fit_a:.2e}, {r.fit_b:.2e}, {r.fit_p:.2f}",
                     "fitted N within": _fitted(r.fit_n_within, r.particles), "seeds": r.n_seeds})
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def _seed_caveat(guide: pd.DataFrame) -> str:
    seeds = int(guide["n_seeds"].min())
    base = (f"The guideline rests on {seeds} seed{'s' if seeds != 1 else ''} per cell. MMD^2 is noisy (it can "
            "change several-fold between nearby checkpoints of one run), so ")
    if seeds < 3:
        return base + "with fewer than three seeds these numbers are indicative only, not a guideline."
    return base + "read \"N within 2 s.e.\" beside \"N within\": where they differ, the gap is within the noise."


def _table2b_lines(runs: pd.DataFrame, path: str) -> list[str]:
    extra = runs[runs["source"] == TABLE2B]
    if extra.empty:
        return []
    cells = cell_means(extra.assign(M=-1), "fid")
    shown = ", ".join(f"N = {int(r.N)}: {_sci_fid(r.mean, r.sem)}" for r in cells.itertuples())
    return ["", f"Table 2(b)'s runs ({', '.join(sorted(set(extra['dataset'])))}; FID against N, mean +- s.e. over "
            f"seeds, from `{path}`): {shown}."]


def _sci(mean: float, sem: float) -> str:
    return f"{mean:.2e}" if pd.isna(sem) else f"{mean:.2e} ± {sem:.1e}"


def _sci_fid(mean: float, sem: float) -> str:
    return f"{mean:.2f}" if pd.isna(sem) else f"{mean:.2f} ± {sem:.2f}"


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.0%}"


def _int(value: float) -> str:
    return "–" if pd.isna(value) else str(int(value))


def _fitted(value: float, particles: str) -> str:
    if pd.isna(value):
        return "–"
    largest = max(int(n) for n in str(particles).split())
    return f"beyond the grid (> {largest})" if value > largest else f"{value:.1f}"
