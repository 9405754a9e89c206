"""Networks from the user's code (model.energy.target, model.generator.target): built from an importable module
with kwargs, checked on a probe batch with errors that name the key, and trained, checkpointed and resumed like the
built-in networks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from ebipla.config import load_config
from ebipla.config.schema import EnergyConfig, GeneratorConfig, ModelConfig
from ebipla.errors import ConfigError
from ebipla.models import EnergyMLP, build_model
from ebipla.models.custom import AutogradEnergy
from ebipla.run import load_run
from ebipla.trainer import train

REPO = Path(__file__).resolve().parents[1]
USER_MODULE = textwrap.dedent('''
    import torch
    from torch import nn


    class Mlp(nn.Module):  # the built-in EnergyMLP's layout: hidden Linear + SiLU layers, then Linear(., 1)
        def __init__(self, latent_dim, width=16):
            super().__init__()
            self.hidden = nn.ModuleList([nn.Linear(latent_dim, width), nn.Linear(width, width)])
            self.out = nn.Linear(width, 1)

        def forward(self, x):
            for layer in self.hidden:
                x = nn.functional.silu(layer(x))
            return self.out(x)  # (B, 1)


    class TwoLayerGenerator(nn.Module):
        def __init__(self, latent_dim, obs_shape, hidden=8):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, obs_shape[0]))

        def forward(self, x):
            return self.net(x)


    def make_generator(**kwargs):  # a factory taking **kwargs: offered latent_dim and obs_shape too
        return TwoLayerGenerator(**kwargs)


    class WrongShape(nn.Module):
        def __init__(self, latent_dim):
            super().__init__()
            self.linear = nn.Linear(latent_dim, 5)

        def forward(self, x):
            return self.linear(x)


    class Raises(nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


    class NotFinite(nn.Module):
        def forward(self, x):
            return x.sum(-1) / 0.0


    def not_a_module():
        return 3
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``user_nets`` in a temporary folder, importable as a user's own code would be."""
    (tmp_path / "user_nets.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_custom_energy_equals_the_built_in_mlp_with_the_same_weights(user_module):
    torch.manual_seed(0)
    for prior_sigma in (None, 1.5):
        custom = build_model(ModelConfig(energy=EnergyConfig(target="user_nets:Mlp", kwargs={"width": 16},
                                                             prior_sigma=prior_sigma)), (2,)).energy
        assert isinstance(custom, AutogradEnergy)
        builtin = EnergyMLP(2, EnergyConfig(hidden=(16, 16), prior_sigma=prior_sigma))
        builtin.load_state_dict({k.removeprefix("net."): v for k, v in custom.state_dict().items()})
        x = torch.randn(4, 3, 2)  # (B, N, d_x): any leading shape
        torch.testing.assert_close(custom(x), builtin(x))
        g = custom.grad_x_fn()(x)
        assert g.shape == x.shape and not g.requires_grad
        torch.testing.assert_close(g, builtin.grad_x(x), rtol=1e-5, atol=1e-6)
        assert custom.expected_grad_alpha() is None


def test_custom_generator_gets_latent_dim_obs_shape_and_kwargs(user_module):
    for target in ("user_nets:TwoLayerGenerator", "user_nets:make_generator"):
        model = build_model(ModelConfig(latent_dim=3, generator=GeneratorConfig(target=target, kwargs={"hidden": 5})),
                            (7,))
        assert model.generator.net[0].out_features == 5 and model.generator.net[0].in_features == 3
        assert model.decode(torch.randn(4, 2, 3)).shape == (4, 2, 7)


@pytest.mark.parametrize(("section", "target", "kwargs", "message"), [
    ("generator", "user_nets.TwoLayerGenerator", {}, "must look like 'package.module:Name'"),
    ("generator", "no_such_package.nets:G", {}, "module 'no_such_package.nets' cannot be imported"),
    ("generator", "user_nets:Missing", {}, "has no attribute 'Missing'"),
    ("generator", "user_nets:TwoLayerGenerator", {"width": 3}, "cannot be called with"),
    ("generator", "user_nets:WrongShape", {}, "maps latents of shape (3, 2) to shape (3, 5); ebipla needs"),
    ("energy", "user_nets:WrongShape", {}, "to shape (3, 5); ebipla needs energies of shape (3,)"),
    ("energy", "user_nets:Raises", {}, "raised RuntimeError on latents of shape (3, 2)"),
    ("energy", "user_nets:NotFinite", {}, "non-finite values"),
    ("energy", "user_nets:not_a_module", {}, "returned a int, not a torch.nn.Module"),
])
def test_bad_custom_network_is_one_message_naming_the_key(user_module, section, target, kwargs, message):
    sections = {section: {"target": target, "kwargs": kwargs}}
    cfg = load_config(overrides=[f"model.{section}={sections[section]}"])
    with pytest.raises(ConfigError) as err:
        build_model(cfg.model, (4,))
    assert f"model.{section}.target" in str(err.value) and message in str(err.value), str(err.value)


def test_kwargs_must_be_a_mapping_of_keyword_names(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  generator: {target: 'a:B', kwargs: [1, 2]}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: key 'model.generator.kwargs' must be a mapping"):
        load_config([bad])
    bad.write_text("model:\n  energy: {target: 'a:B', kwargs: {'not a name': 1}}\n")
    with pytest.raises(ConfigError, match=r"key 'model.energy.kwargs' must have keyword names"):
        load_config([bad])
    cfg = load_config(overrides=["model.energy.kwargs={width: 8, sizes: [1, 2], nested: {a: 1}}"])
    assert cfg.model.energy.kwargs == {"width": 8, "sizes": [1, 2], "nested": {"a": 1}}


def test_custom_networks_train_resume_bitwise_and_evaluate_from_the_checkpoint(user_module, tmp_path):
    overrides = ["model.energy.target=user_nets:Mlp", "model.energy.kwargs={width: 16}",
                 "model.generator.target=user_nets:TwoLayerGenerator", "data.n_points=400", "train.batch_size=100",
                 "train.n_epochs=2", "algorithm.n_particles=2", "algorithm.n_prior_steps=5",
                 "train.checkpoint_every=4"]
    cfg = load_config([REPO / "config/synthetic/paper/swissroll_ebipla_n4.yaml"], overrides)
    train(cfg, tmp_path / "whole", device=torch.device("cpu"))
    train(cfg, tmp_path / "resumed", device=torch.device("cpu"), until_iteration=4)
    train(cfg, tmp_path / "resumed", device=torch.device("cpu"))
    whole, resumed = load_run(tmp_path / "whole"), load_run(tmp_path / "resumed")
    assert whole.payload["iteration"] == resumed.payload["iteration"] == 8
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert isinstance(whole.model.energy, AutogradEnergy)
    assert whole.cfg.model.generator.target == "user_nets:TwoLayerGenerator"
