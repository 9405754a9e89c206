"""``ebipla trace``: the continuation retraces training exactly, and its stability readings are right."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ebipla import run as rundir
from ebipla.cli import main
from ebipla.config import load_config
from ebipla.config.schema import EnergyConfig
from ebipla.models.energy import EnergyMLP
from ebipla.stability import max_curvature, read_rows, trace
from ebipla.trainer import train

TINY = ["data.n_points=300", "train.batch_size=100", "algorithm.n_prior_steps=10", "model.energy.hidden=[16,16]",
        "train.n_epochs=3", "train.checkpoint_every=3", "train.log_every=1", "device=cpu", "algorithm.name=ebipla",
        "algorithm.n_particles=4"]


def test_trace_retraces_the_training_run(tmp_path):
    cfg = load_config([], TINY)
    train(cfg, tmp_path / "whole")
    train(cfg, tmp_path / "part", until_iteration=3)
    rows = trace(tmp_path / "part", 6, out=tmp_path / "trace.csv")
    logged = [json.loads(line) for line in (tmp_path / "whole" / rundir.TRAIN_METRICS).read_text().splitlines()]
    expected = {r["iteration"]: r for r in logged}
    assert [r["iteration"] for r in rows] == list(range(4, 10))
    for row in rows:  # the same random stream, the same parameters: the same losses, bitwise
        assert row["loss_energy"] == expected[row["iteration"]]["loss_energy"]
        assert row["loss_decoder"] == expected[row["iteration"]]["loss_decoder"]
        assert row["loss_energy"] == pytest.approx(row["u_pos"] - row["u_neg"], rel=1e-4, abs=1e-5)
    assert len(read_rows(tmp_path / "trace.csv")) == 6
    # training records its wall time beside the checkpoint (train_time.json) and in the summary
    summary = json.loads((tmp_path / "whole" / rundir.TRAIN_SUMMARY).read_text())
    assert (tmp_path / "whole" / rundir.TRAIN_CURVE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the curve, drawn
    assert not (tmp_path / "part" / rundir.TRAIN_CURVE).exists()  # only once training has finished
    assert summary["train_seconds"] > 0
    assert json.loads((tmp_path / "part" / rundir.TRAIN_TIME).read_text())["iteration"] == 3
    # the run directory is left as it was
    assert torch.load(tmp_path / "part" / rundir.CHECKPOINT, weights_only=False)["iteration"] == 3


def test_trace_overrides_and_particle_subsets_change_the_continuation(tmp_path):
    cfg = load_config([], TINY)
    train(cfg, tmp_path / "run", until_iteration=3)
    base = trace(tmp_path / "run", 2)
    smaller = trace(tmp_path / "run", 2, ["algorithm.gamma=0.001"])
    fewer = trace(tmp_path / "run", 2, particles=2)
    assert smaller[0]["u_neg"] != base[0]["u_neg"] and smaller[0]["u_pos"] == base[0]["u_pos"]
    assert fewer[0]["u_pos"] != base[0]["u_pos"]
    assert smaller[0]["gamma_curv_data"] == pytest.approx(base[0]["gamma_curv_data"] * 0.001 / cfg.algorithm.gamma)
    slow = trace(tmp_path / "run", 1, ["train.lr_energy=1e-9"])  # the checkpoint's Adam state keeps its lr unless
    assert slow[0]["alpha_step"] < 1e-6 < base[0]["alpha_step"]  # the override rescales it


def test_max_curvature_of_a_quadratic_energy():
    # U(x) = MLP(x) + |x|^2 / (2 s^2) with the MLP's last layer zeroed: the Hessian is I / s^2 everywhere
    energy = EnergyMLP(2, EnergyConfig(hidden=(8,), activation="silu", prior_sigma=0.5))
    with torch.no_grad():
        energy.out.weight.zero_()
    x = torch.randn(20, 2)
    assert torch.allclose(max_curvature(energy, x), torch.full((20,), 4.0, dtype=torch.float64), rtol=1e-6)
    extra = torch.tensor([[10.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(max_curvature(energy, x, extra), torch.full((20,), 14.0, dtype=torch.float64), rtol=1e-6)


def test_trace_command_writes_csv(tmp_path):
    cfg = load_config([], TINY)
    train(cfg, tmp_path / "run", until_iteration=3)
    out = tmp_path / "t.csv"
    assert main(["trace", "--run", str(tmp_path / "run"), "--iterations", "2", "--set", "algorithm.gamma=0.01",
                 "--out", str(out)]) == 0
    rows = read_rows(out)
    assert [r["iteration"] for r in rows] == [4.0, 5.0]
    assert all(math.isfinite(r["gamma_curv_max"]) for r in rows)
