"""MALA (ebipla/algorithms/mala.py) and the long-run evaluation built on it: exactness where ULA is biased, the
fused energy-and-gradient pass, and the escape of chains when exp(-U) is not normalisable."""

from __future__ import annotations

import json
import math

import numpy as np
import torch
from torch import nn

from ebipla.algorithms.langevin import ula_chain
from ebipla.algorithms.mala import mala_chain, value_and_grad_fn
from ebipla.cli import main
from ebipla.config import load_config
from ebipla.evaluate import long_run
from ebipla.run import new_model
from ebipla.sampling import PerSampleStreams, long_run_latents

MU = torch.tensor([1.0, -2.0])
COV = torch.tensor([[1.0, 0.9], [0.9, 1.0]])  # eigenvalues 1.9 and 0.1: ill-conditioned


class QuadraticEnergy(nn.Module):
    """U(x) = (x - mu)^T P (x - mu) / 2, i.e. exp(-U) / Z = N(mu, P^-1)."""

    def __init__(self, mu: torch.Tensor, cov: torch.Tensor):
        super().__init__()
        self.register_buffer("mu", mu)
        self.register_buffer("precision", torch.linalg.inv(cov))
        self.dummy = nn.Parameter(torch.zeros(()))  # a parameter, as the samplers look up the device through one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = x - self.mu
        return 0.5 * (r @ self.precision * r).sum(-1)

    def grad_x_fn(self, dtype=None):
        return lambda x: (x - self.mu) @ self.precision


class FallingEnergy(nn.Module):
    """U(x) = -|x|: exp(-U) is not normalisable, every chain runs off to infinity."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -x.norm(dim=-1)

    def grad_x_fn(self, dtype=None):
        return lambda x: -x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def streams(n: int, seed: int = 0):
    s = PerSampleStreams(seed, 99, range(n))
    return s.normal((2,)), lambda k: s.normal((k, 3)).transpose(0, 1)


def test_mala_is_exact_where_ula_with_a_large_step_is_biased():
    energy = QuadraticEnergy(MU, COV)
    n, step = 2000, 0.15  # ULA's stationary covariance at this step: (P - step P^2 / 2)^-1, 0.1 -> 0.40 (x 4)
    x0, draw = streams(n)
    run = mala_chain(value_and_grad_fn(energy), x0, step, n_steps=700, n_burnin=200, draw=draw)
    assert 0.45 < run.acceptance < 0.7  # adapted towards 0.574
    assert run.step_size != step
    torch.testing.assert_close(run.x.mean(0), MU, atol=0.06, rtol=0)
    torch.testing.assert_close(torch.cov(run.x.T), COV, atol=0.08, rtol=0)

    ula = ula_chain(energy.grad_x_fn(), x0, step, torch.randn(700, n, 2, generator=torch.Generator().manual_seed(1)))
    ula_cov = torch.cov(ula.T)
    small = torch.linalg.eigvalsh(ula_cov)[0]  # the true covariance's small eigenvalue is 0.1
    assert small > 0.25, small  # ULA: heavily biased; MALA's is right:
    assert abs(torch.linalg.eigvalsh(torch.cov(run.x.T))[0] - 0.1) < 0.02


def test_fused_energy_and_gradient_equal_autograd():
    cfg = load_config([], ["model.energy.hidden=[16,16]", "model.energy.prior_sigma=2.0"])
    model = new_model(cfg, (2,), torch.device("cpu"))
    x = torch.randn(50, 2, requires_grad=True)
    u, g = value_and_grad_fn(model.energy)(x.detach())
    u_ref = model.energy(x)
    (g_ref,) = torch.autograd.grad(u_ref.sum(), x)
    torch.testing.assert_close(u, u_ref.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)


def test_long_run_chains_do_not_depend_on_how_they_are_batched_and_follow_their_seed():
    cfg = load_config([], ["model.energy.hidden=[16,16]"])
    model = new_model(cfg, (2,), torch.device("cpu"))
    a = long_run_latents(model, 8, 30, 10, 0.01, seed=5, snapshot_steps=(20,))
    b = long_run_latents(model, 8, 30, 10, 0.01, seed=5)
    torch.testing.assert_close(a.x, b.x)
    assert a.snapshots[20].shape == (8, 2) and not torch.allclose(a.snapshots[20], a.x)
    assert not torch.allclose(a.x, long_run_latents(model, 8, 30, 10, 0.01, seed=6).x)


def long_run_of(energy: nn.Module, steps: int = 300):
    cfg = load_config([], ["model.energy.hidden=[16,16]", f"eval.long_run_steps={steps}", "eval.long_run_burnin=100",
                           "eval.long_run_chains=200", "eval.n_samples=200"])
    model = new_model(cfg, (2,), torch.device("cpu"))
    model.energy = energy
    x_short = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))  # radius about 3.5
    held_out = model.decode(MU + torch.randn(500, 2, generator=torch.Generator().manual_seed(3)) @
                            torch.linalg.cholesky(COV).T).detach()
    bounds = torch.tensor([[-4.0, 4.0], [-4.0, 4.0]]).numpy()
    return long_run(model, cfg, x_short, held_out, bandwidth=1.0, bounds=bounds)


def test_long_run_of_a_normalisable_energy_mixes_and_stays():
    metrics, arrays = long_run_of(QuadraticEnergy(MU, COV))
    assert metrics["long_run_escaped_fraction"] == 0.0 and metrics["long_run_outside_grid"] < 0.05
    assert abs(metrics["long_run_mixing_mmd2"]) < 0.02  # half the chains midway vs the other half at the end
    assert abs(metrics["mmd2_long_run"]) < 0.02  # exp(-U) is the held-out law here
    assert arrays["x_long"].shape == (200, 2) and arrays["y_long"].shape == (200, 2)
    assert metrics["long_run_mixing_steps"] == [200, 300]


def test_escape_is_reported_for_an_energy_that_falls_without_bound():
    metrics, _ = long_run_of(FallingEnergy())
    radius = metrics["long_run_escape_radius"]
    assert 20 < radius < 60  # 10 x the largest short-run norm
    assert metrics["long_run_escaped_fraction"] > 0.9 and metrics["long_run_outside_grid"] == 1.0
    assert metrics["long_run_norm_median"] > radius
    assert metrics["mmd2_long_run"] > 0.3  # nothing like the data (the held-out term alone is about 0.46)
    assert math.isfinite(metrics["long_run_step_size"])


def test_long_run_off_leaves_metrics_without_it(tmp_path):
    run = tmp_path / "run"
    sets = ["data.n_points=200", "train.batch_size=100", "algorithm.n_prior_steps=5", "train.n_epochs=1",
            "eval.n_samples=50", "eval.n_eval_points=50", "eval.landscape_grid=10", "eval.long_run_steps=0",
            "device=cpu"]
    assert main(["train", *[a for s in sets for a in ("--set", s)], "--out", str(run)]) == 0
    assert main(["evaluate", "--run", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert "mmd2_long_run" not in metrics and "mmd2" in metrics
    assert "x_long" not in np.load(run / "samples.npz")
