"""Priors that are not learned by gradient: the baselines' N(0, I) and RAE's ex-post Gaussian mixture.

They stand where a learned energy U_alpha stands in :class:`~ebipla.models.LatentEBM`, with the same interface
(``forward`` (..., d_x) -> (...), ``grad_x``, ``grad_x_fn``), so that posterior Langevin steps, the MAP
reconstructions of the MSE and the energy landscape treat every method alike. Neither has parameters (the mixture
keeps buffers), so no optimiser touches them.

Sampling is exact: ``sample(z, u)`` maps standard normals z (n, d_x) and u (n,) to prior draws, so that a sample's
draw comes from its own seeded stream as every other sampler's does (:func:`ebipla.sampling.sample_latents`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn


class StandardNormalPrior(nn.Module):
    """U(x) = |x|^2 / 2, p(x) = N(0, I) (the prior of VAE, ABP and PGD)."""

    exact_sampler = True

    def __init__(self, d_x: int):
        super().__init__()
        self.d_x = d_x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.square().sum(-1)

    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def grad_x_fn(self, dtype: torch.dtype | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        return self.grad_x

    def sample(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """x = z; ``u`` is not needed. (n, d_x), (n,) -> (n, d_x)."""
        return z


class GaussianMixturePrior(nn.Module):
    """p(x) = sum_k pi_k N(x; mu_k, Sigma_k), U(x) = -log p(x): RAE's ex-post density (Ghosh et al. 2020, sec. 4).

    Holds K components as buffers: weights (K,), means (K, d_x), the Cholesky factors L_k of Sigma_k (K, d_x, d_x)
    and of the precisions P_k = Sigma_k^{-1} (K, d_x, d_x). Until :meth:`fit` runs it is N(0, I) repeated K times.
    """

    exact_sampler = True

    def __init__(self, d_x: int, n_components: int):
        super().__init__()
        self.d_x = d_x
        eye = torch.eye(d_x).expand(n_components, d_x, d_x).clone()
        self.register_buffer("weights", torch.full((n_components,), 1.0 / n_components))
        self.register_buffer("means", torch.zeros(n_components, d_x))
        self.register_buffer("chol", eye.clone())  # Sigma_k = L_k L_k^T
        self.register_buffer("prec_chol", eye.clone())  # P_k = R_k R_k^T (scikit-learn's precisions_cholesky_)

    def fit(self, latents: torch.Tensor, seed: int) -> None:
        """Fit the mixture to latents (M, d_x) with scikit-learn (full covariances, k-means start, ``seed``)."""
        from sklearn.mixture import GaussianMixture

        k = self.weights.shape[0]
        x = latents.detach().double().cpu().numpy()
        gm = GaussianMixture(n_components=min(k, len(x)), covariance_type="full", reg_covar=1e-6,
                             random_state=seed % 2**32).fit(x)
        fitted = {"weights": gm.weights_, "means": gm.means_, "chol": np.linalg.cholesky(gm.covariances_),
                  "prec_chol": gm.precisions_cholesky_}
        for name, value in fitted.items():
            buf: torch.Tensor = getattr(self, name)
            value = torch.as_tensor(value, dtype=buf.dtype)
            buf.zero_()  # components beyond the points' count (tiny data) keep weight 0
            buf[:len(value)] = value

    def _log_components(self, x: torch.Tensor) -> torch.Tensor:
        """log pi_k + log N(x; mu_k, Sigma_k): (..., d_x) -> (..., K)."""
        diff = x[..., None, :] - self.means  # (..., K, d_x)
        white = torch.einsum("...ki,kij->...kj", diff, self.prec_chol)  # R_k^T (x - mu_k)
        log_det_prec = torch.diagonal(self.prec_chol, dim1=-2, dim2=-1).log().sum(-1)  # (K,) half log|P_k|
        return (self.weights.log() + log_det_prec - 0.5 * white.square().sum(-1)
                - 0.5 * self.d_x * math.log(2 * math.pi))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.logsumexp(self._log_components(x), dim=-1)

    def grad_x(self, x: torch.Tensor) -> torch.Tensor:
        """nabla_x U = sum_k r_k(x) P_k (x - mu_k), r the responsibilities."""
        resp = torch.softmax(self._log_components(x), dim=-1)  # (..., K)
        prec = self.prec_chol @ self.prec_chol.transpose(-1, -2)  # (K, d_x, d_x)
        diff = x[..., None, :] - self.means
        return torch.einsum("...k,...ki,kij->...j", resp, diff, prec)

    def grad_x_fn(self, dtype: torch.dtype | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        return self.grad_x

    def sample(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Component k = the first with cumulative weight above Phi(u), then x = mu_k + L_k z. -> (n, d_x)."""
        uniform = 0.5 * (1.0 + torch.erf(u / math.sqrt(2.0)))  # (n,) in (0, 1)
        cumulative = self.weights.cumsum(0)
        k = torch.searchsorted(cumulative, uniform[:, None] * cumulative[-1]).squeeze(1).clamp_(max=len(cumulative) - 1)
        return self.means[k] + torch.einsum("nij,nj->ni", self.chol[k], z)
