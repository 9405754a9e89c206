from __future__ import annotations

import json

import pytest
import torch

from ebipla import run as rundir
from ebipla.checkpoint import load_checkpoint
from ebipla.config import load_config
from ebipla.errors import CheckpointError, DivergenceError
from ebipla.trainer import train

TINY = ["data.n_points=300", "train.batch_size=100", "algorithm.n_prior_steps=10", "model.energy.hidden=[16,16]",
        "train.n_epochs=4", "train.checkpoint_every=2", "train.log_every=1", "train.lr_decay=0.9", "device=cpu"]

RESUME_CASES = {
    "ebipla": ["algorithm.name=ebipla", "algorithm.n_particles=4"],
    "ebipla_warmup": ["algorithm.name=ebipla", "algorithm.n_particles=4", "algorithm.warmup_iters=5",
                      "algorithm.loss_particles=post_update"],
    "lebm": ["algorithm.name=lebm", "algorithm.n_posterior_steps=3"],
}


def assert_same(a, b, path="checkpoint"):
    """Bitwise equality of two nested checkpoint payloads."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path, case):
    cfg = load_config([], TINY + RESUME_CASES[case])
    train(cfg, tmp_path / "whole")
    for stop in (3, 7):  # odd stops: between checkpoints, inside and after the warm-up, across an epoch end
        train(cfg, tmp_path / "pieces", until_iteration=stop)
        assert load_checkpoint(tmp_path / "pieces" / rundir.CHECKPOINT)["iteration"] == stop
    train(cfg, tmp_path / "pieces")
    whole = load_checkpoint(tmp_path / "whole" / rundir.CHECKPOINT)
    pieces = load_checkpoint(tmp_path / "pieces" / rundir.CHECKPOINT)
    assert whole["iteration"] == 12
    assert_same(whole, pieces)
    curve = lambda d: (d / rundir.TRAIN_METRICS).read_text()  # noqa: E731
    assert curve(tmp_path / "whole") == curve(tmp_path / "pieces")
    assert len(curve(tmp_path / "whole").splitlines()) == 12


def test_resume_drops_curve_rows_past_the_checkpoint(tmp_path):
    cfg = load_config([], TINY + RESUME_CASES["lebm"])
    train(cfg, tmp_path, until_iteration=4)
    with open(tmp_path / rundir.TRAIN_METRICS, "a") as f:  # rows a killed run logged after its last checkpoint
        f.write(json.dumps({"iteration": 5}) + "\n" + '{"iteration": 6, "loss')
    train(cfg, tmp_path, until_iteration=4)
    rows = [json.loads(line) for line in (tmp_path / rundir.TRAIN_METRICS).read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]


def test_run_directory_contents(tmp_path):
    cfg = load_config([], TINY + RESUME_CASES["ebipla"])
    train(cfg, tmp_path)
    assert load_config([tmp_path / rundir.CONFIG]) == cfg  # the resolved config, reloadable
    assert "finished" in (tmp_path / rundir.TRAIN_LOG).read_text()
    payload = load_checkpoint(tmp_path / rundir.CHECKPOINT)
    assert payload["particles"].shape == (300, 4, 2)
    assert {"model", "optimizers", "schedulers", "generator", "config", "iteration"} <= payload.keys()
    assert payload["optimizers"][0]["param_groups"][0]["lr"] == pytest.approx(1e-2 * 0.9**4)  # per-epoch decay


def test_resume_with_a_different_config_is_refused(tmp_path):
    train(load_config([], TINY + RESUME_CASES["lebm"]), tmp_path, until_iteration=2)
    other = load_config([], TINY + RESUME_CASES["lebm"] + ["algorithm.h=0.002"])
    with pytest.raises(CheckpointError, match=r"different config \(algorithm.h: 0.005 -> 0.002\)"):
        train(other, tmp_path)


def test_divergence_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    # The paper's h = 0.9 applied literally to eq. 13 blows the particles up within a few dozen iterations.
    cfg = load_config([], TINY + ["algorithm.name=ebipla", "algorithm.n_particles=4", "algorithm.h=0.9",
                                  "train.n_epochs=40", "train.checkpoint_every=3", "train.log_every=3",
                                  "data.n_points=1000", "train.batch_size=1000"])
    with pytest.raises(DivergenceError, match=r"diverged at iteration \d+: ") as err:
        train(cfg, tmp_path)
    bad_iteration = int(str(err.value).split("diverged at iteration ")[1].split(":")[0])
    good = load_checkpoint(tmp_path / rundir.CHECKPOINT)
    assert good["iteration"] == bad_iteration - 3
    assert torch.isfinite(good["particles"]).all()


def test_corrupt_checkpoint_is_reported(tmp_path):
    cfg = load_config([], TINY + RESUME_CASES["lebm"])
    train(cfg, tmp_path, until_iteration=2)
    path = tmp_path / rundir.CHECKPOINT
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(cfg, tmp_path)


def test_restart_on_config_change_keeps_the_old_checkpoint(tmp_path):
    train(load_config([], TINY + RESUME_CASES["lebm"]), tmp_path, until_iteration=2)
    old = (tmp_path / rundir.CHECKPOINT).read_bytes()
    other = load_config([], TINY + RESUME_CASES["lebm"] + ["algorithm.h=0.002"])
    train(other, tmp_path, restart_on_change=True)
    assert (tmp_path / rundir.PREVIOUS_CHECKPOINT).read_bytes() == old
    assert load_checkpoint(tmp_path / rundir.CHECKPOINT)["config"]["algorithm"]["h"] == 0.002
    fresh = tmp_path.parent / "fresh"
    train(other, fresh)
    assert_same(load_checkpoint(fresh / rundir.CHECKPOINT), load_checkpoint(tmp_path / rundir.CHECKPOINT))
