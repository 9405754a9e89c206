"""ebipla study particles (issue 16, item 2): the saturating fit, the guideline from hand-made runs, Table 2(b)'s
panel, the report section, input errors, one real trained run read back, and the workflow's plan."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ebipla.config import load_config
from ebipla.config.loader import dump_yaml
from ebipla.errors import ConfigError, DataError
from ebipla.studies import particles as study
from workflow_helpers import REPO, copy_repo, run, tool_env

PAPER = REPO / "config" / "synthetic" / "paper"
N_KEY = {"ebipla": "n_particles", "lebm": "n_posterior_steps"}


def make_run(root: Path, method: str, n: int, m: int, seed: int, mmd2: float, seconds: float,
             iterations: int = 200, batch: int = 1000, dataset: str = "swissroll") -> Path:
    """A run directory as `ebipla train` + `ebipla evaluate` leave it: the resolved config.yaml (the real loader on
    the paper file) and a metrics.json with the fields the study reads."""
    epochs = iterations // -(-m // batch)
    cfg = load_config([PAPER / f"{dataset}_{method}_n16.yaml"],
                      [f"seed={seed}", f"data.n_points={m}", f"algorithm.{N_KEY[method]}={n}",
                       f"train.n_epochs={epochs}", "algorithm.n_prior_steps=100"])
    run_dir = root / dataset / method / f"N{n}" / f"M{m}" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_yaml(cfg))
    metrics = {"mmd2": mmd2, "dataset": dataset, "algorithm": method, "n": n, "seed": seed, "iteration": iterations,
               "n_epochs": epochs, "batch_size": batch, "train_seconds": seconds, "divergence_recoveries": 0,
               "n_prior_steps": 100}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir / "metrics.json"


# Hand-made MMD^2 per (method, M, N), the same for both seeds but for a +-10 % spread, and seconds of training.
CURVES = {("ebipla", 1000): {1: 4e-3, 4: 1.05e-3, 16: 1.0e-3}, ("ebipla", 4000): {1: 2e-3, 4: 1.5e-3, 16: 1.0e-3},
          ("lebm", 1000): {1: 9e-3, 4: 5e-3, 16: 6e-3}, ("lebm", 4000): {1: 8e-3, 4: 8e-3, 16: 7.5e-3}}
SECONDS = {1: 20.0, 4: 30.0, 16: 60.0}  # per run of 200 iterations


@pytest.fixture
def grid(tmp_path) -> list[Path]:
    files = []
    for (method, m), curve in CURVES.items():
        for n, value in curve.items():
            for seed, factor in ((0, 0.9), (1, 1.1)):
                files.append(make_run(tmp_path / "runs", method, n, m, seed, value * factor, SECONDS[n]))
    return files


def make_table2b(root: Path, n: int, seed: int, fid: float) -> Path:
    run_dir = root / "svhn" / "ebipla" / f"N{n}" / "paper" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    metrics = {"fid": fid, "mse": 0.01, "dataset": "svhn", "algorithm": "ebipla", "n": n, "seed": seed,
               "iteration": 5, "n_epochs": 1, "batch_size": 128, "train_seconds": 10.0 * n}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir / "metrics.json"


# ---------------------------------------------------------------------------------------------------- the fit


def test_fit_recovers_a_saturating_curve_and_its_flat_point():
    n = np.array([1, 2, 4, 8, 16, 32, 64])
    a, b, p = 1e-3, 5e-3, 0.8
    fit = study.fit_saturating(n, a + b * n ** -p)
    assert fit == pytest.approx((a, b, p), rel=1e-3)
    # b N^-p = 0.1 a  <=>  N = (b / (0.1 a))^(1/p) = 50^(1.25)
    assert study.fitted_n_within(*fit, 0.1) == pytest.approx(50 ** 1.25, rel=1e-2)


def test_fit_is_flat_when_mmd2_does_not_fall_with_n():
    a, b, _ = study.fit_saturating(np.array([1, 4, 16]), np.array([2e-3, 2.2e-3, 2.4e-3]))
    assert b < 1e-3 * a  # an increasing curve gives no 1/N^p term
    assert math.isnan(study.fit_saturating(np.array([1, 4]), np.array([2e-3, 1e-3]))[0])  # two N: no fit


# ---------------------------------------------------------------------------------------------------- guideline


def test_guideline_from_hand_made_runs(grid, tmp_path):
    prefix = tmp_path / "paper" / "figure_particles_vs_data"
    prefix.parent.mkdir()
    assert study.main(["--metrics", *map(str, grid), "--out", str(prefix), "--within", "0.1", "--caption", "T"]) == 0
    runs = pd.read_csv(prefix.with_suffix(".csv"))
    assert len(runs) == 24 and set(runs["M"]) == {1000, 4000} and set(runs["d"]) == {2}
    row = runs[(runs["method"] == "ebipla") & (runs["N"] == 4) & (runs["M"] == 4000) & (runs["seed"] == 1)].iloc[0]
    assert row["mmd2"] == pytest.approx(1.5e-3 * 1.1) and row["J"] == 100
    assert row["n_epochs"] == 50 and row["seconds_per_epoch"] == pytest.approx(30.0 / 50)
    assert row["seconds_per_iteration"] == pytest.approx(30.0 / 200)

    guide = pd.read_csv(study.guide_path(prefix)).set_index(["method", "M"])
    # EBIPLA, M = 1000: best N = 16 (1.0e-3); N = 4 (1.05e-3) is within 10 % at 30 / 60 of the cost.
    e1 = guide.loc[("ebipla", 1000)]
    assert (e1["best_N"], e1["n_within"]) == (16, 4) and e1["cost_ratio"] == pytest.approx(0.5)
    assert e1["n_seeds"] == 2 and e1["iterations"] == 200 and e1["particles"] == "1 4 16"
    assert "N = 4 is within 10% of the best MMD^2" in e1["guideline"] and "at 50% of its cost" in e1["guideline"]
    # The same choice counted in gradient evaluations per point and iteration: (4 + J) / (16 + J), J = 100.
    assert e1["gradient_ratio"] == pytest.approx(104 / 116) and "90% of its N + J gradient" in e1["guideline"]
    assert "M = 1000 points of dimension d = 2" in e1["guideline"]
    # EBIPLA, M = 4000: only N = 16 itself; LEBM, M = 1000: the best is N = 4, not the largest N.
    assert guide.loc[("ebipla", 4000), "n_within"] == 16
    assert "no smaller N comes within" in guide.loc[("ebipla", 4000), "guideline"]
    assert guide.loc[("lebm", 1000), "best_N"] == 4
    # LEBM, M = 4000: N = 1 (8e-3) is within 10 % of 7.5e-3 and cheapest.
    l4 = guide.loc[("lebm", 4000)]
    assert l4["n_within"] == 1 and l4["cost_ratio"] == pytest.approx(1 / 3)
    # Within 2 s.e.: the +-10 % seed spread makes N = 4 and 16 indistinguishable for EBIPLA at M = 1000, not N = 1.
    assert guide.loc[("ebipla", 1000), "n_indistinguishable"] == 4
    for suffix in (".png", ".pdf"):
        assert prefix.with_suffix(suffix).stat().st_size > 10_000


def test_report_section_states_the_guideline_and_the_seed_caveat(grid, tmp_path):
    prefix = tmp_path / "fig"
    study.write_study(list(map(str, grid)), [], prefix, 0.1, "T")
    lines = study.report_section([str(prefix.with_suffix(".csv")), str(study.guide_path(prefix))])
    text = "\n".join(lines)
    assert lines[:3] == ["", "## Particles against data size (beyond the paper)", ""]
    assert "- swissroll, EBIPLA, M = 1000 points of dimension d = 2: N = 4 is within 10%" in text
    assert "rests on 2 seeds per cell" in text and "indicative only" in text
    assert re.search(r"\| swissroll +\| LEBM +\| 4000 +\| 200 \(50\) ", text) and "Table 2(b)" not in text


def test_table2b_runs_get_a_panel_and_a_report_line(grid, tmp_path):
    extra = [make_table2b(tmp_path / "img", n, s, fid) for n, fids in ((1, (31.0, 33.0)), (4, (28.0, 29.0)))
             for s, fid in enumerate(fids)]
    prefix = tmp_path / "fig"
    study.write_study(list(map(str, grid)), list(map(str, extra)), prefix, 0.1, "T")
    runs = pd.read_csv(prefix.with_suffix(".csv"))
    fid = runs[runs["source"] == "table2b"]
    assert len(fid) == 4 and set(fid["dataset"]) == {"svhn"} and fid["M"].isna().all()
    assert fid[fid["N"] == 4]["seconds_per_epoch"].tolist() == [40.0, 40.0]
    text = "\n".join(study.report_section([str(prefix.with_suffix(".csv")), str(study.guide_path(prefix))]))
    assert "N = 1: 32.00 ± 1.00, N = 4: 28.50 ± 0.50" in text


def test_three_seeds_lift_the_caveat(tmp_path):
    files = [make_run(tmp_path, "ebipla", n, 1000, s, 1e-3 / n + 1e-4 * s, 10.0) for n in (1, 2, 4) for s in (0, 1, 2)]
    study.write_study(list(map(str, files)), [], tmp_path / "fig", 0.1, "T")
    text = "\n".join(study.report_section([str(study.guide_path(tmp_path / "fig"))]))
    assert "rests on 3 seeds per cell" in text and "indicative only" not in text
    rising = [make_run(tmp_path / "rising", "lebm", n, 1000, 0, 1e-3 * n, 10.0) for n in (1, 2, 4)]
    guide = study.write_study(list(map(str, rising)), [], tmp_path / "rising_fig", 0.1, "T")
    assert "the smallest N tried, N = 1, has the best MMD^2 (1.00e-03); more particles" in guide["guideline"][0]


# ---------------------------------------------------------------------------------------------------- errors


def test_bad_inputs_are_named(grid, tmp_path):
    image = make_table2b(tmp_path / "img", 1, 0, 30.0)
    with pytest.raises(DataError, match=re.escape(f"{image}: no 'mmd2'")):
        study.write_study([str(grid[0]), str(image)], [], tmp_path / "a", 0.1, "")
    with pytest.raises(DataError, match="no 'fid'"):
        study.write_study([str(grid[0])], [str(grid[1])], tmp_path / "a", 0.1, "")
    with pytest.raises(ConfigError, match="--within 1.5"):
        study.write_study([str(grid[0])], [], tmp_path / "a", 1.5, "")
    other = make_run(tmp_path / "other", "ebipla", 2, 1000, 0, 1e-3, 10.0, iterations=100)
    with pytest.raises(DataError, match="differ in their iterations"):
        study.write_study([str(grid[0]), str(other)], [], tmp_path / "a", 0.1, "")
    (grid[0].parent / "config.yaml").unlink()
    with pytest.raises(DataError, match="no config.yaml beside it"):
        study.write_study([str(grid[0])], [], tmp_path / "a", 0.1, "")


# ---------------------------------------------------------------------------------------------------- a real run


def test_a_trained_and_evaluated_run_is_read_back(tmp_path):
    """ebipla train + ebipla evaluate (in-process, 2 iterations of B = 250): the fields the study reads exist and
    agree."""
    import ebipla
    from ebipla.evaluate import evaluate_run

    out = tmp_path / "swissroll" / "lebm" / "N2" / "M500" / "seed0"
    cfg = ebipla.load_config(str(PAPER / "swissroll_lebm_n16.yaml"),
                             ["data.n_points=500", "algorithm.n_posterior_steps=2", "train.n_epochs=1",
                              "train.batch_size=250",
                              "algorithm.n_prior_steps=5", "eval.n_samples=200", "eval.n_eval_points=200",
                              "eval.long_run_steps=0", "eval.landscape_grid=10"])
    ebipla.train(cfg, out, device="cpu", progress=False)
    evaluate_run(out)
    runs = study.read_runs([str(out / "metrics.json")], study.STUDY)
    row = runs.iloc[0]
    assert (row["method"], row["N"], row["M"], row["d"], row["J"]) == ("lebm", 2, 500, 2, 5)
    assert row["iterations"] == 2 and row["n_epochs"] == 1 and np.isfinite(row["mmd2"])
    summary = json.loads((out / "train_summary.json").read_text())
    assert row["seconds_per_epoch"] == pytest.approx(summary["train_seconds"])
    assert row["seconds_per_iteration"] == pytest.approx(summary["train_seconds"] / 2)


# ---------------------------------------------------------------------------------------------------- workflow


def test_quick_and_full_configs_plan_the_grid(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    plan = run(["snakemake", "-n", "-p", "--forceall", "results/paper/figure_particles_vs_data.png",
                "--configfile", "config/quick.yaml"], repo)
    jobs = dict(re.findall(r"^(study_particles_\w+)\s+(\d+)$", plan, flags=re.M))
    assert jobs == {"study_particles_train": "12", "study_particles_evaluate": "12", "study_particles_figure": "1"}
    lebm = re.search(r"ebipla train (.*)--out results/studies/particles/swissroll/lebm/N4/M4000/seed0 ", plan)[1]
    assert "--config config/synthetic/paper/swissroll_lebm_n16.yaml --config config/synthetic/quick.yaml" in lebm
    assert "--set data.n_points=4000 --set algorithm.n_posterior_steps=4 --set train.n_epochs=25" in lebm
    ebipla_1 = re.search(r"ebipla train (.*)--out results/studies/particles/swissroll/ebipla/N1/M1000/seed0 ", plan)[1]
    assert "--set algorithm.n_particles=1 --set train.n_epochs=100" in ebipla_1
    study_command = r"ebipla study particles --metrics (\S+metrics.json ){12}--table2b \S+N1/paper/seed0/metrics"
    assert re.search(study_command, plan)
    full = run(["snakemake", "-n", "--forceall", "results/paper/figure_particles_vs_data.png"], repo)
    assert re.search(r"^study_particles_train\s+378$", full, flags=re.M)  # 3 x 2 x 7 x 3 x 3
    assert re.search(r"^study_particles_figure\s+1$", full, flags=re.M)
    bad = tmp_path / "bad.yaml"  # K = 150 is no whole number of epochs at M = 4000, B = 1000
    bad.write_text("studies: {particles: {iterations: 150}}\n")
    proc = subprocess.run(["snakemake", "-n", "--forceall", "results/paper/figure_particles_vs_data.png",
                           "--configfile", "config/quick.yaml", str(bad)], cwd=repo, env=tool_env(),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "not a multiple of ceil(M / B) = 4" in proc.stdout + proc.stderr
