from __future__ import annotations

import pytest
import torch

from ebipla.config.schema import EnergyConfig, GeneratorConfig, ModelConfig
from ebipla.models import EnergyMLP, GaussianEnergy, build_model


def autograd_grad(energy, x):
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(energy(xg).sum(), xg)
    return g


@pytest.mark.parametrize("activation", ["silu", "relu", "gelu", "leaky_relu"])
@pytest.mark.parametrize("prior_sigma", [None, 1.5])
def test_hand_written_latent_gradient_matches_autograd(activation, prior_sigma):
    torch.manual_seed(0)
    energy = EnergyMLP(5, EnergyConfig(hidden=(32, 16, 8), activation=activation, prior_sigma=prior_sigma))
    x = torch.randn(3, 7, 5)  # (B, N, d_x): any leading shape
    g = energy.grad_x(x)
    assert g.shape == x.shape
    torch.testing.assert_close(g, autograd_grad(energy, x), rtol=1e-5, atol=1e-6)


def test_latent_gradient_records_no_graph():
    energy = EnergyMLP(2, EnergyConfig())
    x = torch.randn(10, 2, requires_grad=True)
    g = energy.grad_x(x)
    assert g.grad_fn is None and not g.requires_grad


def test_tilt_adds_gaussian_reference():
    torch.manual_seed(0)
    plain = EnergyMLP(3, EnergyConfig(hidden=(8,)))
    tilted = EnergyMLP(3, EnergyConfig(hidden=(8,), prior_sigma=2.0))
    tilted.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3)
    torch.testing.assert_close(tilted(x) - plain(x), x.square().sum(-1) / 8.0)


def test_gaussian_energy_and_exact_expectation():
    energy = GaussianEnergy(3)
    with torch.no_grad():
        energy.alpha.copy_(torch.tensor([1.0, -2.0, 0.5]))
    x = torch.randn(6, 3)
    torch.testing.assert_close(energy(x), 0.5 * (x - energy.alpha).square().sum(-1))
    torch.testing.assert_close(energy.grad_x(x), autograd_grad(energy, x))
    # E_{x ~ N(alpha, I)}[grad_alpha U] = E[alpha - x] = 0, checked by Monte Carlo.
    samples = energy.alpha.detach() + torch.randn(200_000, 3, generator=torch.Generator().manual_seed(0))
    (mc,) = torch.autograd.grad(energy(samples).mean(), energy.alpha)
    torch.testing.assert_close(mc, energy.expected_grad_alpha()[0], atol=0.01, rtol=0)


def test_decoder_energy_shapes_and_gradient():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, sigma=0.5), (3,))
    x, y = torch.randn(4, 5, 2), torch.randn(4, 3)  # (B, N, d_x), (B, d_y)
    v = model.V(x, y)
    assert v.shape == (4, 5)
    w, b = model.generator.linear.weight, model.generator.linear.bias
    residual = y[:, None, :] - (x @ w.T + b)
    torch.testing.assert_close(v, residual.square().sum(-1) / (2 * 0.25))
    # nabla_x V = -(y - W x - b) W / sigma^2, and beta gets no graph from it.
    grad = model.grad_x_V(x, y)
    torch.testing.assert_close(grad, -(residual @ w) / 0.25)
    assert grad.grad_fn is None
    assert model.V(x[:, 0], y).shape == (4,)  # one latent per data point (LEBM)


def test_identity_generator_has_no_parameters():
    model = build_model(ModelConfig(latent_dim=3, energy=EnergyConfig(kind="gaussian"),
                                    generator=GeneratorConfig(kind="identity")), (3,))
    assert list(model.generator.parameters()) == []
    x = torch.randn(2, 3)
    torch.testing.assert_close(model.decode(x), x)
    with pytest.raises(ValueError):
        build_model(ModelConfig(latent_dim=3, generator=GeneratorConfig(kind="identity")), (2,))


def test_frozen_decoder_has_no_graph_to_beta():
    model = build_model(ModelConfig(latent_dim=2, sigma=0.5), (3,))
    x = torch.randn(4, 2, requires_grad=True)
    frozen = model.V(x, torch.randn(4, 3), frozen=True).sum()
    grads = torch.autograd.grad(frozen, [x, *model.generator.parameters()], allow_unused=True)
    assert grads[0] is not None and all(g is None for g in grads[1:])
    live = model.V(x, torch.randn(4, 3)).sum()
    assert all(g is not None for g in torch.autograd.grad(live, list(model.generator.parameters())))
