"""The paper's tables and report.md from hand-made metrics files: cited rows kept apart from ours, means and
standard errors, the paper-vs-ours verdicts, and the traceability of every reported number."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from ebipla.report import paper_report, paper_tables
from ebipla.report.tables import expand_pattern, run_pattern, write_synthetic_mmd
from paper_checks import check_report, report_rows


def make_runs(root: Path, dataset: str, method: str, n: int, values: dict[str, list[float]]) -> list[str]:
    """metrics.json files of one (data set, method, N) over seeds, with the given FID / MSE per seed."""
    files = []
    for seed in range(len(values["fid"])):
        run = root / "results" / "runs" / "images" / dataset / method / f"N{n}" / "paper" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "train_summary.json").write_text(json.dumps({"device_name": "cpu (test)", "torch": "2.x"}))
        metrics = {"fid": values["fid"][seed], "mse": values.get("mse", [0.01] * 99)[seed], "fid_samples": 100,
                   "fid_feature_extractor": "digits-cnn", "iteration": 10, "dataset": dataset, "algorithm": method,
                   "n": n, "seed": seed}
        (run / "metrics.json").write_text(json.dumps(metrics))
        files.append(str((run / "metrics.json").relative_to(root)))
    return files


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # run directories are recorded relative to the working directory
    return tmp_path


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


def test_report_compares_with_the_paper_and_traces_every_number(workdir):
    svhn = make_runs(workdir, "svhn", "ebipla", 10, {"fid": [27.0, 28.0], "mse": [0.004, 0.004]})
    lebm = make_runs(workdir, "svhn", "lebm", 20, {"fid": [40.0, 44.0]})
    digits = make_runs(workdir, "digits", "ebipla", 10, {"fid": [900.0]})
    n_sweep = make_runs(workdir, "svhn", "ebipla", 1, {"fid": [40.0, 40.5]})
    paper = workdir / "results" / "paper"
    paper.mkdir(parents=True)
    paper_tables.table1(svhn + lebm + digits, ["svhn", "digits"], paper / "table1", "T1")
    paper_tables.table2b(n_sweep + svhn, paper / "table2b", "T2b")
    timing = workdir / "results" / "timing" / "images.csv"
    timing.parent.mkdir(parents=True)
    with open(timing, "w", newline="") as f:
        writer = csv.DictWriter(f, ["dataset", "method", "N", "mean_s", "std_s", "runs", "gflops_per_step",
                                    "device"])
        writer.writeheader()
        writer.writerow({"dataset": "svhn", "method": "ebipla", "N": 10, "mean_s": 0.31, "std_s": 0.01, "runs": 5,
                         "gflops_per_step": 2.5, "device": "cpu (test)"})
        writer.writerow({"dataset": "svhn", "method": "lebm", "N": 20, "mean_s": 0.9, "std_s": 0.02, "runs": 5,
                         "gflops_per_step": 4.0, "device": "cpu (test)"})
    paper_tables.table4("results/timing/images.csv", paper / "table4", "T4")
    tables = {name: paper / f"{name}.csv" for name in ("table1", "table2b", "table4")}
    paper_report.write_report(tables, paper / "report.md", "SCALE NOTE")

    rows = {r["quantity"]: r for r in report_rows(paper / "report.md") if not r["section"].startswith("Table 2")}
    sweep = {r["quantity"]: r for r in report_rows(paper / "report.md") if r["section"].startswith("Table 2(b)")}
    fid = rows["SVHN FID, EBIPLA N=10 (2 runs)"]
    assert fid["paper"] == "27.54 ± 0.42" and fid["difference"] == "-0.04" and fid["within"] == "yes"
    assert rows["SVHN FID, LEBM N=20 (2 runs)"]["within"] == "no uncertainty stated"
    assert rows["SVHN MSE, EBIPLA N=10 (2 runs)"]["within"] == "yes"  # 0.004 against 0.004 ± 4e-5
    assert rows["digits (offline) FID, EBIPLA N=10 (1 run)"]["paper"] == "– (not in the paper)"
    assert sweep["SVHN FID, EBIPLA N=10 (2 runs)"]["paper"] == "– (not in the paper)"  # Table 2(b) has no N = 10
    n1 = sweep["SVHN FID, EBIPLA N=1 (2 runs)"]  # 40.25 against 31.00 ± 0.81: far outside
    assert n1["paper"] == "31 ± 0.81" and n1["within"] == "no"
    seconds = rows["SVHN seconds per step, EBIPLA N=10 (5 runs)"]
    assert seconds["within"] == "yes"  # 0.31 ± 0.01 against 0.33 ± 0.07
    assert "no uncertainty stated" == rows["SVHN GFLOPs per step, EBIPLA N=10 (1 run)"]["within"]
    assert rows["SVHN seconds per step, LEBM N=20 (5 runs)"]["paper"] == "– (not in the paper)"  # paper: N = 10
    assert check_report(workdir, "SCALE NOTE") == len(rows) + len(sweep)
    text = (paper / "report.md").read_text()
    assert "results/runs/images/svhn/ebipla/N10/paper/seed0/config.yaml`: trained on cpu (test)" in text


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
    assert "2.00e-03 ± 5.8e-04 (1 of 3 runs recovered from a divergence)" in (workdir / "mmd.md").read_text()


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
