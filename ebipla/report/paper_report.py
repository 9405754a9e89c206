"""``results/paper/report.md``: every number of the paper that we reproduce, the paper's value next to ours, the
difference, and whether it lies within the paper's stated uncertainty; with the configs and hardware behind each.

Generated from the long-form table CSVs (``paper_tables``), which carry our values and the run directories (or
timing CSV) they came from; never written by hand. A row's ``source`` names that file and field, so that each of our
numbers can be traced (``tests/paper_checks.py``'s ``check_report``, run by the report, SLURM and DVC tests,
recomputes every one of them from its source).

Agreement ("within"): |ours - paper| <= 2 sqrt(u_paper^2 + u_ours^2), u being the stated standard error (Tables 1
and 2(b)) or standard deviation (Table 4's times) and u_ours = 0 for a single run; "no uncertainty stated" where
the paper gives none (its LEBM, Table 2(a) and GFLOPs rows).
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import pandas as pd
import torch

from ..checkpoint import atomic_write_text
from . import paper_values as pv
from .tables import METHOD_LABELS, expand_pattern

SECTIONS = {"table1": "Table 1: MSE and FID", "table2a": "Table 2(a): CelebA-HQ FID",
            "table2b": "Table 2(b): FID against N", "table4": "Table 4: seconds and GFLOPs per training step"}
UNITS = {"mse": "MSE", "fid": "FID", "seconds": "seconds per step", "gflops": "GFLOPs per step"}
TIMING_FIELDS = {"seconds": "mean_s", "gflops": "gflops_per_step"}


def paper_value(table: str, method: str, dataset: str, metric: str, n: int) -> pv.Value | None:
    """The paper's value for one of our rows, or None where the paper has no counterpart."""
    if table == "table1":
        return (pv.EBIPLA_TABLE1 if method == "ebipla" else pv.LEBM_TABLE1).get(dataset, {}).get(metric)
    if table == "table2a":
        return pv.EBIPLA_TABLE2A.get(dataset) if method == "ebipla" else None
    if table == "table2b":
        return pv.EBIPLA_TABLE2B.get(n) if dataset == pv.TABLE2B_DATASET else None
    if table == "table4" and (method == "ebipla" or n == pv.TABLE4_LEBM_N) and dataset in pv.TABLE4:
        seconds, gflops = pv.TABLE4[dataset][method]
        return seconds if metric == "seconds" else pv.Value(gflops)
    return None


def _num(value: float) -> str:
    return f"{value:.6g}"


def _source(table: str, row: pd.Series) -> str:
    if table == "table4":
        return f"{row['runs']}[dataset={row['dataset']} method={row['method']} N={int(row['N'])}]:" \
               f"{TIMING_FIELDS[row['metric']]}"
    return f"{row['runs']}/metrics.json:{row['metric']}"


def comparison_rows(table: str, long: pd.DataFrame) -> list[dict]:
    """One line per value of ours in a table: the paper's value, ours, the difference and the verdict."""
    lines = []
    for _, row in long[long["source"].str.startswith("ours")].iterrows():
        n = int(row["N"])
        paper = paper_value(table, row["method"], row["dataset"], row["metric"], n)
        ours_unc = row["uncertainty"] if not pd.isna(row["uncertainty"]) else None
        ours = _num(row["mean"]) + (f" ± {ours_unc:.3g}" if ours_unc is not None else "")
        label = f"{pv.DATASET_LABELS[row['dataset']]} {UNITS[row['metric']]}, {METHOD_LABELS[row['method']]} " \
                f"N={n} ({int(row['n_runs'])} run{'s' if row['n_runs'] != 1 else ''})"
        if paper is None:
            lines.append({"quantity": label, "paper": "– (not in the paper)", "ours": ours, "difference": "–",
                          "within": "n/a", "source": _source(table, row)})
            continue
        diff = row["mean"] - paper.mean
        if paper.uncertainty is None:
            within = "no uncertainty stated"
        else:
            bound = 2 * math.sqrt(paper.uncertainty**2 + (ours_unc or 0.0) ** 2)
            within = "yes" if abs(diff) <= bound else "no"
        paper_text = f"{paper.mean:g}" + (f" ± {paper.uncertainty:g}" if paper.uncertainty is not None else "")
        lines.append({"quantity": label, "paper": paper_text, "ours": ours, "difference": f"{diff:+.3g}",
                      "within": within, "source": _source(table, row)})
    return lines


def _hardware(table: str, long: pd.DataFrame) -> list[str]:
    """Configs and devices behind our rows: each run's resolved config and training device."""
    ours = long[long["source"].str.startswith("ours")]
    if table == "table4":
        return [f"- `{path}`: {', '.join(sorted(set(s.split(': ', 1)[1] for s in group['source'])))}"
                for path, group in ours.groupby("runs")]
    out = []
    for pattern in dict.fromkeys(ours["runs"]):
        for run in expand_pattern(pattern):
            summary_path = Path(run) / "train_summary.json"
            summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
            device = summary.get("device_name") or summary.get("device", "unknown device")
            recovered = (f"; {summary['divergence_recoveries']} divergence recoveries (Langevin steps x "
                         f"{summary['step_scale']:g})" if summary.get("divergence_recoveries") else "")
            out.append(f"- `{run}/config.yaml`: trained on {device}, torch {summary.get('torch', 'unknown')}"
                       f"{recovered}")
    return out


def _markdown_table(lines: list[dict]) -> str:
    if not lines:
        return "(no runs of ours in this table)"
    return pd.DataFrame(lines).to_markdown(index=False, disable_numparse=True)


def write_report(tables: dict[str, str | Path], out: str | Path, caption: str) -> str:
    """``out`` (report.md) from the long-form CSVs of ``tables`` (name -> path; table1, table2a, table2b,
    table4)."""
    parts = [
        "# EBIPLA: the paper's numbers against this reproduction",
        "",
        f"**Scale.** {caption}",
        "",
        "Generated by `ebipla report paper-report` from the tables in this folder; do not edit. Paper: Marks, Wang, "
        "Akyildiz, *Learning Latent Energy-Based Models via Interacting Particle Langevin Dynamics* (UAI 2026). "
        "\"within\" means |ours - paper| <= 2 sqrt(u_paper^2 + u_ours^2), with u the stated standard error "
        "(Tables 1, 2(b)) or standard deviation (Table 4's times); \"source\" names the file and field each of our "
        "numbers comes from (`{a,b}` lists seeds). The report-building machine: "
        f"{platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}.",
    ]
    for name, title in SECTIONS.items():
        if name not in tables:
            continue
        long = pd.read_csv(tables[name])
        parts += ["", f"## {title}", "", _markdown_table(comparison_rows(name, long)), "",
                  "Configs and hardware:", "", *(_hardware(name, long) or ["- (none)"])]
    parts += ["", "## Not compared", "",
              "- Tables 5-7 repeat Table 1's FIDs of EBIPLA against more literature rows; their files print ours "
              "next to the cited values.",
              "- The synthetic MMD^2 table is our addition: the paper reports no synthetic number.",
              "- Figures 1, 2, 4, 5 and the J ablation are qualitative in the paper; the Theorem 1 figure is new.", ""]
    text = "\n".join(parts)
    atomic_write_text(out, text)
    return text
