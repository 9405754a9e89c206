"""Unbiased MMD^2 with a Gaussian kernel (Gretton et al. 2012, Lemma 6).

    MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j)

with k(a, b) = exp(-|a - b|^2 / (2 s^2)). The bandwidth s is the median heuristic by default: the median of the
pairwise distances |z_i - z_j| (i < j) of the pooled sample, computed exactly up to ``median_max_points`` pooled
points and otherwise on a seeded subsample of that many. Kernel sums are accumulated in float64 over blocks of
``chunk`` x ``chunk`` pairs, so 10k x 10k samples need a few MB. The estimate can be slightly negative.
"""

from __future__ import annotations

import numpy as np
import torch


def pairwise_sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2 for a (n, d), b (m, d) -> (n, m), float64, clamped at 0."""
    d2 = a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2.0 * a @ b.T
    return d2.clamp_min_(0.0)


def median_bandwidth(x: torch.Tensor, y: torch.Tensor, max_points: int = 4000, seed: int = 0) -> float:
    """Median of the pairwise Euclidean distances (i < j) of the pooled sample (subsampled beyond max_points)."""
    z = torch.cat([x, y]).double()
    if len(z) > max_points:
        gen = torch.Generator().manual_seed(seed)
        z = z[torch.randperm(len(z), generator=gen)[:max_points]]
    return float(np.median(torch.pdist(z).numpy()))  # pdist: the distances of the pairs i < j


def kernel_sum(a: torch.Tensor, b: torch.Tensor, bandwidth: float, chunk: int) -> float:
    """sum_{i,j} exp(-|a_i - b_j|^2 / (2 s^2)) over all pairs, block by block."""
    total = 0.0
    scale = -0.5 / bandwidth**2
    for i in range(0, len(a), chunk):
        for j in range(0, len(b), chunk):
            total += float(torch.exp(pairwise_sq_dists(a[i:i + chunk], b[j:j + chunk]) * scale).sum())
    return total


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None, chunk: int = 2048,
                  median_max_points: int = 4000, seed: int = 0) -> tuple[float, float]:
    """(MMD^2_u, bandwidth) between samples x (m, ...) and y (n, ...), flattened per sample."""
    x = x.detach().reshape(len(x), -1).double().cpu()
    y = y.detach().reshape(len(y), -1).double().cpu()
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("the unbiased MMD needs at least two points in each sample")
    if bandwidth is None:
        bandwidth = median_bandwidth(x, y, median_max_points, seed)
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    k_xx = kernel_sum(x, x, bandwidth, chunk) - m  # drop the diagonal, where k = 1
    k_yy = kernel_sum(y, y, bandwidth, chunk) - n
    k_xy = kernel_sum(x, y, bandwidth, chunk)
    mmd2 = k_xx / (m * (m - 1)) + k_yy / (n * (n - 1)) - 2.0 * k_xy / (m * n)
    return mmd2, bandwidth
