"""The latent EBM p_theta(x, y) = p_alpha(x) p_beta(y | x) with a Gaussian decoder (paper.md section 1).

Shapes: latents x are (B, N, d_x) (N particles per data point) or (B, d_x); observations y are (B, *obs_shape).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..config.schema import AlgorithmConfig, ModelConfig
from .encoder import build_encoder
from .energy import build_energy
from .fixed_priors import GaussianMixturePrior, StandardNormalPrior
from .generator import build_generator

STANDARD_NORMAL_PRIOR = ("vae", "abp", "pgd")  # algorithms whose prior is N(0, I); rae's is a Gaussian mixture
ENCODER_OUTPUTS = {"vae": 2, "rae": 1}  # algorithms with an encoder -> its outputs per latent dimension


class LatentEBM(nn.Module):
    """Holds U_alpha (``energy``), g_beta (``generator``) and the decoder noise sigma.

    For the baselines ``energy`` is a fixed prior (:mod:`.fixed_priors`) and ``encoder`` maps observations to
    latents (vae, rae); the other methods have no encoder (None)."""

    def __init__(self, energy: nn.Module, generator: nn.Module, sigma: float, d_x: int, obs_shape: tuple[int, ...],
                 encoder: nn.Module | None = None):
        super().__init__()
        self.energy = energy
        self.generator = generator
        self.encoder = encoder
        self.sigma = sigma
        self.d_x = d_x
        self.obs_shape: tuple[int, ...] = tuple(obs_shape)
        # Lower precision for the generator's passes and the chains' latent gradients (train.precision), set by
        # the algorithms' init_state; None (float32) otherwise: evaluation loads a fresh model, so it is float32.
        self.compute_dtype: torch.dtype | None = None

    def decode(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """g_beta(x) for latents (..., d_x) -> (..., *obs_shape); ``frozen`` records no graph through beta.

        With ``compute_dtype`` set, the generator runs under autocast in that dtype and its output comes back
        in x's dtype (the residuals and losses are formed in float32)."""
        flat = x.reshape(-1, self.d_x)
        with torch.autocast(x.device.type, dtype=self.compute_dtype or torch.bfloat16,
                            enabled=self.compute_dtype is not None):
            if frozen:
                params = {k: v.detach() for k, v in self.generator.named_parameters()}
                out = functional_call(self.generator, params, (flat,))
            else:
                out = self.generator(flat)
        return out.to(x.dtype).reshape(*x.shape[:-1], *self.obs_shape)

    def encode_mean(self, y: torch.Tensor) -> torch.Tensor:
        """The encoder's latent for observations y (B, *obs_shape) -> (B, d_x): the VAE's posterior mean mu(y) (the
        first d_x outputs), the RAE's code. Only for models with an encoder."""
        if self.encoder is None:
            raise ValueError("this model has no encoder (only the vae and rae baselines have one)")
        return self.encoder(y)[:, :self.d_x]

    def V(self, x: torch.Tensor, y: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """V_beta(x, y) = |y - g_beta(x)|^2 / (2 sigma^2), summed over observation dims. -> x.shape[:-1]."""
        lead = x.shape[:-1]
        y = y.reshape(y.shape[0], *([1] * (len(lead) - 1)), *self.obs_shape)  # broadcast over particles
        residual = y - self.decode(x, frozen)  # (*lead, *obs_shape), in the generator's memory order
        obs_dims = tuple(range(len(lead), residual.dim()))
        return residual.square().sum(obs_dims) / (2.0 * self.sigma**2)

    def grad_x_V(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """nabla_x V_beta(x, y) with autograd through g_beta only (beta held fixed)."""
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.V(xg, y, frozen=True).sum(), xg)
        return grad

    def grad_x_posterior(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """nabla_x phi_y = nabla_x U_alpha(x) + nabla_x V_beta(x, y) (eq. 29)."""
        return self.grad_x_posterior_fn(y)(x)

    def grad_x_posterior_fn(self, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """x -> nabla_x phi_y(x) for fixed parameters and y: the energy's part is set up once for a whole chain."""
        grad_u = self.energy.grad_x_fn(self.compute_dtype)
        return lambda x: grad_u(x) + self.grad_x_V(x, y)


def build_model(cfg: ModelConfig, obs_shape: tuple[int, ...], algorithm: AlgorithmConfig | None = None) -> LatentEBM:
    """The model ``algorithm`` trains (None: a learned energy prior, no encoder)."""
    name, d_x = (algorithm.name if algorithm is not None else "ebipla"), cfg.latent_dim
    if name in STANDARD_NORMAL_PRIOR:
        energy: nn.Module = StandardNormalPrior(d_x)
    elif name == "rae":
        energy = GaussianMixturePrior(d_x, algorithm.n_components)
    else:
        energy = build_energy(d_x, cfg.energy)
    generator = build_generator(d_x, obs_shape, cfg.generator)
    encoder = (build_encoder(obs_shape, ENCODER_OUTPUTS[name] * d_x, cfg.encoder, cfg.generator)
               if name in ENCODER_OUTPUTS else None)
    return LatentEBM(energy, generator, cfg.sigma, d_x, obs_shape, encoder)
