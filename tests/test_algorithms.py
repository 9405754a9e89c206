from __future__ import annotations

import math

import pytest
import torch

from ebipla.algorithms import ALGORITHMS
from ebipla.algorithms.base import backward_losses
from ebipla.config import load_config
from ebipla.run import new_model, training_data

SMALL = ["data.n_points=200", "train.batch_size=50", "algorithm.n_prior_steps=5", "model.energy.hidden=[16,16]"]


def setup(overrides: list[str], seed: int = 0):
    cfg = load_config([], SMALL + overrides)
    y = training_data(cfg, torch.device("cpu")).values
    model = new_model(cfg, (2,), torch.device("cpu"))
    gen = torch.Generator().manual_seed(seed)
    algo = ALGORITHMS[cfg.algorithm.name]
    return cfg, y, model, gen, algo, algo.init_state(cfg, model, len(y), gen)


def run_steps(overrides: list[str], n_steps: int = 3, seed: int = 0):
    cfg, y, model, gen, algo, state = setup(overrides, seed)
    batches = [torch.arange(i * 50, (i + 1) * 50) % len(y) if algo.uses_minibatches else torch.arange(len(y))
               for i in range(n_steps)]
    metrics = []
    for idx in batches:
        state, m = algo.step(state, (idx, y[idx]), gen)
        metrics.append(m)
    return state, metrics


CASES = {
    "ebipla": ["algorithm.name=ebipla", "algorithm.n_particles=4"],
    "ebipla_post_update": ["algorithm.name=ebipla", "algorithm.n_particles=4", "algorithm.loss_particles=post_update"],
    "ebipla_warmup": ["algorithm.name=ebipla", "algorithm.n_particles=4", "algorithm.warmup_iters=2",
                      "algorithm.warmup_particles=2"],
    "lebm": ["algorithm.name=lebm", "algorithm.n_posterior_steps=4"],
    "ebipla_full": ["algorithm.name=ebipla_full", "algorithm.n_particles=3", "algorithm.prior_expectation=ula",
                    "train.batch_size=200"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_step_keeps_shapes_and_is_deterministic(case):
    state_a, metrics_a = run_steps(CASES[case])
    state_b, metrics_b = run_steps(CASES[case])
    assert state_a.iteration == 3
    for a, b in zip(state_a.model.parameters(), state_b.model.parameters()):
        assert torch.equal(a, b)
    for ma, mb in zip(metrics_a, metrics_b):
        assert ma.keys() == mb.keys()
        assert all(v.dim() == 0 and torch.isfinite(v) and torch.equal(v, mb[k]) for k, v in ma.items())
    if state_a.particles is not None:
        n = state_a.cfg.n_particles
        assert state_a.particles.shape == (200, n, 2)
        assert torch.equal(state_a.particles, state_b.particles)
    state_c, _ = run_steps(CASES[case], seed=1)
    assert not all(torch.equal(a, c) for a, c in zip(state_a.model.parameters(), state_c.model.parameters()))


def test_warmup_keeps_n_prime_particles_then_replicates():
    cfg, y, model, gen, algo, state = setup(CASES["ebipla_warmup"])
    assert state.particles.shape == (200, 2, 2)  # N' = 2 during warm-up
    idx = torch.arange(50)
    state, _ = algo.step(state, (idx, y[idx]), gen)
    state, _ = algo.step(state, (idx, y[idx]), gen)
    assert state.particles.shape == (200, 2, 2)
    untouched = state.particles[50:].clone()
    before = state.particles.clone()
    state, _ = algo.step(state, (idx, y[idx]), gen)  # k = S_warm: replicate N' = 2 -> N = 4
    assert state.particles.shape == (200, 4, 2)
    # Copies of one cloud: the particles outside the batch differ only by the all-particle noise just added.
    spread = (state.particles[50:, 1::2] - state.particles[50:, 0::2]).std().item()  # [p0, p0, p1, p1]
    assert spread == pytest.approx(math.sqrt(2 * 2 * cfg.algorithm.h / 4), rel=0.15)
    assert (state.particles[50:].reshape(150, 2, 2, 2) - untouched[:, :, None]).abs().max() < 0.5
    assert not torch.equal(before[:50], state.particles[:50, :2])


def test_warmup_moves_only_the_batch():
    cfg, y, model, gen, algo, state = setup(CASES["ebipla_warmup"])
    before = state.particles.clone()
    idx = torch.arange(50)
    state, _ = algo.step(state, (idx, y[idx]), gen)
    assert torch.equal(state.particles[50:], before[50:])  # no all-particle noise while warming up
    assert not torch.equal(state.particles[:50], before[:50])


def test_ebipla_noise_scale_on_particles_outside_the_batch():
    cfg, y, model, gen, algo, state = setup(["algorithm.name=ebipla", "algorithm.n_particles=64", "algorithm.h=0.3"])
    before = state.particles.clone()
    idx = torch.arange(50)
    state, _ = algo.step(state, (idx, y[idx]), gen)
    step = state.particles[50:] - before[50:]  # noise only: sqrt(2h / L) with L = M / B = 4
    assert step.mean().abs() < 0.01
    assert step.std().item() == pytest.approx(math.sqrt(2 * 0.3 / 4), rel=0.03)


def test_ebipla_drift_uses_old_parameters_and_exact_posterior_gradient():
    cfg, y, model, gen, algo, state = setup(["algorithm.name=ebipla", "algorithm.n_particles=4", "algorithm.h=0.01"])
    idx = torch.arange(50)
    x_batch = state.particles[idx].clone()
    expected_drift = model.grad_x_posterior(x_batch, y[idx])  # at theta_k, X_k
    replay = torch.Generator().set_state(gen.get_state())
    state, _ = algo.step(state, (idx, y[idx]), gen)
    # Replay the step's random draws: prior chain (x0 and J noises), then the all-particle noise.
    torch.randn((50, 2), generator=replay)
    torch.randn((5, 50, 2), generator=replay)
    noise = torch.randn((200, 4, 2), generator=replay) * math.sqrt(2 * 0.01 / 4)
    torch.testing.assert_close(state.particles[idx], x_batch - 0.01 * expected_drift + noise[idx])


def test_one_backward_pass_gives_loss_gradients_and_drift():
    cfg, y, model, gen, algo, state = setup(["algorithm.name=ebipla"])
    x_pos, x_neg = torch.randn(50, 3, 2), torch.randn(50, 2)
    loss_e, loss_d, drift = backward_losses(model, x_pos, y[:50], x_neg, want_x_grad=True)
    torch.testing.assert_close(drift, model.grad_x_posterior(x_pos, y[:50]), rtol=1e-5, atol=1e-5)
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    le = model.energy(x_pos).mean() - model.energy(x_neg).mean()  # eq. 46
    ld = model.V(x_pos, y[:50]).mean()  # eq. 45
    (le + ld).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(loss_e, le.detach())
    torch.testing.assert_close(loss_d, ld.detach())


def test_lebm_leaves_no_persistent_particles():
    state, metrics = run_steps(CASES["lebm"])
    assert state.particles is None
    assert set(metrics[0]) == {"loss_energy", "loss_decoder"}


def test_full_algorithm_exact_expectation_needs_an_energy_that_has_one():
    from ebipla.errors import ConfigError

    with pytest.raises(ConfigError, match="prior_expectation"):
        setup(["algorithm.name=ebipla_full", "train.batch_size=200"])


def test_bank_noise_covers_every_row_in_chunks(monkeypatch):
    from ebipla.algorithms import bank

    monkeypatch.setattr(bank, "NOISE_CHUNK_ELEMENTS", 7 * 3 * 2)  # 7 rows per chunk, 100 rows in all
    particles = torch.zeros(100, 3, 2)
    bank.add_noise(particles, 0.5, torch.Generator().manual_seed(0))
    assert (particles != 0).all()
    assert abs(particles.std().item() - 0.5) < 0.05
    again = torch.zeros(100, 3, 2)
    bank.add_noise(again, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(particles, again)
    idx = torch.tensor([3, 50])
    bank.scatter(again, idx, torch.ones(2, 3, 2))
    assert torch.equal(bank.gather(again, idx, torch.device("cpu")), torch.ones(2, 3, 2))


def test_new_bank_is_one_draw_when_small_and_fills_every_row_in_chunks(monkeypatch):
    from ebipla.algorithms import bank

    one = bank.new_bank((100, 3, 2), torch.Generator().manual_seed(0), "device")
    torch.testing.assert_close(one, torch.randn((100, 3, 2), generator=torch.Generator().manual_seed(0)),
                               rtol=0, atol=0)
    assert torch.equal(bank.new_bank((100, 3, 2), torch.Generator().manual_seed(0), "pinned_cpu"), one)
    monkeypatch.setattr(bank, "NOISE_CHUNK_ELEMENTS", 7 * 3 * 2)  # 7 rows per draw
    chunked = bank.new_bank((100, 3, 2), torch.Generator().manual_seed(0), "device")
    gen = torch.Generator().manual_seed(0)
    expected = torch.cat([torch.randn((min(7, 100 - s), 3, 2), generator=gen) for s in range(0, 100, 7)])
    assert torch.equal(chunked, expected)
