"""The baselines of the one-protocol comparison (issue 15): vae, abp, pgd and rae.

Each step is checked against the update written out by hand on a tiny model (a linear generator, where every
gradient has a closed form), then for determinism, bitwise resume and a short run that improves its own objective.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from test_train import assert_same

from ebipla import run as rundir
from ebipla.algorithms import ALGORITHMS
from ebipla.checkpoint import load_checkpoint
from ebipla.config import load_config
from ebipla.errors import ConfigError
from ebipla.models.fixed_priors import GaussianMixturePrior, StandardNormalPrior
from ebipla.run import new_model, training_data
from ebipla.sampling import sample_latents
from ebipla.trainer import train

CPU = torch.device("cpu")
SMALL = ["data.n_points=200", "train.batch_size=50", "device=cpu"]
CASES = {
    "vae": ["algorithm.name=vae", "model.encoder.hidden=[16]"],
    "abp": ["algorithm.name=abp", "algorithm.n_posterior_steps=3", "algorithm.h=0.001"],
    "pgd": ["algorithm.name=pgd", "algorithm.n_particles=3", "algorithm.h=0.001"],
    "rae": ["algorithm.name=rae", "model.encoder.hidden=[16]", "algorithm.n_components=3"],
}


def setup(overrides: list[str]):
    cfg = load_config([], SMALL + overrides)
    y = training_data(cfg, CPU).values  # (200, 2)
    model = new_model(cfg, (2,), CPU)
    gen = torch.Generator().manual_seed(0)
    algo = ALGORITHMS[cfg.algorithm.name]
    return cfg, y, model, gen, algo, algo.init_state(cfg, model, len(y), gen)


def linear_posterior_grad(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """nabla_x [|x|^2 / 2 + |y - W x - b|^2 / (2 sigma^2)] = x - W^T (y - W x - b) / sigma^2, x (B, ..., d_x)."""
    w, b = model.generator.linear.weight, model.generator.linear.bias
    y = y.reshape(y.shape[0], *([1] * (x.dim() - 2)), -1)
    residual = y - (x @ w.T + b)
    return x - residual @ w / model.sigma**2


def linear_generator_grads(model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """nabla_(W, b) of mean over latents of |y - W x - b|^2 / (2 sigma^2)."""
    w, b = model.generator.linear.weight, model.generator.linear.bias
    y = y.reshape(y.shape[0], *([1] * (x.dim() - 2)), -1).expand(*x.shape[:-1], -1).reshape(-1, y.shape[-1])
    x = x.reshape(-1, x.shape[-1])
    residual = y - (x @ w.T + b)  # (n, d_y)
    return -(residual.T @ x) / model.sigma**2 / len(x), -residual.sum(0) / model.sigma**2 / len(x)


def first_adam_step(p: torch.Tensor, g: torch.Tensor, lr: float) -> torch.Tensor:
    """Adam's first update from zero moments: p - lr g / (|g| + eps) (bias corrections cancel)."""
    return p - lr * g / (g.abs() + 1e-8)


def assert_first_adam_step(model, before: dict, g_w: torch.Tensor, g_b: torch.Tensor, lr: float) -> None:
    """The linear generator's (W, b) went from ``before`` by Adam's first step on the gradients (g_w, g_b)."""
    linear = model.generator.linear
    torch.testing.assert_close(linear.weight, first_adam_step(before["generator.linear.weight"], g_w, lr))
    torch.testing.assert_close(linear.bias, first_adam_step(before["generator.linear.bias"], g_b, lr))


def model_at(model, state_dict):
    """A copy of ``model`` with the parameters ``state_dict`` (the values before a step)."""
    copied = copy.deepcopy(model)
    copied.load_state_dict(state_dict)
    return copied


@torch.no_grad()
def snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------------------------ one step by hand


def test_abp_step_is_k_posterior_ula_steps_then_a_generator_step():
    cfg, y, model, gen, algo, state = setup(CASES["abp"])
    idx = torch.arange(50)
    x = state.particles[idx].clone()  # (50, 1, 2) warm-started latents
    other = state.particles[50:].clone()
    before = snapshot(model)
    replay = torch.Generator().set_state(gen.get_state())
    state, metrics = algo.step(state, (idx, y[idx]), gen)
    noise = torch.randn((3, 50, 1, 2), generator=replay)
    for w in noise:
        x = x - 0.001 * linear_posterior_grad(model_at(model, before), x, y[idx]) + math.sqrt(2 * 0.001) * w
    torch.testing.assert_close(state.particles[idx], x)
    assert torch.equal(state.particles[50:], other)  # only the batch's latents move
    g_w, g_b = linear_generator_grads(model_at(model, before), x, y[idx])
    assert_first_adam_step(model, before, g_w, g_b, cfg.train.lr_generator)
    assert set(metrics) == {"loss_decoder"}


def test_pgd_step_is_ebipla_particle_system_with_a_gaussian_prior():
    cfg, y, model, gen, algo, state = setup(CASES["pgd"])
    idx = torch.arange(50)
    x_all = state.particles.clone()  # (200, 3, 2)
    before = snapshot(model)
    replay = torch.Generator().set_state(gen.get_state())
    state, _ = algo.step(state, (idx, y[idx]), gen)
    drift = linear_posterior_grad(model_at(model, before), x_all[idx], y[idx])  # at (beta_k, X_k)
    expected = x_all.clone()
    expected[idx] -= 0.001 * drift
    expected += math.sqrt(2 * 0.001 / 4) * torch.randn((200, 3, 2), generator=replay)  # L = M / B = 4
    torch.testing.assert_close(state.particles, expected)
    g_w, g_b = linear_generator_grads(model_at(model, before), x_all[idx], y[idx])  # the N-particle average
    assert_first_adam_step(model, before, g_w, g_b, cfg.train.lr_generator)


def test_vae_step_descends_the_reparameterised_negative_elbo():
    cfg, y, model, gen, algo, state = setup(CASES["vae"])
    idx = torch.arange(50)
    reference = new_model(cfg, (2,), CPU)
    reference.load_state_dict(model.state_dict())
    replay = torch.Generator().set_state(gen.get_state())
    _, metrics = algo.step(state, (idx, y[idx]), gen)
    # The negative ELBO written out independently: Gaussian q, KL from torch.distributions, V by hand.
    out = reference.encoder(y[idx])
    mu, log_var = out[:, :2], out[:, 2:]
    q = torch.distributions.Normal(mu, (0.5 * log_var).exp())
    x = mu + (0.5 * log_var).exp() * torch.randn((50, 1, 2), generator=replay)[:, 0]
    v = (y[idx] - reference.generator(x)).square().sum(-1) / (2 * reference.sigma**2)
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)
    (v.mean() + kl.mean()).backward()
    lr = cfg.train.lr_generator
    for (name, p), q_param in zip(reference.named_parameters(), model.parameters()):
        torch.testing.assert_close(q_param, first_adam_step(p.detach(), p.grad, lr), msg=name)
    torch.testing.assert_close(metrics["kl"], kl.mean().detach())
    torch.testing.assert_close(metrics["loss_decoder"], v.mean().detach())


def test_rae_step_descends_reconstruction_code_penalty_and_weight_decay():
    overrides = [*CASES["rae"], "algorithm.beta=0.5", "algorithm.weight_decay=0.01"]
    cfg, y, model, gen, algo, state = setup(overrides)
    idx = torch.arange(50)
    reference = new_model(cfg, (2,), CPU)
    reference.load_state_dict(model.state_dict())
    algo.step(state, (idx, y[idx]), gen)
    z = reference.encoder(y[idx])
    v = (y[idx] - reference.generator(z)).square().sum(-1) / (2 * reference.sigma**2)
    decay = sum(p.square().sum() for p in reference.generator.parameters())
    (v.mean() + 0.5 * (0.5 * z.square().sum(-1)).mean() + 0.01 * decay).backward()
    lr = cfg.train.lr_generator
    for (name, p), q_param in zip(reference.named_parameters(), model.parameters()):
        torch.testing.assert_close(q_param, first_adam_step(p.detach(), p.grad, lr), msg=name)


# ------------------------------------------------------------------------------------------------ the fixed priors


def test_gaussian_mixture_prior_matches_scikit_learn_and_samples_its_components():
    from sklearn.mixture import GaussianMixture

    gen = torch.Generator().manual_seed(1)
    latents = torch.cat([torch.randn(400, 2, generator=gen) * 0.3 + torch.tensor([2.0, 0.0]),
                         torch.randn(600, 2, generator=gen) * torch.tensor([0.5, 0.2]) - 1.0])
    prior = GaussianMixturePrior(2, 2)
    prior.fit(latents, seed=3)
    reference = GaussianMixture(2, covariance_type="full", reg_covar=1e-6, random_state=3).fit(latents.double().numpy())
    x = torch.randn(50, 2, generator=gen) * 2
    np.testing.assert_allclose(-prior(x).numpy(), reference.score_samples(x.double().numpy()), rtol=1e-4, atol=1e-4)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(prior(xg).sum(), xg)
    torch.testing.assert_close(prior.grad_x(x), grad, rtol=1e-4, atol=1e-4)
    draws = torch.randn(20000, 3, generator=gen)
    samples = prior.sample(draws[:, :2], draws[:, 2])
    np.testing.assert_allclose(samples.mean(0).numpy(), reference.means_.T @ reference.weights_, atol=0.05)
    near_first = (samples - prior.means[0]).norm(dim=-1) < (samples - prior.means[1]).norm(dim=-1)
    assert abs(float(near_first.float().mean()) - float(prior.weights[0])) < 0.02


def test_standard_normal_models_sample_exactly_and_independently_of_the_batch():
    cfg, _, model, _, _, _ = setup(CASES["pgd"])
    assert isinstance(model.energy, StandardNormalPrior) and not list(model.energy.parameters())
    a = sample_latents(model, 4000, 0, 0.0, seed=5, batch_size=4000)
    b = sample_latents(model, 4000, 0, 0.0, seed=5, batch_size=700)
    assert torch.equal(a, b)
    assert abs(float(a.mean())) < 0.05 and abs(float(a.std()) - 1.0) < 0.05


def test_baselines_reject_the_learned_prior_keys():
    with pytest.raises(ConfigError, match="n_prior_steps"):
        load_config([], [*SMALL, "algorithm.name=pgd", "algorithm.n_prior_steps=5"])


# ------------------------------------------------------------------------------------------------ training runs

TINY = ["data.n_points=300", "train.batch_size=100", "train.n_epochs=4", "train.checkpoint_every=2",
        "train.log_every=1", "train.lr_decay=0.9", "device=cpu"]


@pytest.mark.parametrize("case", list(CASES))
def test_interrupted_and_resumed_baseline_equals_uninterrupted(tmp_path, case):
    cfg = load_config([], TINY + CASES[case])
    train(cfg, tmp_path / "whole")
    for stop in (3, 7):
        train(cfg, tmp_path / "pieces", until_iteration=stop)
    train(cfg, tmp_path / "pieces")
    whole = load_checkpoint(tmp_path / "whole" / rundir.CHECKPOINT)
    assert whole["iteration"] == 12
    assert_same(whole, load_checkpoint(tmp_path / "pieces" / rundir.CHECKPOINT))
    if case == "rae":  # the ex-post mixture was fitted once, at the end, into the final checkpoint
        assert not torch.equal(whole["model"]["energy.means"], torch.zeros(3, 2))


def objective(row: dict, case: str) -> float:
    """The quantity each method minimises, from a training-curve row (up to constants)."""
    return row["loss_decoder"] + (row["kl"] if case == "vae" else 0.0)


@pytest.mark.parametrize("case", list(CASES))
def test_a_short_run_improves_its_own_objective(tmp_path, case):
    overrides = ["data.n_points=1000", "train.batch_size=100", "train.n_epochs=8", "train.log_every=10",
                 "device=cpu", *CASES[case]]
    if case in ("abp", "pgd"):
        overrides += ["algorithm.h=0.003"]
    train(load_config([], overrides), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / rundir.TRAIN_METRICS).read_text().splitlines()]
    first, last = objective(rows[0], case), objective(rows[-1], case)
    assert last < 0.5 * first, (first, last)
