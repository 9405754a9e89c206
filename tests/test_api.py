"""The Python API (ebipla.api, docs/python-api.md): configs from files and dicts, training as the CLI trains, and a
trained run's sample / decode / energy / encode / particles / metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ebipla import api
from ebipla.errors import ConfigError
from ebipla.evaluate import evaluate_run

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "synthetic" / "paper"
TINY = ["data.n_points=400", "train.batch_size=100", "train.n_epochs=3", "algorithm.n_prior_steps=10",
        "eval.n_samples=300", "eval.n_eval_points=300", "eval.long_run_steps=0", "eval.landscape_grid=20"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> api.Run:
    cfg = api.load_config(PAPER / "swissroll_ebipla_n4.yaml", TINY)
    return api.train(cfg, tmp_path_factory.mktemp("api") / "run", device="cpu")


def test_load_config_layers_files_dicts_and_overrides():
    cfg = api.load_config([PAPER / "moons_lebm_n16.yaml", {"train": {"n_epochs": 7}}], ["seed=3"])
    assert (cfg.algorithm.name, cfg.data.name, cfg.train.n_epochs, cfg.seed) == ("lebm", "moons", 7, 3)
    assert api.load_config({"algorithm": {"name": "ebipla", "n_particles": 8}}).algorithm.n_particles == 8
    with pytest.raises(ConfigError, match=r"dict 1: unknown key 'train.n_epoch'.*Did you mean 'n_epochs'"):
        api.load_config([PAPER / "moons_lebm_n16.yaml", {"train": {"n_epoch": 7}}])


def test_run_samples_are_the_evaluations_samples(trained):
    assert trained.iteration == 12 and "ebipla on swissroll" in repr(trained)
    assert trained.metrics is None
    metrics = evaluate_run(trained.run_dir)
    assert trained.metrics == metrics
    saved = np.load(trained.run_dir / "samples.npz")["y"]
    y = trained.sample(trained.cfg.eval.n_samples)
    np.testing.assert_array_equal(y.numpy(), saved)
    assert torch.equal(trained.sample(50, seed=4), trained.sample(50, seed=4))
    assert not torch.equal(trained.sample(50, seed=4), trained.sample(50, seed=5))


def test_decode_energy_encode_and_particles(trained):
    x = trained.sample_latents(20, seed=1)  # (20, 2)
    y = trained.decode(x)
    assert y.shape == (20, 2) and trained.energy(x).shape == (20,)
    latents = trained.encode(y)
    assert latents.shape == (20, 2)
    # MAP latents reconstruct the observations far better than the data's spread.
    error = (trained.decode(latents) - y).square().sum(-1).mean()
    assert error < 0.05 * y.var(0).sum(), (error, y.var(0).sum())
    assert trained.particles().shape == (400, 4, 2)
    with pytest.raises(ConfigError, match="encode needs observations of shape"):
        trained.encode(torch.zeros(3, 5))


def test_lebm_run_has_no_particles(tmp_path):
    run = api.train(api.load_config(PAPER / "swissroll_lebm_n4.yaml", [*TINY, "train.n_epochs=1"]), tmp_path,
                    device="cpu")
    with pytest.raises(ConfigError, match="keeps no particles"):
        run.particles()


def test_cli_train_is_the_api_train(trained, tmp_path):
    """`ebipla train` with the same config and overrides writes the same checkpoint as api.train."""
    args = [sys.executable, "-m", "ebipla.cli", "train", "--config", str(PAPER / "swissroll_ebipla_n4.yaml"),
            *[a for o in TINY for a in ("--set", o)], "--out", str(tmp_path / "cli"), "--device", "cpu"]
    subprocess.run(args, check=True, capture_output=True, cwd=REPO)
    cli = api.load_run(tmp_path / "cli")
    for (name, a), b in zip(trained.model.state_dict().items(), cli.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert torch.equal(trained.particles(), cli.particles())
