"""The one-protocol comparison from hand-made run files: table_one_protocol (means and standard errors over seeds,
optional fields, the paper's values with their tables), report.md's "One protocol" section (verdicts, scale, every
number traced to its source) and the synthetic baselines figure."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_figures import gaussian_landscape

from ebipla import run as rundir
from ebipla.config import dump_yaml, load_config
from ebipla.report import one_protocol, paper_report
from ebipla.report.figures import baselines_synthetic
from paper_checks import check_report, report_rows

REPO = Path(__file__).resolve().parents[1]
PAPER_SCALE = {"batch_size": 128, "n_epochs": 200, "fid_samples": 50000}


def make_runs(root: Path, dataset: str, method: str, n: int, per_seed: list[dict], **scale) -> list[str]:
    """metrics.json of one (data set, method, N) of the baselines experiment, one per seed: the fields given per
    seed (None stands for a field the run does not record) over a default FID, MSE, 100 iterations and the paper's
    scale unless ``scale`` says otherwise."""
    files = []
    for seed, fields in enumerate(per_seed):
        run = root / "results" / "runs" / "images" / dataset / method / f"N{n}" / "protocol" / f"seed{seed}"
        run.mkdir(parents=True)
        metrics = {"dataset": dataset, "algorithm": method, "n": n, "seed": seed, "fid": 50.0, "mse": 0.02,
                   "iteration": 100, **PAPER_SCALE, **scale}
        metrics.update({k: v for k, v in fields.items() if v is not None})
        for key in [k for k, v in fields.items() if v is None]:
            metrics.pop(key, None)
        (run / "metrics.json").write_text(json.dumps(metrics))
        files.append(str((run / "metrics.json").relative_to(root)))
    return files


@pytest.fixture
def table(workdir) -> pd.DataFrame:
    """SVHN: VAE over 3 seeds (one without mse_encoder, none with GFLOPs), EBIPLA over 2 seeds, PGD over 1 seed
    without train_seconds; the digits: RAE at the quick scale."""
    files = make_runs(workdir, "svhn", "vae", 1, [
        {"fid": 40.0, "mse": 0.020, "mse_encoder": 0.030, "train_seconds": 20.0},
        {"fid": 42.0, "mse": 0.022, "mse_encoder": 0.034, "train_seconds": 30.0},
        {"fid": 44.0, "mse": 0.024, "mse_encoder": None, "train_seconds": 40.0}])
    files += make_runs(workdir, "svhn", "ebipla", 10, [
        {"fid": 27.0, "mse": 0.004, "gflops_per_step": 0.7, "train_seconds": 100.0},
        {"fid": 28.0, "mse": 0.004, "gflops_per_step": 0.7, "train_seconds": 120.0}])
    files += make_runs(workdir, "svhn", "pgd", 10, [{"fid": 60.0, "gflops_per_step": None}])
    files += make_runs(workdir, "digits", "rae", 1, [{"fid": 5.0, "mse_encoder": 0.01, "train_seconds": 3.0}],
                       batch_size=100, n_epochs=20, fid_samples=1500)
    return one_protocol.table_one_protocol(files, workdir / "table_one_protocol", "CAPTION")


def ours(long: pd.DataFrame, dataset: str, method: str, metric: str) -> pd.Series:
    rows = long[(long["source"] == "ours") & (long["dataset"] == dataset) & (long["method"] == method)
                & (long["metric"] == metric)]
    assert len(rows) == 1, (dataset, method, metric)
    return rows.iloc[0]


def test_table_aggregates_seeds_and_skips_what_no_run_records(table, workdir):
    fid = ours(table, "svhn", "vae", "fid")
    assert fid["mean"] == pytest.approx(42.0) and fid["uncertainty"] == pytest.approx(2.0 / math.sqrt(3))
    assert fid["n_runs"] == 3 and fid["runs"] == "results/runs/images/svhn/vae/N1/protocol/seed{0,1,2}"
    encoder = ours(table, "svhn", "vae", "mse_encoder")  # over the two seeds that record it
    assert encoder["mean"] == pytest.approx(0.032) and encoder["n_runs"] == 2
    assert encoder["runs"] == "results/runs/images/svhn/vae/N1/protocol/seed{0,1}"
    seconds = ours(table, "svhn", "ebipla", "seconds_per_iteration")  # train_seconds / iteration
    assert seconds["mean"] == pytest.approx(1.1) and seconds["uncertainty"] == pytest.approx(0.1)
    assert ours(table, "svhn", "ebipla", "gflops_per_iteration")["uncertainty"] == 0.0
    single = ours(table, "svhn", "pgd", "fid")
    assert single["n_runs"] == 1 and math.isnan(single["uncertainty"])  # no s.e. from one seed
    recorded = set(table[(table["source"] == "ours") & (table["method"] == "pgd")]["metric"])
    assert recorded == {"mse", "fid"}  # no mse_encoder, seconds or GFLOPs recorded: no row
    assert not ((table["method"] == "vae") & (table["metric"] == "gflops_per_iteration")).any()
    markdown = (workdir / "table_one_protocol.md").read_text()
    assert markdown.startswith("CAPTION")
    assert "| SVHN " in markdown and "| digits (offline) " in markdown
    assert "42.00 ± 1.15" in markdown and "60.00 " in markdown
    assert r"\begin{tabular}" in (workdir / "table_one_protocol.tex").read_text()
    assert len(pd.read_csv(workdir / "table_one_protocol.csv")) == len(table)


def test_the_paper_values_stand_beside_ours_with_their_tables(table, workdir):
    paper = table[table["source"] != "ours"]
    vae_fid = paper[(paper["method"] == "vae") & (paper["metric"] == "fid")]
    assert sorted(vae_fid["paper_table"]) == ["Table 1", "Table 6"] and set(vae_fid["mean"]) == {46.78}
    assert set(paper[paper["method"] == "ebipla"]["source"]) == {"paper"}  # the paper's own row, not a citation
    assert not (paper["method"].isin(["pgd", "rae"])).any()  # PGD: never printed; RAE: not on the digits
    markdown = (workdir / "table_one_protocol.md").read_text()
    assert "46.78 (Table 1: VAE, Table 6: VAE)" in markdown and "27.54 ± 0.42 (Table 1: EBIPLA (paper))" in markdown


def test_cited_rows_per_method_and_data_set():
    def values(method: str, dataset: str) -> set[tuple[str, str, float]]:
        return {(r["paper_table"], r["metric"], r["mean"]) for r in one_protocol.cited_rows(method, dataset)}

    assert values("abp", "celebahq") == {("Table 2(a)", "fid", 160.21)}
    assert values("abp", "celeba64") == {("Table 7", "fid", 51.50)}
    assert values("vae", "celeba64") == {("Table 1", "mse", 0.021), ("Table 1", "fid", 65.75),
                                         ("Table 7", "fid", 38.76), ("Table 7", "fid", 65.75)}
    assert values("vae", "cifar10") >= {("Table 1", "fid", 106.37), ("Table 5", "fid", 78.41)}
    assert values("ebipla", "celebahq") == {("Table 2(a)", "fid", 92.10)}
    assert values("lebm", "svhn") >= {("Table 1", "mse", 0.008), ("Table 6", "fid", 29.44)}
    assert values("pgd", "svhn") == set() and values("rae", "digits") == set()


def test_ratio_verdicts():
    assert paper_report.ratio_verdict(1.05, []) == "close (within 10%)"
    assert paper_report.ratio_verdict(1.5, []) == "ours 50% higher (worse)"
    assert paper_report.ratio_verdict(0.8, []) == "ours 20% lower (better)"
    assert paper_report.ratio_verdict(1.0, ["n_epochs 20 (paper 200)"]) == paper_report.NOT_COMPARABLE


def test_report_section_sets_the_paper_against_ours_and_traces_every_number(table, workdir):
    out = workdir / "results" / "paper" / "report.md"
    out.parent.mkdir(parents=True)
    text = paper_report.write_report({}, out, "REPORT CAPTION", one_protocol=workdir / "table_one_protocol.csv",
                                     one_protocol_caption="QUICK VARIANT: digits")
    assert "## One protocol" in text and "**Scale.** QUICK VARIANT: digits" in text
    rows = [r for r in report_rows(out) if r["section"] == "One protocol"]
    assert check_report(workdir, "REPORT CAPTION") == len(rows)  # every number of ours equals its source
    by = {(r["quantity"], r["paper"]): r for r in rows}
    fid = by[("SVHN FID, VAE N=1 (3 runs)", "46.78 (Table 6, VAE)")]
    assert fid["ours / paper"] == f"{42.0 / 46.78:.3g}" and fid["verdict"] == "ours 10% lower (better)"
    encoder = by[("SVHN MSE through the encoder's mean, VAE N=1 (2 runs)", "0.019 (Table 1, VAE)")]
    assert encoder["verdict"] == "ours 68% higher (worse)"
    ebipla = by[("SVHN FID, EBIPLA N=10 (2 runs)", "27.54 ± 0.42 (Table 1, EBIPLA (paper))")]
    assert ebipla["verdict"] == "close (within 10%)" and ebipla["scale"] == "the paper's"
    alone = by[("SVHN FID, PGD N=10 (1 run)", "– (not in the paper)")]
    assert alone["ours / paper"] == "–" and alone["verdict"] == "n/a"
    digits = by[("digits (offline) FID, RAE N=1 (1 run)", "– (not in the paper)")]
    assert digits["verdict"] == paper_report.NOT_COMPARABLE and "n_epochs 20 (paper 200)" in digits["scale"]
    assert "Largest disagreements: SVHN MSE through the encoder's mean, VAE" in text
    assert "`results/runs/images/svhn/vae/N1/protocol/seed2/config.yaml`" in text  # configs, each run once
    assert text.count("svhn/vae/N1/protocol/seed0/config.yaml") == 1


def synthetic_run(root: Path, config: Path, method: str, n: int, mmd2: float) -> Path:
    """A synthetic run directory as ``ebipla evaluate`` leaves it: config, samples, landscape, metrics."""
    run = root / f"{method}_n{n}"
    run.mkdir()
    (run / rundir.CONFIG).write_text(dump_yaml(load_config([config])))
    rng = np.random.default_rng(n)
    np.savez(run / rundir.SAMPLES, x=rng.normal(size=(300, 2)), y=rng.normal(size=(300, 2)))
    np.savez(run / rundir.LANDSCAPE, **gaussian_landscape(0.0, 1.0))
    (run / rundir.EVAL_METRICS).write_text(json.dumps({"mmd2": mmd2}))
    return run


def test_synthetic_baselines_figure_draws_each_method_with_its_mmd(tmp_path):
    data = tmp_path / "swissroll.npz"
    np.savez(data, y_eval=np.random.default_rng(1).normal(size=(500, 2)))
    configs = REPO / "config" / "synthetic"
    runs = [synthetic_run(tmp_path, configs / "baselines" / "swissroll_pgd.yaml", "pgd", 4, 0.2),
            synthetic_run(tmp_path, configs / "paper" / "swissroll_ebipla_n4.yaml", "ebipla", 4, 1e-3),
            synthetic_run(tmp_path, configs / "baselines" / "swissroll_abp.yaml", "abp", 16, 0.3)]
    baselines_synthetic(runs, [data], tmp_path / "fig", "CAPTION")
    with Image.open(tmp_path / "fig.png") as image:
        wide, tall = image.size
    assert wide > 3 * tall  # one row: the data and 2 panels for each of 3 methods
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")
