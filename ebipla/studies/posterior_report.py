"""The posterior study's table, figure and report.md section, built from its files only (``ebipla study posterior``
writes them: ``table_STEM.csv``, the long form, and ``figure_STEM.npz``, the arrays of the posterior panel).

The CSV has one row per (part, method, N, iteration, metric): ``value`` and, for the means over data points of
Part A, their standard error ``se``. Parts: "setup" (the run's settings, method = the scale), "A" (theta fixed;
metrics mmd2, sw2, mode_mass, mode_mass_error, seconds; method "grid" holds the grid's mode_mass and
edge_mass_max), "B" (learning; error_truth and error_mmle at checkpoints, then tail_error_truth, tail_error_mmle,
tail_spread, mmd2_y, mu1, mu2, log_c at the last iteration; methods "mmle" and "truth" as references).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..plotting import plt, save_both, wrap
from ..report.tables import fmt_value, write_table

LABELS = {"ebipla": "EBIPLA", "abp": "ABP", "lebm": "LEBM", "exact": "exact", "mmle": "MMLE (grid)",
          "truth": "truth", "grid": "grid"}
COLOURS = {"ebipla": "C0", "abp": "C2", "lebm": "C1", "exact": "k"}
SAMPLERS = ("ebipla", "abp", "lebm")
TITLE = "Posterior accuracy beyond log-concavity (study)"


def read_study(csv_path: str | Path) -> pd.DataFrame:
    """The long CSV, with N and iteration as nullable integers."""
    df = pd.read_csv(csv_path)
    missing = {"part", "method", "N", "iteration", "metric", "value", "se"} - set(df.columns)
    if missing:
        raise ValueError(f"{csv_path}: not a posterior-study CSV (missing columns {sorted(missing)})")
    for col in ("N", "iteration"):
        df[col] = df[col].astype("Int64")
    return df


def setup(df: pd.DataFrame) -> dict[str, float]:
    """The "setup" rows as name -> value (``particles``: the largest N), plus ``scale`` (its name)."""
    rows = df[df["part"] == "setup"]
    out: dict = {r.metric: r.value for r in rows.itertuples() if r.metric != "particles"}
    out["particles"] = [int(v) for v in rows.loc[rows["metric"] == "particles", "value"]]
    out["scale"] = rows["method"].iloc[0] if len(rows) else "?"
    return out


def pick(df: pd.DataFrame, part: str, method: str, metric: str, n: int | None = None,
         iteration: int | None = None) -> tuple[float, float]:
    """(value, se) of one row; (nan, nan) when absent. ``n``/``iteration`` None: the row without one, or the
    only one."""
    sel = df[(df["part"] == part) & (df["method"] == method) & (df["metric"] == metric)]
    if n is not None:
        sel = sel[sel["N"] == n]
    if iteration is not None:
        sel = sel[sel["iteration"] == iteration]
    if len(sel) != 1:
        return math.nan, math.nan
    return float(sel["value"].iloc[0]), float(sel["se"].iloc[0])


def curve(df: pd.DataFrame, part: str, method: str, metric: str, n: int | None = None) -> tuple[np.ndarray, ...]:
    """(iterations, values, se) of one method's metric over the checkpoints, sorted."""
    sel = df[(df["part"] == part) & (df["method"] == method) & (df["metric"] == metric) & df["iteration"].notna()]
    if n is not None:
        sel = sel[sel["N"] == n]
    sel = sel.sort_values("iteration")
    return sel["iteration"].to_numpy(float), sel["value"].to_numpy(float), sel["se"].to_numpy(float)


# ---------------------------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------------------------

def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per method: Part A's distances at the largest N and the last iteration, Part B's errors of the
    tail-averaged theta, the norm of its mu and the MMD^2 of its marginal of y; numbers unformatted (nan where a
    method has none)."""
    s = setup(df)
    n_max, t_a, t_b = max(s["particles"]), int(s["iters_a"]), int(s["iters_b"])
    rows = []
    for method in (*SAMPLERS, "exact", "mmle", "truth"):
        r = {"method": method}
        for metric in ("mmd2", "sw2", "mode_mass", "mode_mass_error"):
            r[metric], r[f"{metric}_se"] = pick(df, "A", method, metric, n_max, t_a)
        at = None if method in ("mmle", "truth") else t_b
        for metric in ("tail_error_truth", "tail_error_mmle", "mmd2_y", "mu1", "mu2"):
            r[metric] = pick(df, "B", method, metric, iteration=at)[0]
        if method == "mmle":
            r["tail_error_truth"], r["tail_error_mmle"] = pick(df, "B", "mmle", "error_truth")[0], 0.0
        if method == "truth":
            r["mu1"], r["mu2"] = s["mu1_true"], s["mu2_true"]
        r["mu_norm"] = math.hypot(r["mu1"], r["mu2"])
        r["diverged_at"] = pick(df, "B", method, "diverged_at")[0]
        rows.append(r)
    return pd.DataFrame(rows)


def b_cell(row, value: float, fmt: str) -> str:
    """A Part B cell: the value, or "diverged (k = ...)" for a method whose sampler diverged."""
    if not math.isnan(row.diverged_at):
        return f"diverged (k = {int(row.diverged_at)})"
    return fmt_value(value, None, fmt, "")


def table_caption(df: pd.DataFrame, caption: str) -> str:
    """The caption with the run's settings appended (from the setup rows)."""
    s = setup(df)
    grid_mass, _ = pick(df, "A", "grid", "mode_mass")
    return (f"{caption}. Part A (theta at the truth): M = {int(s['m_a'])} points, N = {max(s['particles'])} samples "
            f"per point after {int(s['iters_a'])} iterations, h = {s['h']:g} for every chain (EBIPLA one step per "
            f"iteration, ABP K = {int(s['k_abp'])} warm-started steps, LEBM K1 = {int(s['k1_lebm'])} steps from "
            f"N(0, I)), exact = a fresh exact sample; mean ± s.e. over points of the MMD^2 and sliced W2 to the grid "
            f"posterior and of the share of the cloud in the prior-side mode (grid: {grid_mass:.3f}). Part B "
            f"(learning theta = (mu, log c), Adam lr {s['lr']:g}, {int(s['iters_b'])} iterations, M = "
            f"{int(s['m_b'])}): distance of theta averaged over the last {s['tail']:.0%} of iterations to the truth "
            f"and to the MMLE (modulo the sign of mu), and MMD^2 of the model's y against {int(s['n_heldout'])} "
            f"held-out points; exact = Adam on the grid's exact gradient.")


def write_table_files(df: pd.DataFrame, prefix: str | Path, caption: str) -> pd.DataFrame:
    """``prefix``.csv: the study's long table ``df`` (:func:`read_study`'s form); .md, .tex, .html: the wide summary,
    one row per method. -> the summary."""
    table = summary(df)
    wide = pd.DataFrame({
        "method": [LABELS[m] for m in table["method"]],
        "MMD^2 (A)": [fmt_value(v, e, "{:.2e}", "{:.1e}") for v, e in zip(table["mmd2"], table["mmd2_se"])],
        "sliced W2 (A)": [fmt_value(v, e, "{:.3f}", "{:.3f}") for v, e in zip(table["sw2"], table["sw2_se"])],
        "prior-side mode mass (A)": [fmt_value(v, e, "{:.3f}", "{:.3f}")
                                     for v, e in zip(table["mode_mass"], table["mode_mass_se"])],
        "abs. mode-mass error (A)": [fmt_value(v, e, "{:.3f}", "{:.3f}")
                                  for v, e in zip(table["mode_mass_error"], table["mode_mass_error_se"])],
        "theta error to truth (B)": [b_cell(r, r.tail_error_truth, "{:.3f}") for r in table.itertuples()],
        "theta error to MMLE (B)": [b_cell(r, r.tail_error_mmle, "{:.3f}") for r in table.itertuples()],
        "MMD^2 of y (B)": [b_cell(r, r.mmd2_y, "{:.2e}") for r in table.itertuples()],
        "norm of mu (B)": [b_cell(r, r.mu_norm, "{:.3f}") for r in table.itertuples()],
    })
    write_table(df, wide, prefix, table_caption(df, caption))
    return table


# ---------------------------------------------------------------------------------------------------------------
# Figure
# ---------------------------------------------------------------------------------------------------------------

def write_figure(csv_path: str | Path, npz_path: str | Path, prefix: str | Path, title: str) -> None:
    """Six panels from the CSV and the npz, to ``prefix``.pdf and .png: (a) MMD^2 against iterations, (b) MMD^2
    against N, (c) prior-side mode mass against iterations with the grid's, (d) one point's grid posterior with each
    method's final cloud, (e)-(f) Part B's distance of theta to the truth and to the MMLE against iterations."""
    df = read_study(csv_path)
    with np.load(npz_path) as z:
        panel = {k: z[k] for k in z.files}
    s = setup(df)
    n_max = max(s["particles"])
    fig, axes = plt.subplots(2, 3, figsize=(12.0, 7.4))
    panel_iterations(axes[0, 0], df, n_max)
    panel_particles(axes[0, 1], df, int(s["iters_a"]))
    panel_mode_mass(axes[0, 2], df, n_max)
    panel_posterior(axes[1, 0], panel, n_max)
    panel_learning(axes[1, 1], df, "error_truth", pick(df, "B", "mmle", "error_truth")[0])
    panel_learning(axes[1, 2], df, "error_mmle", None)
    fig.suptitle(wrap(title, 150), fontsize=8)
    fig.tight_layout()
    save_both(fig, prefix)


def _iteration_axis(ax: plt.Axes, label: str) -> None:
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0.0)
    ax.set_xlabel(label)
    ax.grid(alpha=0.3, lw=0.5)


def panel_iterations(ax: plt.Axes, df: pd.DataFrame, n_max: int) -> None:
    for method in (*SAMPLERS, "exact"):
        k, v, se = curve(df, "A", method, "mmd2", n_max)
        style = {"ls": "--"} if method == "exact" else {"marker": "o", "ms": 3}
        ax.plot(k, v, color=COLOURS[method], label=LABELS[method] + (" samples (floor)" if method == "exact" else ""),
                **style)
        ax.fill_between(k, np.maximum(v - se, 1e-12), v + se, color=COLOURS[method], alpha=0.15, lw=0)
    ax.set_yscale("log")
    _iteration_axis(ax, "iteration k (theta fixed at the truth)")
    ax.set_ylabel(f"MMD$^2$ of the N = {n_max} cloud to the posterior")
    ax.set_title("(a) distance against iterations", fontsize=8)
    ax.legend(fontsize=6)


def panel_particles(ax: plt.Axes, df: pd.DataFrame, t_a: int) -> None:
    for method in (*SAMPLERS, "exact"):
        sel = df[(df["part"] == "A") & (df["method"] == method) & (df["metric"] == "mmd2")
                 & (df["iteration"] == t_a)].sort_values("N")
        ax.errorbar(sel["N"].to_numpy(float), sel["value"], yerr=sel["se"], color=COLOURS[method], capsize=2,
                    marker="o", ms=3, ls="--" if method == "exact" else "-", label=LABELS[method])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("N (samples per data point)")
    ax.set_ylabel(f"MMD$^2$ to the posterior at k = {t_a}")
    ax.set_title("(b) distance against N (exact: falls like 1/N)", fontsize=8)
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(fontsize=6)


def panel_mode_mass(ax: plt.Axes, df: pd.DataFrame, n_max: int) -> None:
    for method in (*SAMPLERS, "exact"):
        k, v, se = curve(df, "A", method, "mode_mass", n_max)
        style = {"ls": "--"} if method == "exact" else {"marker": "o", "ms": 3}
        ax.plot(k, v, color=COLOURS[method], label=LABELS[method], **style)
    grid_mass, grid_se = pick(df, "A", "grid", "mode_mass")
    ax.axhline(grid_mass, color="k", lw=1.2, label=f"grid posterior ({grid_mass:.3f})")
    ax.axhline(0.5, color="0.5", lw=0.6, ls=":", label="0.5 (no preference)")
    _iteration_axis(ax, "iteration k (theta fixed at the truth)")
    ax.set_ylabel(f"share of the N = {n_max} cloud in the prior-side mode")
    ax.set_title("(c) mode masses against iterations (mean over points)", fontsize=8)
    ax.legend(fontsize=6, loc="center right")


def panel_posterior(ax: plt.Axes, panel: dict, n_max: int) -> None:
    b = float(panel["half_width"])
    dens = panel["density"].T  # (x2, x1) for imshow
    ax.imshow(np.log10(np.maximum(dens / dens.max(), 1e-4)), origin="lower", extent=(-b, b, -b, b), cmap="Greys",
              vmin=-4, vmax=0)
    markers = {"ebipla": "o", "abp": "^", "lebm": "s", "exact": "x"}
    for method, marker in markers.items():
        pts = panel.get(f"samples_{method}")
        if pts is not None:
            ax.scatter(pts[:, 0], pts[:, 1], s=9, marker=marker, facecolors="none" if marker != "x" else None,
                       edgecolors=COLOURS[method] if marker != "x" else None,
                       c=COLOURS[method] if marker == "x" else None, lw=0.7, label=LABELS[method])
    r = panel["direction"]
    ax.plot([r[0]], [r[1]], "r+", ms=10, label="prior-side root")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    y = panel["y"]
    ax.set_title(f"(d) posterior of y = ({y[0]:.2f}, {y[1]:.2f}) (grey, log scale): grid mass\n"
                 f"{float(panel['grid_fraction']):.2f} on the + side; each method's final N = {n_max} samples",
                 fontsize=7)
    ax.legend(fontsize=6, loc="lower left")


def panel_learning(ax: plt.Axes, df: pd.DataFrame, metric: str, mmle_error: float | None) -> None:
    for method in (*SAMPLERS, "exact"):
        k, v, _ = curve(df, "B", method, metric)
        diverged = pick(df, "B", method, "diverged_at")[0]
        label = LABELS[method] + (" gradient" if method == "exact" else "")
        if not math.isnan(diverged):
            label += f" (diverged at k = {int(diverged)})"
            ax.plot(k[-1:], np.maximum(v[-1:], 1e-6), "x", color=COLOURS[method], ms=9, mew=2)
        ax.plot(k, np.maximum(v, 1e-6), color=COLOURS[method], marker="o", ms=3,
                ls="--" if method == "exact" else "-", label=label)
    if mmle_error is not None:
        ax.axhline(mmle_error, color="r", lw=1, label=f"MMLE ({mmle_error:.3f})")
    ax.set_yscale("log")
    _iteration_axis(ax, "iteration k (learning theta = (mu, log c))")
    target = "the truth" if metric == "error_truth" else "the MMLE"
    ax.set_ylabel(f"|theta_k - {'theta_true' if metric == 'error_truth' else 'theta_MMLE'}| (mod sign of mu)")
    ax.set_title(f"({'e' if metric == 'error_truth' else 'f'}) distance of theta to {target}", fontsize=8)
    ax.legend(fontsize=6)


# ---------------------------------------------------------------------------------------------------------------
# report.md
# ---------------------------------------------------------------------------------------------------------------

def report_section(paths: list[str]) -> list[str]:
    """report.md's section from the study's CSV (the first .csv of ``paths``): the summary table and sentences whose
    numbers are read from it."""
    csv_paths = [p for p in paths if str(p).endswith(".csv")]
    if not csv_paths:
        raise ValueError(f"the posterior study's report section needs its CSV, got {paths}")
    df = read_study(csv_paths[0])
    s = setup(df)
    table = summary(df).set_index("method")
    lines = ["", f"## {TITLE}", "",
             f"`ebipla study posterior --scale {s['scale']}` (seed {int(s['seed'])}): x ~ N(mu, I) in R^2, "
             f"y = (x1^2 - x2^2, 2 x1 x2) / c + N(0, sigma^2 I) with mu = ({s['mu1_true']:g}, {s['mu2_true']:g}), "
             f"c = {s['c_true']:g}, sigma = {s['sigma']:g}: every posterior has two antipodal modes of unequal mass "
             "and phi_y is not convex (assumption A1 fails); a grid gives each posterior exactly.", ""]
    rows = ["| method | MMD^2 (A) | prior-side mode mass (A) | abs. mode-mass error (A) | theta error to truth (B) "
            "| theta error to MMLE (B) | norm of mu (B) |", "|---|---|---|---|---|---|---|"]
    for method in (*SAMPLERS, "exact", "mmle", "truth"):
        r = table.loc[method]
        rows.append(f"| {LABELS[method]} | {fmt_value(r.mmd2, r.mmd2_se, '{:.2e}', '{:.1e}')} | "
                    f"{fmt_value(r.mode_mass, r.mode_mass_se, '{:.3f}', '{:.3f}')} | "
                    f"{fmt_value(r.mode_mass_error, r.mode_mass_error_se, '{:.3f}', '{:.3f}')} | "
                    f"{b_cell(r, r.tail_error_truth, '{:.3f}')} | {b_cell(r, r.tail_error_mmle, '{:.3f}')} | "
                    f"{b_cell(r, r.mu_norm, '{:.3f}')} |")
    lines += rows + [""] + findings(df, table, s)
    return lines


def findings(df: pd.DataFrame, table: pd.DataFrame, s: dict) -> list[str]:
    """Two or three sentences, every number read from the CSV."""
    n_max, t_a = max(s["particles"]), int(s["iters_a"])
    grid_mass = pick(df, "A", "grid", "mode_mass")[0]
    exact = table.loc["exact"]
    best = min(SAMPLERS, key=lambda m: table.loc[m, "mmd2"])
    worst_mass = max(SAMPLERS, key=lambda m: table.loc[m, "mode_mass_error"])
    start = {m: pick(df, "A", m, "mode_mass", n_max, 0)[0] for m in ("ebipla", "abp")}
    steps = {"ebipla": t_a, "abp": t_a * int(s["k_abp"]), "lebm": int(s["k1_lebm"])}
    out = [f"With theta at the truth, after {t_a} iterations and N = {n_max}, the closest sampler is "
           f"{LABELS[best]} ({steps[best]} ULA steps per chain; MMD^2 {table.loc[best, 'mmd2']:.2e}, "
           f"{table.loc[best, 'mmd2'] / exact.mmd2:.1f} times the exact floor {exact.mmd2:.2e}). The grid puts "
           f"{grid_mass:.3f} of each posterior's mass (mean over points) in the prior-side mode; the persistent "
           f"clouds moved from {start['ebipla']:.3f} (EBIPLA) and {start['abp']:.3f} (ABP) at k = 0 to "
           f"{table.loc['ebipla', 'mode_mass']:.3f} and {table.loc['abp', 'mode_mass']:.3f}, LEBM's short runs "
           f"hold {table.loc['lebm', 'mode_mass']:.3f}; the largest mode-mass error is {LABELS[worst_mass]}'s "
           f"{table.loc[worst_mass, 'mode_mass_error']:.3f} against {exact.mode_mass_error:.3f} for exact samples."]
    if min(table.loc[m, "mode_mass_error"] for m in SAMPLERS) > 2.0 * exact.mode_mass_error:
        out.append("Every sampler's mode weights are off by more than twice the exact samples' error: Langevin "
                   "moves mass between the modes only across the barrier near x = 0, far more slowly than it "
                   "fits the shape of each mode.")
    mmle_err = table.loc["mmle", "tail_error_truth"]
    finished = [m for m in SAMPLERS if math.isnan(table.loc[m, "diverged_at"])]
    learned = ", ".join(f"{LABELS[m]} {table.loc[m, 'tail_error_mmle']:.3f}" for m in finished) or "none finished"
    norms = ", ".join(f"{LABELS[m]} {table.loc[m, 'mu_norm']:.3f}" for m in finished) or "none"
    out.append(f"Learning theta from the same start ({int(s['iters_b'])} Adam iterations, a matched "
               f"{int(s['n_learn'])} gradient evaluations per point and iteration), the distance of the "
               f"tail-averaged theta to the exact MMLE is {learned}, and {table.loc['exact', 'tail_error_mmle']:.3f} "
               f"with the exact gradient; the MMLE itself is {mmle_err:.3f} from the truth (M = {int(s['m_b'])}). "
               f"The learned |mu| is {norms} against the MMLE's {table.loc['mmle', 'mu_norm']:.3f}.")
    for m in SAMPLERS:
        if m not in finished:
            k = int(table.loc[m, "diverged_at"])
            log_c = pick(df, "B", m, "log_c", iteration=k)[0]
            out.append(f"{LABELS[m]}'s chains diverged at iteration {k}: its samples had driven log c from "
                       f"{s['log_c_start']:.3f} to {log_c:.3f} (the MMLE's: {pick(df, 'B', 'mmle', 'log_c')[0]:.3f}), "
                       f"and h = {s['h']:g} is unstable for so sharp a likelihood.")
    collapsed = [LABELS[m] for m in finished if table.loc[m, "mu_norm"] < 0.25 * table.loc["mmle", "mu_norm"]]
    if collapsed:
        out.append(f"{', '.join(collapsed)} ended near mu = 0 (|mu| under a quarter of the MMLE's), a critical point "
                   "of l_M (its gradient in mu vanishes there by the symmetry mu -> -mu) that is not its maximum: "
                   "clouds that keep both modes at near equal weight make the symmetric prior self-consistent.")
    return [" ".join(out)]
