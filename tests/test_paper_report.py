"""The paper's tables and report.md from hand-made metrics files: cited rows kept apart from ours, means and
standard errors, the paper-vs-ours verdicts, and the traceability of every reported number."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from ebipla import theory
from ebipla.report import paper_report, paper_tables
from ebipla.report.tables import expand_pattern, run_pattern, write_synthetic_mmd
from paper_checks import check_report, report_rows

PAPER_SCALE = {"batch_size": 128, "n_epochs": 200, "fid_samples": 50000}


def make_runs(root: Path, dataset: str, method: str, n: int, values: dict[str, list[float]],
              **scale) -> list[str]:
    """metrics.json files of one (data set, method, N) over seeds, with the given FID / MSE per seed, made at the
    paper's scale unless ``scale`` (batch_size, n_epochs, fid_samples) says otherwise."""
    files = []
    for seed in range(len(values["fid"])):
        run = root / "results" / "runs" / "images" / dataset / method / f"N{n}" / "paper" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "train_summary.json").write_text(json.dumps({"device_name": "cpu (test)", "torch": "2.x"}))
        metrics = {"fid": values["fid"][seed], "mse": values.get("mse", [0.01] * 99)[seed],
                   "fid_feature_extractor": "digits-cnn", "iteration": 10, "dataset": dataset, "algorithm": method,
                   "n": n, "seed": seed, **PAPER_SCALE, **scale}
        (run / "metrics.json").write_text(json.dumps(metrics))
        files.append(str((run / "metrics.json").relative_to(root)))
    return files


def test_run_pattern_round_trip():
    dirs = [f"results/runs/images/svhn/ebipla/N10/paper/seed{s}" for s in (0, 1, 10)]
    assert run_pattern(dirs) == "results/runs/images/svhn/ebipla/N10/paper/seed{0,1,10}"
    assert sorted(expand_pattern(run_pattern(dirs))) == sorted(dirs)
    assert run_pattern(dirs[:1]) == dirs[0]


def test_table1_keeps_cited_rows_apart_and_aggregates_ours(workdir):
    files = make_runs(workdir, "svhn", "ebipla", 10, {"fid": [27.0, 28.0], "mse": [0.004, 0.006]})
    files += make_runs(workdir, "svhn", "lebm", 20, {"fid": [40.0, 44.0]})
    long = paper_tables.table1(files, ["svhn"], workdir / "table1", "CAPTION")
    ours = long[long["source"] == "ours"].set_index(["method", "metric"])
    assert ours.loc[("ebipla", "fid"), "mean"] == pytest.approx(27.5)
    assert ours.loc[("ebipla", "fid"), "uncertainty"] == pytest.approx(0.5)  # s.d. / sqrt(2)
    assert ours.loc[("lebm", "fid"), "runs"] == "results/runs/images/svhn/lebm/N20/paper/seed{0,1}"
    cited = long[long["source"].str.startswith("cited")]
    assert set(cited["model"]) == {"VAE", "2s-VAE", "RAE", "SRI (L=5)", "LEBM", "SM-LEBM", "ED-LEBM"}
    markdown = (workdir / "table1.md").read_text()
    assert markdown.startswith("CAPTION") and "27.50 ± 0.50" in markdown and "| EBIPLA (paper)" in markdown
    assert "27.54 ± 0.42" in markdown and "cited: Pang et al. 2020" in markdown


def write_timing(workdir: Path, rows: list[dict]) -> str:
    """An ``ebipla bench-images`` CSV (the columns report.md reads) at results/timing/images.csv."""
    timing = workdir / "results" / "timing" / "images.csv"
    timing.parent.mkdir(parents=True, exist_ok=True)
    with open(timing, "w", newline="") as f:
        writer = csv.DictWriter(f, ["dataset", "method", "N", "B", "J", "mean_s", "std_s", "runs",
                                    "gflops_per_step", "device"])
        writer.writeheader()
        writer.writerows(rows)
    return "results/timing/images.csv"


def write_theory_csv(path: Path) -> None:
    """Three hand-made rows of the Theorem 1 study; the last one's RMS error exceeds C1 h^1/2 + C2 / sqrt(MN)."""
    base = {"dim": 64, "iters": 100, "burn_in": 10, "spread_se": 0.001, "seed": 0}
    rows = [{"sweep": "MN", "M": 2, "N": 1, "MN": 2, "h": 0.02, "rms_error": 1.0, "spread": 0.99,
             "theory_spread": 1.0, "em_spread": 1.002, "theorem1_c2_floor": 1.14, "theorem1_c1_term": 1.2},
            {"sweep": "MN", "M": 10, "N": 10, "MN": 100, "h": 0.02, "rms_error": 0.14, "spread": 0.1414,
             "theory_spread": 0.1414, "em_spread": 0.1415, "theorem1_c2_floor": 0.16, "theorem1_c1_term": 0.9},
            {"sweep": "h", "M": 10, "N": 1, "MN": 10, "h": 0.5, "rms_error": 9.0, "spread": 0.48,
             "theory_spread": 0.447, "em_spread": 0.49, "theorem1_c2_floor": 0.51, "theorem1_c1_term": 8.4}]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, theory.FIELDS)
        writer.writeheader()
        writer.writerows({**base, **r} for r in rows)


def test_report_compares_with_the_paper_and_traces_every_number(workdir):
    svhn = make_runs(workdir, "svhn", "ebipla", 10, {"fid": [27.0, 28.0], "mse": [0.004, 0.004]})
    lebm = make_runs(workdir, "svhn", "lebm", 20, {"fid": [40.0, 44.0]})
    digits = make_runs(workdir, "digits", "ebipla", 10, {"fid": [900.0]}, batch_size=100, n_epochs=20,
                       fid_samples=1500)
    n_sweep = make_runs(workdir, "svhn", "ebipla", 1, {"fid": [40.0, 40.5]})
    paper = workdir / "results" / "paper"
    paper.mkdir(parents=True)
    paper_tables.table1(svhn + lebm + digits, ["svhn", "digits"], paper / "table1", "T1")
    paper_tables.table2b(n_sweep + svhn, paper / "table2b", "T2b")
    gpu = {"B": 128, "J": 60, "runs": 5, "device": "NVIDIA GeForce RTX 3090"}
    timing = write_timing(workdir, [
        {**gpu, "dataset": "svhn", "method": "ebipla", "N": 10, "mean_s": 0.31, "std_s": 0.01, "gflops_per_step": 2.5},
        {**gpu, "dataset": "svhn", "method": "lebm", "N": 20, "mean_s": 0.9, "std_s": 0.02, "gflops_per_step": 4.0},
        {"dataset": "cifar10", "method": "ebipla", "N": 10, "B": 8, "J": 10, "mean_s": 0.2, "std_s": 0.01, "runs": 2,
         "gflops_per_step": 0.1, "device": "cpu (test)"}])
    paper_tables.table4(timing, paper / "table4", "T4")
    tables = {name: paper / f"{name}.csv" for name in ("table1", "table2b", "table4")}
    paper_report.write_report(tables, paper / "report.md", "SCALE NOTE")

    rows = {r["quantity"]: r for r in report_rows(paper / "report.md") if not r["section"].startswith("Table 2")}
    sweep = {r["quantity"]: r for r in report_rows(paper / "report.md") if r["section"].startswith("Table 2(b)")}
    fid = rows["SVHN FID, EBIPLA N=10 (2 runs)"]
    assert fid["paper"] == "27.54 ± 0.42" and fid["difference"] == "-0.04" and fid["within"] == "yes"
    assert fid["scale"] == "the paper's"
    assert rows["SVHN FID, LEBM N=20 (2 runs)"]["within"] == "no uncertainty stated"
    assert rows["SVHN MSE, EBIPLA N=10 (2 runs)"]["within"] == "yes"  # 0.004 against 0.004 ± 4e-5
    digits_fid = rows["digits (offline) FID, EBIPLA N=10 (1 run)"]  # another data set, batch, length, sample count
    assert digits_fid["paper"] == "– (not in the paper)" and digits_fid["within"] == "not comparable (scale)"
    assert "data set digits (offline)" in digits_fid["scale"] and "batch_size 100 (paper 128)" in digits_fid["scale"]
    assert "fid_samples 1500 (paper 50000)" in digits_fid["scale"]
    assert sweep["SVHN FID, EBIPLA N=10 (2 runs)"]["paper"] == "– (not in the paper)"  # Table 2(b) has no N = 10
    n1 = sweep["SVHN FID, EBIPLA N=1 (2 runs)"]  # 40.25 against 31.00 ± 0.81: far outside
    assert n1["paper"] == "31 ± 0.81" and n1["within"] == "no"
    seconds = rows["SVHN seconds per step, EBIPLA N=10 (5 runs)"]
    assert seconds["within"] == "yes"  # 0.31 ± 0.01 against 0.33 ± 0.07
    assert "no uncertainty stated" == rows["SVHN GFLOPs per step, EBIPLA N=10 (1 run)"]["within"]
    assert rows["SVHN seconds per step, LEBM N=20 (5 runs)"]["paper"] == "– (not in the paper)"  # paper: N = 10
    cpu = rows["CIFAR-10 seconds per step, EBIPLA N=10 (2 runs)"]  # CPU, batch 8, J = 10 against a 3090 at 128, 60
    assert cpu["paper"] == "0.99 ± 0.07" and cpu["within"] == "not comparable (scale)" and cpu["difference"] == "–"
    assert cpu["scale"] == "B 8 (paper 128); J 10 (paper 60); CPU (paper: one NVIDIA RTX 3090)"
    assert check_report(workdir, "SCALE NOTE") == len(rows) + len(sweep)
    text = (paper / "report.md").read_text()
    assert "results/runs/images/svhn/ebipla/N10/paper/seed0/config.yaml`: trained on cpu (test)" in text
    assert "## Readings of the paper's settings in force" in text and "docs/n64-runaway.md" in text
    table4 = {r["within"] for r in report_rows(paper / "report.md") if r["section"].startswith("Table 4")}
    assert table4 == {"yes", "no uncertainty stated", "n/a", "not comparable (scale)"}  # no verdict across scales


def test_a_row_at_another_scale_gets_no_verdict_and_a_row_without_its_scale_neither(workdir):
    short = make_runs(workdir, "svhn", "ebipla", 10, {"fid": [80.0]}, fid_samples=1000)
    paper = workdir / "results" / "paper"
    paper.mkdir(parents=True)
    paper_tables.table1(short, ["svhn"], paper / "table1", "T1")
    long = pd.read_csv(paper / "table1.csv")
    lines = {r["quantity"]: r for r in paper_report.comparison_rows("table1", long)}
    fid, mse = lines["SVHN FID, EBIPLA N=10 (1 run)"], lines["SVHN MSE, EBIPLA N=10 (1 run)"]
    assert fid["within"] == "not comparable (scale)" and fid["scale"] == "fid_samples 1000 (paper 50000)"
    assert mse["within"] == "no" and mse["scale"] == "the paper's"  # the MSE does not depend on the FID's samples
    unrecorded = long.drop(columns=["batch_size"])  # a CSV that does not record the batch size
    assert {r["within"] for r in paper_report.comparison_rows("table1", unrecorded)} == {"not comparable (scale)"}


def test_report_adds_fid_references_synthetic_mmd_and_theorem1_sections(workdir):
    digits = make_runs(workdir, "digits", "ebipla", 10, {"fid": [95.0]}, batch_size=100, fid_samples=1500)
    run = Path(digits[0]).parent
    refs = {"dataset": "digits", "algorithm": "ebipla", "n": 10, "seed": 0, "run": str(run),
            "fid_heldout_real": 12.5, "n_heldout": 297, "fid_untrained": 310.25, "fid_samples": 1500,
            "fid_feature_extractor": "digits-cnn", "sampler_steps": 60, "sampler_gamma": 0.1}
    (run / "fid_baselines.json").write_text(json.dumps(refs))
    syn = []
    for seed, (short, long) in enumerate([(1e-3, 0.2), (3e-3, 0.4)]):
        d = workdir / "results" / "runs" / "synthetic" / "swissroll" / "ebipla" / "N4" / "paper" / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({
            "mmd2": short, "mmd2_long_run": long, "long_run_acceptance": 0.57, "long_run_mixing_mmd2": 1e-4,
            "long_run_escaped_fraction": 0.25, "n_samples": 100, "iteration": 2000, "dataset": "swissroll",
            "algorithm": "ebipla", "n": 4, "seed": seed, "divergence_recoveries": 0, "train_seconds": 60.0}))
        syn.append(str((d / "metrics.json").relative_to(workdir)))
    paper = workdir / "results" / "paper"
    paper.mkdir(parents=True)
    paper_tables.table1(digits, ["digits"], paper / "table1", "T1")
    write_synthetic_mmd(syn, paper / "synthetic_mmd", "MMD")
    write_theory_csv(paper / "figure_theory.csv")
    paper_report.write_report({"table1": paper / "table1.csv"}, paper / "report.md", "NOTE",
                              "results/paper/synthetic_mmd.csv", "results/paper/figure_theory.csv",
                              [f"{run}/fid_baselines.json"])
    rows = report_rows(paper / "report.md")
    sections = {r["section"] for r in rows}
    assert {"FID reference points", "Synthetic MMD^2 (our addition)", "Theorem 1 check (beyond the paper)"} <= sections
    refs_rows = {r["quantity"]: r["ours"] for r in rows if r["section"] == "FID reference points"}
    assert list(refs_rows.values()) == ["12.5", "310.25", "95"]  # real data, untrained, trained: ours in between
    table1_fid = next(r for r in rows if r["quantity"] == "digits (offline) FID, EBIPLA N=10 (1 run)")
    assert table1_fid["paper"] == "– (not in the paper; FID reference points below)"
    syn_rows = {r["quantity"]: r for r in rows if r["section"].startswith("Synthetic")}
    long = syn_rows["Swiss roll, EBIPLA N=4: MMD^2, long-run MALA samples of exp(-U) (2 runs)"]
    assert long["ours"] == "0.3 ± 0.1" and "25.0% of chains escaped" in long["notes"]
    assert syn_rows["Swiss roll, EBIPLA N=4: MMD^2, short-run samples (2 runs)"]["ours"] == "0.002 ± 0.001"
    text = (paper / "report.md").read_text()
    assert "holds in 2 of 3 rows" in text  # the h = 0.5 row's error 9.0 exceeds 8.4 + 0.51
    assert "fitted log-log slope of -0.497" in text  # spread 0.99 -> 0.1414 from MN = 2 to 100
    assert check_report(workdir, "NOTE") == len(rows) == 2 + 3 + 2 + 6  # every number equals its source


def test_runs_that_recovered_from_a_divergence_are_counted_and_named(workdir):
    # Image runs: the report names each recovered run with its recoveries and step scale (from train_summary.json).
    files = make_runs(workdir, "svhn", "ebipla", 10, {"fid": [27.0, 28.0]})
    summary = workdir / "results/runs/images/svhn/ebipla/N10/paper/seed1/train_summary.json"
    summary.write_text(json.dumps({"device_name": "cpu (test)", "torch": "2.x", "divergence_recoveries": 2,
                                   "step_scale": 0.25}))
    paper = workdir / "results" / "paper"
    paper.mkdir(parents=True)
    paper_tables.table1(files, ["svhn"], paper / "table1", "T1")
    paper_report.write_report({"table1": paper / "table1.csv"}, paper / "report.md", "NOTE")
    text = (paper / "report.md").read_text()
    assert "seed1/config.yaml`: trained on cpu (test), torch 2.x; 2 divergence recoveries (Langevin steps x 0.25)" \
        in text
    assert "seed0/config.yaml`: trained on cpu (test), torch 2.x\n" in text
    # Synthetic runs: the MMD^2 table counts them per cell, from each metrics.json (older files count as none).
    runs = []
    for seed, recoveries in enumerate([0, 1, None]):
        run = workdir / f"syn{seed}"
        run.mkdir()
        metrics = {"mmd2": 1e-3 * (seed + 1), "n_samples": 100, "iteration": 10, "dataset": "swissroll",
                   "algorithm": "ebipla", "n": 64, "seed": seed}
        if recoveries is not None:
            metrics["divergence_recoveries"] = recoveries
        (run / "metrics.json").write_text(json.dumps(metrics))
        runs.append(run / "metrics.json")
    long = write_synthetic_mmd(runs, workdir / "mmd", "CAPTION")
    assert long["recovered_runs"].tolist() == [1] and long["n_seeds"].tolist() == [3]
    assert long["divergence_recoveries"].tolist() == [1]
    assert "2.00e-03 ± 5.8e-04 (1 of 3 runs recovered from a divergence)" in (workdir / "mmd.md").read_text()


def test_synthetic_mmd_table_puts_the_long_run_next_to_the_short_run(workdir):
    runs = []
    for seed, (method, long_run, seconds) in enumerate([("ebipla", 0.5, 60.0), ("ebipla", 0.7, 80.0),
                                                        ("lebm", None, None)]):
        run = workdir / f"syn{seed}"
        run.mkdir()
        metrics = {"mmd2": 1e-3, "n_samples": 100, "iteration": 250, "dataset": "moons", "algorithm": method,
                   "n": 16, "seed": seed, "divergence_recoveries": 0, "train_seconds": seconds}
        if long_run is not None:
            metrics.update(mmd2_long_run=long_run, long_run_escaped_fraction=0.5, long_run_acceptance=0.58)
        (run / "metrics.json").write_text(json.dumps(metrics))
        runs.append(run / "metrics.json")
    long = write_synthetic_mmd(runs, workdir / "mmd", "CAPTION")
    assert {"dataset", "method", "N", "mmd2", "mmd2_long_run", "divergence_recoveries", "iterations",
            "train_seconds"} <= set(pd.read_csv(workdir / "mmd.csv").columns)
    ebipla = long[long["method"] == "ebipla"].iloc[0]
    assert ebipla["mmd2_long_run"] == pytest.approx(0.6) and ebipla["mmd2_long_run_sem"] == pytest.approx(0.1)
    assert ebipla["train_seconds"] == pytest.approx(70.0) and ebipla["iterations"] == 250
    assert math.isnan(long[long["method"] == "lebm"]["mmd2_long_run"].item())
    markdown = (workdir / "mmd.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| data set"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "data set", "N", "EBIPLA short-run", "EBIPLA long-run (MALA)", "LEBM short-run", "LEBM long-run (MALA)"]
    assert "6.00e-01 ± 1.0e-01 (50.0% of chains escaped)" in markdown


def test_report_check_catches_a_number_that_differs_from_its_source(workdir):
    files = make_runs(workdir, "svhn", "ebipla", 10, {"fid": [30.0]})
    paper = workdir / "results" / "paper"
    paper.mkdir(parents=True)
    paper_tables.table1(files, ["svhn"], paper / "table1", "T1")
    paper_report.write_report({"table1": paper / "table1.csv"}, paper / "report.md", "S")
    metrics = workdir / files[0]
    data = json.loads(metrics.read_text())
    data["fid"] = 31.0  # the run's file changes after the report was built
    metrics.write_text(json.dumps(data))
    with pytest.raises(AssertionError):
        check_report(workdir, "S")


def test_literature_and_table2a_rows(workdir):
    files = make_runs(workdir, "cifar10", "ebipla", 10, {"fid": [70.0, 72.0]})
    long = paper_tables.literature("table5", files, "cifar10", workdir / "t5", "T5")
    assert len(long[long["source"].str.startswith("cited")]) == 32
    assert long[long["source"] == "ours"]["mean"].item() == pytest.approx(71.0)
    hq = make_runs(workdir, "celebahq", "ebipla", 5, {"fid": [95.0]})
    long = paper_tables.table2a(hq, ["celebahq"], workdir / "t2a", "T2a")
    ours = long[long["source"] == "ours"]
    assert ours["mean"].item() == 95.0 and math.isnan(ours["uncertainty"].item())
    assert "92.10" in (workdir / "t2a.md").read_text()
    assert pd.read_csv(workdir / "t2a.csv")["source"].tolist().count("ours") == 1
