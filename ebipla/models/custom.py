"""Networks from the user's code: ``model.energy.target`` and ``model.generator.target`` (docs/own-data.md).

A target is ``"package.module:Name"``: an importable ``torch.nn.Module`` class, or any callable returning one,
called with the config's ``kwargs`` plus, when its signature names them (or takes ``**kwargs``), ``latent_dim``
(both networks) and ``obs_shape`` (the generator). The module must be importable where training and evaluation
run (installed, or on ``PYTHONPATH``).

Every custom network is checked once when the model is built, on a probe batch of latents (3, d_x): the generator
must return (3, *obs_shape) and the energy (3,) (or (3, 1)), both finite. A failed import, a missing or unexpected
keyword argument, an exception inside the network or a wrong shape raises one :class:`~ebipla.errors.ConfigError`
that names the config key and what was found.

A custom energy is wrapped in :class:`AutogradEnergy`, which gives it the interface the algorithms use
(``grad_x_fn`` for the Langevin chains, ``expected_grad_alpha``): its latent gradient nabla_x U comes from autograd,
where the built-in MLP's comes from a hand-written backward pass (``ebipla bench --chain-variants`` measures the
difference).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..config.schema import EnergyConfig, GeneratorConfig
from ..errors import ConfigError

PROBE_BATCH = 3  # an odd batch: a network that broadcasts or reshapes by mistake shows it


def import_target(target: str, key: str) -> Callable[..., Any]:
    """The callable named by ``"package.module:Name"`` (``Name`` may be dotted, e.g. ``Outer.Inner``)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{key} must look like 'package.module:Name' (the module, a colon, the class or factory); "
                          f"got {target!r}.")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # ModuleNotFoundError, or the module's own code failing on import
        raise ConfigError(f"{key} = {target!r}: module {module_name!r} cannot be imported ({type(exc).__name__}: "
                          f"{exc}). Install it, or put its folder on PYTHONPATH where ebipla runs.") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{key} = {target!r}: {module_name!r} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{key} = {target!r} is a {type(obj).__name__}, not a class or factory.")
    return obj


def build_custom(target: str, kwargs: dict[str, Any], key: str, **offered: Any) -> nn.Module:
    """Call the target with ``kwargs`` and those ``offered`` arguments (latent_dim, obs_shape) that its signature
    accepts; the result must be an ``nn.Module``."""
    factory = import_target(target, key)
    call_kwargs = dict(kwargs)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature: offer nothing
        params = {}
    if inspect.isclass(factory) and factory.__init__ is nn.Module.__init__:
        params = {}  # no __init__ of its own: nn.Module's (*args, **kwargs) accepts no keyword arguments
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name, value in offered.items():
        if name not in call_kwargs and (name in params or takes_any):
            call_kwargs[name] = value
    try:
        module = factory(**call_kwargs)
    except TypeError as exc:  # a missing or unexpected keyword argument
        raise ConfigError(f"{key} = {target!r} cannot be called with {sorted(call_kwargs)} ({exc}). Set its "
                          f"arguments under {key.rsplit('.', 1)[0]}.kwargs.") from None
    except Exception as exc:
        raise ConfigError(f"{key} = {target!r} raised {type(exc).__name__} when built: {exc}") from None
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{key} = {target!r} returned a {type(module).__name__}, not a torch.nn.Module.")
    return module


def probe_latents(d_x: int) -> torch.Tensor:
    """A fixed probe batch (PROBE_BATCH, d_x) of distinct latents in [-1, 1]; draws no random numbers."""
    return torch.linspace(-1.0, 1.0, PROBE_BATCH * d_x).reshape(PROBE_BATCH, d_x)


def probed(net: nn.Module, d_x: int, expected: tuple[int, ...], key: str, target: str, what: str) -> torch.Tensor:
    """``net``'s output for :func:`probe_latents`, checked: a finite tensor of shape ``expected`` (an energy's
    (B, 1) is read as (B,))."""
    try:
        with torch.no_grad():
            out = net(probe_latents(d_x))
    except Exception as exc:
        raise ConfigError(f"{key} = {target!r} raised {type(exc).__name__} on latents of shape ({PROBE_BATCH}, "
                          f"{d_x}) (model.latent_dim = {d_x}): {exc}") from None
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"{key} = {target!r} returned a {type(out).__name__} for latents of shape "
                          f"({PROBE_BATCH}, {d_x}); it must return a tensor of {what} {expected}.")
    if expected == (PROBE_BATCH,) and tuple(out.shape) == (PROBE_BATCH, 1):
        out = out[:, 0]
    if tuple(out.shape) != expected:
        raise ConfigError(f"{key} = {target!r} maps latents of shape ({PROBE_BATCH}, {d_x}) to shape "
                          f"{tuple(out.shape)}; ebipla needs {what} {expected}.")
    if not torch.isfinite(out).all():
        raise ConfigError(f"{key} = {target!r} returns non-finite values for the probe latents in [-1, 1].")
    return out


def custom_energy(cfg: EnergyConfig, d_x: int) -> AutogradEnergy:
    """The energy named by ``model.energy.target``, checked on the probe batch and wrapped for the chains."""
    key = "model.energy.target"
    net = build_custom(cfg.target, cfg.kwargs, key, latent_dim=d_x)
    probed(net, d_x, (PROBE_BATCH,), key, cfg.target, "energies of shape")
    return AutogradEnergy(net, d_x, cfg.prior_sigma)


def custom_generator(cfg: GeneratorConfig, d_x: int, obs_shape: tuple[int, ...]) -> nn.Module:
    """The generator named by ``model.generator.target``, checked on the probe batch against the data's shape."""
    key = "model.generator.target"
    net = build_custom(cfg.target, cfg.kwargs, key, latent_dim=d_x, obs_shape=tuple(obs_shape))
    probed(net, d_x, (PROBE_BATCH, *obs_shape), key, cfg.target, "observations of the data's shape")
    return net


class AutogradEnergy(nn.Module):
    """U_alpha(x) = net(x) [+ |x|^2 / (2 sigma_p^2)] for a user's network ``net``: (B, d_x) -> (B,) or (B, 1).

    Gives a custom energy the interface of the built-in ones: ``forward`` on latents (..., d_x) -> (...), and the
    latent gradient ``grad_x_fn`` by autograd (only x is differentiated; no gradient reaches alpha)."""

    def __init__(self, net: nn.Module, d_x: int, prior_sigma: float | None = None):
        super().__init__()
        self.net = net
        self.d_x = d_x
        self.prior_sigma = prior_sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.net(x.reshape(-1, self.d_x)).reshape(x.shape[:-1])  # (n,) or (n, 1) -> (...)
        if self.prior_sigma is not None:
            u = u + x.square().sum(-1) / (2.0 * self.prior_sigma**2)
        return u

    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        """nabla_x U_alpha(x) per point, by autograd. (..., d_x) -> (..., d_x)."""
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(xg).sum(), xg)
        return grad

    def grad_x_fn(self, dtype: torch.dtype | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """x -> nabla_x U_alpha(x). ``dtype`` (bfloat16) runs the network under autocast in that dtype; the
        gradient comes back in x's dtype."""
        if dtype is None:
            return self.grad_x

        def grad(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(x.device.type, dtype=dtype):
                return self.grad_x(x).to(x.dtype)

        return grad

    def expected_grad_alpha(self) -> None:
        """No closed form for a user's network: Algorithm 1 falls back to ULA."""
        return None
