from __future__ import annotations

import torch

from ebipla.algorithms.langevin import draw_chain_inputs, lebm_step_to_h, ula_chain, ula_step
from ebipla.seeding import derive_seed, per_sample_normal


def test_ula_step_formula():
    x, g, w = torch.tensor([1.0, 2.0]), torch.tensor([0.5, -1.0]), torch.tensor([0.3, 0.1])
    torch.testing.assert_close(ula_step(x, g, 0.08, w), x - 0.08 * g + 0.4 * w)


def test_lebm_step_size_convention():
    assert lebm_step_to_h(0.4) == 0.08000000000000002  # Pang's s0 = 0.4 -> gamma = 0.08
    assert abs(lebm_step_to_h(0.1) - 0.005) < 1e-15  # s1 = 0.1 -> h = 0.005


def test_ula_on_a_gaussian_reaches_its_known_stationary_law():
    # U(x) = |x - mu|^2 / (2 s^2): ULA with step g is an AR(1) whose stationary variance is
    # s^2 / (1 - g / (2 s^2)) (the O(gamma) bias of the unadjusted chain); the mean is exact.
    mu, s2, step = torch.tensor([1.0, -2.0]), 0.5, 0.05
    x0, noise = draw_chain_inputs((20_000, 2), 400, torch.Generator().manual_seed(0), torch.device("cpu"))
    x = ula_chain(lambda z: (z - mu) / s2, x0, step, noise)
    torch.testing.assert_close(x.mean(0), mu, atol=0.03, rtol=0)
    expected_var = s2 / (1 - step / (2 * s2))
    torch.testing.assert_close(x.var(0), torch.full((2,), expected_var), atol=0.02, rtol=0)


def test_chain_is_a_function_of_its_noise():
    x0, noise = draw_chain_inputs((5, 2), 10, torch.Generator().manual_seed(3), torch.device("cpu"))
    a = ula_chain(torch.sin, x0, 0.1, noise)
    b = ula_chain(torch.sin, x0.clone(), 0.1, noise.clone())
    assert torch.equal(a, b)


def test_per_sample_noise_does_not_depend_on_batching():
    whole = per_sample_normal(7, 1, range(0, 10), (3, 2))
    parts = torch.cat([per_sample_normal(7, 1, range(0, 4), (3, 2)), per_sample_normal(7, 1, range(4, 10), (3, 2))])
    assert torch.equal(whole, parts)
    assert not torch.equal(whole, per_sample_normal(8, 1, range(0, 10), (3, 2)))
    assert derive_seed(1, 2, 3) != derive_seed(1, 3, 2)
