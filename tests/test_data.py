from __future__ import annotations

import numpy as np
import pytest
import torch

from ebipla.config.schema import DataConfig, MoonsConfig, SwissRollConfig
from ebipla.data import make_synthetic
from ebipla.data.synthetic import invert_arclength, rotation, swissroll, swissroll_arclength


@pytest.mark.parametrize("name", ["swissroll", "moons", "circle"])
def test_deterministic_per_seed_and_held_out_differs(name):
    cfg = DataConfig(name=name)
    a, b = make_synthetic(cfg), make_synthetic(cfg)
    assert a.y.shape == (10_000, 2) and a.x_lat.shape == (10_000, 2)
    assert a.y.dtype == torch.float32
    assert torch.equal(a.y, b.y)
    held_out = make_synthetic(cfg, "eval")
    assert not torch.equal(a.y, held_out.y)
    assert make_synthetic(cfg, "eval", 500).y.shape == (500, 2)


def test_rotation_is_orthonormal_and_moons_use_pi_over_3():
    t = rotation(60.0)
    np.testing.assert_allclose(t @ t.T, np.eye(2), atol=1e-15)
    np.testing.assert_allclose(t, [[0.5, -np.sqrt(3) / 2], [np.sqrt(3) / 2, 0.5]], atol=1e-15)
    data = make_synthetic(DataConfig(name="moons"))
    np.testing.assert_allclose(data.y.numpy(), data.x_lat.numpy() @ t.T.astype(np.float32), atol=1e-5)


def test_swissroll_is_uniform_in_arc_length():
    t = np.linspace(1.0, 15.0, 50)
    np.testing.assert_allclose(invert_arclength(swissroll_arclength(t)), t, rtol=1e-12)
    cfg = SwissRollConfig(noise_std=0.0)
    x, y = swissroll(cfg, 50_000, np.random.default_rng(0))
    t_hat = np.hypot(x[:, 0], x[:, 1]) / cfg.scale  # |(t cos t, t sin t)| = t without noise
    assert t_hat.min() >= 1.5 * np.pi - 1e-9 and t_hat.max() <= 4.5 * np.pi + 1e-9
    s = swissroll_arclength(t_hat)
    u = (s - swissroll_arclength(1.5 * np.pi)) / (swissroll_arclength(4.5 * np.pi) - swissroll_arclength(1.5 * np.pi))
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    np.testing.assert_allclose(counts / len(u), 0.1, atol=0.006)  # uniform in arc length, not in t
    counts_t, _ = np.histogram(t_hat, bins=2, range=(1.5 * np.pi, 4.5 * np.pi))
    assert counts_t[1] > 1.5 * counts_t[0]  # so the outer half of the t range holds more points
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)


def test_circle_radius_and_ambient_scale():
    data = make_synthetic(DataConfig(name="circle"))
    radius = data.y.norm(dim=1)
    assert abs(radius.mean().item() - 3.0) < 0.01  # r = 1, T(x) = 3x
    assert abs((data.x_lat.norm(dim=1) - 1).std().item() - 0.05) < 0.005  # noise sigma = 0.05
    torch.testing.assert_close(data.y, 3 * data.x_lat)


def test_noise_levels():
    moons = make_synthetic(DataConfig(name="moons", moons=MoonsConfig(noise_std=0.0, angle_deg=0.0)))
    noisy = make_synthetic(DataConfig(name="moons"))
    assert moons.x_lat.std(0).min() > 0.4
    # make_moons without noise puts points on two half circles of radius 1.
    off_outer = ((moons.x_lat - torch.tensor([0.0, 0.0])).norm(dim=1) - 1).abs()
    off_inner = ((moons.x_lat - torch.tensor([1.0, 0.5])).norm(dim=1) - 1).abs()
    assert torch.minimum(off_outer, off_inner).max() < 1e-5
    assert not torch.equal(noisy.x_lat, moons.x_lat)
