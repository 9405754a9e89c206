from __future__ import annotations

import torch

from ebipla.config import load_config
from ebipla.evaluate import draw_samples, energy_landscape, landscape_bounds
from ebipla.run import new_model
from ebipla.sampling import decode_samples, sample_latents


def model_and_cfg():
    cfg = load_config([], ["algorithm.n_prior_steps=30", "model.energy.hidden=[32,32]", "eval.n_samples=40"])
    return new_model(cfg, (2,), torch.device("cpu")), cfg


def test_samples_do_not_depend_on_the_batch_size():
    model, _ = model_and_cfg()
    a = sample_latents(model, 40, 30, 0.05, seed=3, batch_size=40)
    b = sample_latents(model, 40, 30, 0.05, seed=3, batch_size=7)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    first = sample_latents(model, 10, 30, 0.05, seed=3, batch_size=4)
    torch.testing.assert_close(first, a[:10], rtol=1e-5, atol=1e-6)  # sample k is sample k in any set
    ya = decode_samples(model, a, seed=3, decoder_noise=True, batch_size=40)
    yb = decode_samples(model, b, seed=3, decoder_noise=True, batch_size=9)
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ya, decode_samples(model, a, seed=3, decoder_noise=False))
    assert not torch.allclose(a, sample_latents(model, 40, 30, 0.05, seed=4))


def test_draw_samples_uses_the_eval_settings():
    model, cfg = model_and_cfg()
    x, y = draw_samples(model, cfg)
    assert x.shape == (40, 2) and y.shape == (40, 2)
    residual = (y - model.decode(x)) / cfg.model.sigma
    assert 0.5 < residual.std().item() < 1.5


def test_landscape_is_a_normalised_density_of_exp_minus_u():
    model, _ = model_and_cfg()
    latents = torch.randn(100, 2)
    bounds = landscape_bounds(latents, 0.1)
    span = latents.max(0).values - latents.min(0).values
    torch.testing.assert_close(torch.tensor(bounds[:, 1] - bounds[:, 0]), (1.2 * span).double())
    land = energy_landscape(model, bounds, 30)
    cell = (land["x0"][1] - land["x0"][0]) * (land["x1"][1] - land["x1"][0])
    assert abs(land["density"].sum() * cell - 1) < 1e-9
    # Ratios of the density are ratios of exp(-U): compare two grid points.
    u = model.energy(torch.tensor([[land["x0"][3], land["x1"][5]], [land["x0"][20], land["x1"][11]]]).float())
    ratio = land["density"][5, 3] / land["density"][11, 20]  # rows follow x1, columns x0
    assert abs(ratio - torch.exp(u[1] - u[0]).item()) < 1e-4 * ratio
