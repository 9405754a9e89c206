from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ebipla import run as rundir
from ebipla.cli import main
from ebipla.config import load_config
from ebipla.presets import DATASETS, METHODS, PARTICLES, QUICK, paper_preset, run_name, write_presets

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "data.n_points=400", "--set", "train.batch_size=200", "--set", "algorithm.n_prior_steps=20",
        "--set", "train.n_epochs=3", "--set", "eval.n_samples=300", "--set", "eval.n_eval_points=300",
        "--set", "eval.landscape_grid=25", "--set", "eval.long_run_steps=60", "--set", "eval.long_run_burnin=20",
        "--set", "eval.long_run_chains=50", "--set", "device=cpu"]


def test_train_sample_evaluate_landscape(tmp_path, capsys):
    cfg_file = REPO / "config" / "synthetic" / "paper" / "moons_ebipla_n4.yaml"
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg_file), *TINY, "--out", str(run)]) == 0
    assert {p.name for p in run.iterdir()} >= {rundir.CHECKPOINT, rundir.CONFIG, rundir.TRAIN_LOG,
                                                  rundir.TRAIN_METRICS}
    assert main(["sample", "--run", str(run), "--n", "50"]) == 0
    samples = np.load(run / rundir.SAMPLES)
    assert samples["x"].shape == (50, 2) and samples["y"].shape == (50, 2)
    assert main(["evaluate", "--run", str(run)]) == 0
    metrics = json.loads((run / rundir.EVAL_METRICS).read_text())
    assert metrics["iteration"] == 6 and metrics["dataset"] == "moons" and np.isfinite(metrics["mmd2"])
    assert np.load(run / rundir.SAMPLES)["y"].shape == (300, 2)
    # Long-run MALA samples of exp(-U) next to the short-run ones, with their diagnostics.
    assert np.isfinite(metrics["mmd2_long_run"]) and metrics["long_run_steps"] == 60
    assert metrics["long_run_chains"] == 50 and metrics["long_run_mixing_steps"] == [40, 60]
    assert 0 <= metrics["long_run_escaped_fraction"] <= 1 and 0 <= metrics["long_run_outside_grid"] <= 1
    assert metrics["long_run_step_size"] > 0 and 0 <= metrics["long_run_acceptance"] <= 1
    assert metrics["train_seconds"] > 0 and metrics["batch_size"] == 200 and metrics["n_epochs"] == 3
    samples = np.load(run / rundir.SAMPLES)
    assert samples["x_long"].shape == (50, 2) and samples["y_long"].shape == (50, 2)
    assert main(["landscape", "--run", str(run)]) == 0
    land = np.load(run / rundir.LANDSCAPE)
    cell = (land["x0"][1] - land["x0"][0]) * (land["x1"][1] - land["x1"][0])
    assert land["density"].shape == (25, 25)
    assert land["density"].sum() * cell == pytest.approx(1.0)


def test_config_command_prints_resolved_config(capsys):
    assert main(["config", "--set", "algorithm.name=lebm", "--set", "algorithm.h=0.01"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["algorithm"]["name"] == "lebm" and printed["algorithm"]["h"] == 0.01


def test_config_error_is_one_message_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("algorithm:\n  gama: 0.1\n")
    proc = subprocess.run([sys.executable, "-m", "ebipla.cli", "train", "--config", str(bad), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "algorithm.gama" in proc.stderr and "gamma" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_shipped_synthetic_configs_equal_the_embedded_presets(tmp_path):
    write_presets(tmp_path)
    shipped = REPO / "config" / "synthetic"
    for path in sorted(tmp_path.rglob("*.yaml")):
        twin = shipped / path.relative_to(tmp_path)
        assert twin.read_text() == path.read_text(), f"{twin} is stale: run `ebipla presets --write {shipped}`"
    assert len(list((shipped / "paper").glob("*.yaml"))) == len(DATASETS) * len(METHODS) * len(PARTICLES)
    quick = load_config([shipped / "paper" / "swissroll_ebipla_n16.yaml", shipped / "quick.yaml"])
    assert quick.algorithm.n_prior_steps == QUICK["algorithm"]["n_prior_steps"]
    assert quick.algorithm.h == paper_preset("swissroll", "ebipla", 16)["algorithm"]["h"]
    assert run_name("moons", "lebm", 4) == "moons_lebm_n4"


def test_python_dash_m_runs_the_command_line_and_the_device_script_parses():
    """``python -m ebipla`` is how .ci/device calls the command line on a GPU machine without an install."""
    done = subprocess.run([sys.executable, "-m", "ebipla", "config", "--set", "seed=7"], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0 and "seed: 7" in done.stdout, done.stderr
    assert subprocess.run(["bash", "-n", str(REPO / ".ci" / "device")]).returncode == 0
