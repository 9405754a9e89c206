"""The posterior study's model, its grid posterior and its distances (``ebipla study posterior``; issue 16, item 1).

Notation as in the paper: x in R^2 is the latent, y in R^2 the observation, theta = (mu_1, mu_2, log c):

    p_theta(x) = N(x; mu, I),    p_theta(y | x) = N(y; g_c(x), sigma^2 I),    g_c(x) = (x1^2 - x2^2, 2 x1 x2) / c.

g_c is complex squaring, z -> z^2 / c with z = x1 + i x2, so g_c(x) = g_c(-x): every y has the two preimages +-r
with r = sqrt(c y) (complex root), and for sigma small against |r|^2 the posterior p_theta(x | y) has two
antipodal modes near +-r. Their masses differ by about exp(2 <r, mu>), because the prior is not symmetric under
x -> -x (mu != 0); the mode "on the prior's side" is the one at the root with <r, mu> >= 0. The two modes are
separated by the saddle near x = 0, where the likelihood term costs about |c y|^2 / (2 (c sigma)^2) nats: a real
barrier for Langevin dynamics when |r| is large, and none when it is small. phi_y(theta, x) = -log p_theta(x, y)
is neither convex in x nor jointly convex in (theta, x): assumption A1 of Theorem 1 fails.

The marginal of y is unchanged by mu -> -mu (g_c is even), so theta is identifiable only up to that sign:
:func:`theta_distance` takes the smaller of the two distances.

Grid posterior: log p_theta(x, y) at the centres of an n x n grid of cells over [-B, B]^2, normalised by
log-sum-exp (the midpoint rule, whose error is exponentially small in (posterior width / cell width)^2 for smooth
densities). Exact samples: a cell drawn with its mass, then a uniform point in the cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..metrics.mmd import kernel_sum

LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------------------------
# The model: theta = (mu_1, mu_2, log c), a tensor (3,)
# ---------------------------------------------------------------------------------------------------------------

def square_map(x: torch.Tensor) -> torch.Tensor:
    """g_1(x) = (x1^2 - x2^2, 2 x1 x2), complex squaring. (..., 2) -> (..., 2)."""
    x1, x2 = x[..., 0], x[..., 1]
    return torch.stack([x1 * x1 - x2 * x2, 2.0 * x1 * x2], -1)


def log_joint(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, sigma: float) -> torch.Tensor:
    """log p_theta(x, y) = log N(x; mu, I) + log N(y; g_c(x), sigma^2 I), normalised. x (..., 2), y broadcastable
    to x, theta (3,) -> (...). Differentiable in theta (the MMLE's autograd)."""
    mu, log_c = theta[:2], theta[2]
    prior = -0.5 * (x - mu).square().sum(-1) - LOG_2PI
    resid = y - square_map(x) * torch.exp(-log_c)
    lik = -0.5 * resid.square().sum(-1) / sigma**2 - LOG_2PI - 2.0 * math.log(sigma)
    return prior + lik


def grad_x_log_joint(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, sigma: float) -> torch.Tensor:
    """nabla_x log p_theta(x, y) = -(x - mu) + J(x)^T (y - g_c(x)) / sigma^2 (eq. 29 with the sign of a log
    density), J(x) = (2 / c) [[x1, -x2], [x2, x1]] the Jacobian of g_c. In complex numbers z = x1 + i x2, w = y1 + i y2
    this is -(z - mu) + (2 / (c sigma^2)) conj(z) (w - z^2 / c): six operations, the chains' inner loop.
    x (..., 2) float64, y broadcastable to x -> (..., 2)."""
    c = math.exp(float(theta[2]))
    z = torch.view_as_complex(x.contiguous())
    w = torch.view_as_complex(y.expand_as(x).contiguous())
    mu = complex(float(theta[0]), float(theta[1]))
    grad = z.conj() * (w - z * z / c) * (2.0 / (c * sigma**2)) - (z - mu)
    return torch.view_as_real(grad)


def grad_theta_log_joint(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, sigma: float) -> torch.Tensor:
    """nabla_theta log p_theta(x, y) = (x - mu, -<y - u, u> / sigma^2) with u = g_c(x) (Fisher's identity's
    integrand, Appendix A). (..., 2) -> (..., 3)."""
    mu, c = theta[:2], torch.exp(theta[2])
    u = square_map(x) / c
    d_log_c = -((y - u) * u).sum(-1, keepdim=True) / sigma**2
    return torch.cat([x - mu, d_log_c], -1)


def sample_model(n: int, theta: torch.Tensor, sigma: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) ~ p_theta(x, y), n pairs. -> ((n, 2), (n, 2)), float64."""
    z = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    e = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return decode_model(z, e, theta, sigma)


def decode_model(z: torch.Tensor, e: torch.Tensor, theta: torch.Tensor, sigma: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """x = mu + z, y = g_c(x) + sigma e from standard normals z, e (n, 2): the same (z, e) for every theta gives
    common random numbers when models are compared."""
    theta = theta.detach().double()
    x = theta[:2] + z
    return x, square_map(x) * math.exp(-float(theta[2])) + sigma * e


def mode_direction(y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """The root r of g_c(r) = y with <r, mu> >= 0: the posterior mode on the prior's side (for small sigma).
    y (M, 2) -> (M, 2) float64."""
    theta = theta.detach().double()
    w = torch.complex(y[:, 0].double(), y[:, 1].double()) * math.exp(float(theta[2]))
    root = torch.sqrt(w)  # principal square root
    r = torch.stack([root.real, root.imag], -1)
    flip = (r @ theta[:2]) < 0
    return torch.where(flip[:, None], -r, r)


def mode_fraction(x: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Share of the samples x (M, n, 2) in the half plane <x, r_m> > 0 of their point's mode direction (M, 2)
    -> (M,)."""
    return ((x.double() * direction[:, None, :]).sum(-1) > 0).double().mean(1)


def theta_distance(theta: torch.Tensor, ref: torch.Tensor) -> float:
    """min(|theta - ref|, |S theta - ref|) with S: mu -> -mu, the model's one symmetry. (3,), (3,) -> float."""
    theta, ref = theta.detach().double(), ref.detach().double()
    flipped = torch.cat([-theta[:2], theta[2:]])
    return min(float((theta - ref).norm()), float((flipped - ref).norm()))


# ---------------------------------------------------------------------------------------------------------------
# The grid posterior
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """n x n cells over [-half_width, half_width]^2."""

    half_width: float
    n: int

    @property
    def cell(self) -> float:
        return 2.0 * self.half_width / self.n

    def centres(self) -> torch.Tensor:
        """Cell centres, row-major over (x1, x2). -> (n * n, 2) float64."""
        t = torch.linspace(-self.half_width + self.cell / 2, self.half_width - self.cell / 2, self.n,
                           dtype=torch.float64)
        return torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)


def grid_log_masses(log_density: Callable[[torch.Tensor], torch.Tensor], grid: Grid) -> torch.Tensor:
    """log of each cell's posterior mass: log_density(centres (P, 2)) -> (..., P), normalised over the cells by
    log-sum-exp (midpoint rule). -> (..., P)."""
    lp = floored(log_density(grid.centres()))
    return lp - torch.logsumexp(lp, -1, keepdim=True)


def grid_log_marginal(log_density: Callable[[torch.Tensor], torch.Tensor], grid: Grid) -> torch.Tensor:
    """log integral of exp(log_density) over the box, midpoint rule: logsumexp + log(cell area). -> (...)."""
    return torch.logsumexp(floored(log_density(grid.centres())), -1) + 2.0 * math.log(grid.cell)


def grid_sample(log_masses: torch.Tensor, k: int, grid: Grid, gen: torch.Generator) -> torch.Tensor:
    """k exact draws from the grid posterior: a cell by its mass, then a uniform point in it. (P,) -> (k, 2)."""
    idx = torch.multinomial(log_masses.exp(), k, replacement=True, generator=gen)  # (k,)
    jitter = (torch.rand(k, 2, generator=gen, dtype=torch.float64) - 0.5) * grid.cell
    return grid.centres()[idx] + jitter


def grid_moments(log_masses: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (2,) and covariance (2, 2) of the posterior by the midpoint rule over the cells (exact to the rule's
    accuracy; the jittered samples of :func:`grid_sample` have cell^2 / 12 more variance per coordinate)."""
    p = log_masses.exp()
    x = grid.centres()
    mean = p @ x
    d = x - mean
    return mean, (d * p[:, None]).T @ d


def edge_mass(log_masses: torch.Tensor, grid: Grid, band: int) -> torch.Tensor:
    """Posterior mass in the outer ``band`` cells on each side of the box. (..., P) -> (...)."""
    p = log_masses.exp().reshape(*log_masses.shape[:-1], grid.n, grid.n)
    inner = p[..., band:grid.n - band, band:grid.n - band].sum((-1, -2))
    return p.sum((-1, -2)) - inner


def squaring_log_density(y: torch.Tensor, theta: torch.Tensor, sigma: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """cells (P, 2) -> log p_theta(cells, y_m) (M, P) for observations y (M, 2): :func:`log_joint`, expanded as

        <y_m, g_c(x_j)> / sigma^2 + b_j + a_m,   b_j = -|g_c(x_j)|^2 / (2 sigma^2) - |x_j - mu|^2 / 2,
        a_m = -|y_m|^2 / (2 sigma^2) - 2 log(2 pi) - 2 log sigma,

    so that the (M, P) array costs one matrix product. Differentiable in theta."""
    def log_density(cells: torch.Tensor) -> torch.Tensor:
        u = square_map(cells) * torch.exp(-theta[2])  # (P, 2): g_c at the cells
        b = -0.5 * u.square().sum(-1) / sigma**2 - 0.5 * (cells - theta[:2]).square().sum(-1)  # (P,)
        a = -0.5 * y.double().square().sum(-1) / sigma**2 - 2.0 * LOG_2PI - 2.0 * math.log(sigma)  # (M,)
        return (y.double() @ u.T) / sigma**2 + b + a[:, None]
    return log_density


def floored(log_values: torch.Tensor) -> torch.Tensor:
    """log values clamped below at their maximum over the last axis minus 680: exp() of numbers under float64's
    underflow threshold (-708) is 15x slower on x86 CPUs (subnormals), and what is clamped weighs < e^-680 (the
    margin keeps exp(lp - logsumexp) above the threshold for grids of up to e^20 cells)."""
    return log_values.clamp_min(log_values.detach().amax(-1, keepdim=True) - 680.0)


def log_likelihood(y: torch.Tensor, theta: torch.Tensor, sigma: float, grid: Grid, chunk: int = 256) -> torch.Tensor:
    """l_M(theta) = (1/M) sum_m log p_theta(y_m) on the grid (eq. 3), differentiable in theta (autograd); chunks of
    ``chunk`` data points keep the (chunk, P) arrays small. -> scalar."""
    total = 0.0
    for i in range(0, len(y), chunk):
        total = total + grid_log_marginal(squaring_log_density(y[i:i + chunk], theta, sigma), grid).sum()
    return total / len(y)


def likelihood_and_gradient(y: torch.Tensor, theta: torch.Tensor, sigma: float, grid: Grid, chunk: int = 256
                            ) -> tuple[float, torch.Tensor]:
    """(l_M(theta), nabla_theta l_M(theta)) on the grid, the gradient by Fisher's identity with the grid's exact
    posterior expectations (Appendix A): (1/M) sum_m E_{p_theta(x | y_m)}[nabla_theta log p_theta(x, y_m)], whose
    expectations are products of the posterior weights (M, P) with the cells' (x, g_c, |g_c|^2). Equal to the
    autograd gradient of :func:`log_likelihood`, without its backward pass. -> (float, (3,))."""
    theta = theta.detach().double()
    cells = grid.centres()
    u = square_map(cells) * math.exp(-float(theta[2]))  # (P, 2)
    features = torch.cat([cells, u, u.square().sum(-1, keepdim=True)], -1)  # (P, 5): x, u, |u|^2
    # log p(x_j, y_m) = <y_m, u_j> / sigma^2 + b_j + a_m (squaring_log_density); a_m only shifts the value.
    b = -0.5 * u.square().sum(-1) / sigma**2 - 0.5 * (cells - theta[:2]).square().sum(-1)  # (P,)
    a = -0.5 * y.double().square().sum(-1) / sigma**2 - 2.0 * LOG_2PI - 2.0 * math.log(sigma)  # (M,)
    value, moments = 0.0, torch.zeros(len(y), 5, dtype=torch.float64)
    for i in range(0, len(y), chunk):
        # Fused and in place (the (chunk, P) passes dominate the cost): w = exp(lp - max lp), floored at e^-680.
        w = torch.addmm(b[None, :], y[i:i + chunk].double(), u.T / sigma**2)  # (chunk, P)
        top = w.amax(-1, keepdim=True)
        w.sub_(top).clamp_min_(-680.0).exp_()
        total = w.sum(-1, keepdim=True)  # (chunk, 1)
        value += float((top + total.log()).sum())
        moments[i:i + chunk] = (w @ features) / total  # E[x], E[u], E[|u|^2] per point
    value += float(a.sum()) + len(y) * 2.0 * math.log(grid.cell)
    d_mu = moments[:, :2] - theta[:2]
    d_log_c = -((y.double() * moments[:, 2:4]).sum(-1) - moments[:, 4]) / sigma**2
    return value / len(y), torch.cat([d_mu, d_log_c[:, None]], -1).mean(0)


def mmle(y: torch.Tensor, theta0: torch.Tensor, sigma: float, grid: Grid, max_iter: int = 200
         ) -> tuple[torch.Tensor, float]:
    """theta* = argmax l_M by L-BFGS (strong Wolfe) on the grid likelihood from theta0 -> (theta* (3,), the norm
    of the gradient there)."""
    theta = theta0.detach().double().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-14,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        value, grad = likelihood_and_gradient(y, theta, sigma, grid)
        theta.grad = -grad
        return torch.tensor(-value, dtype=torch.float64)

    opt.step(closure)
    return theta.detach(), float(likelihood_and_gradient(y, theta, sigma, grid)[1].norm())


# ---------------------------------------------------------------------------------------------------------------
# Distances of a particle cloud to the posterior
# ---------------------------------------------------------------------------------------------------------------

def reference_self_term(reference: torch.Tensor, bandwidth: torch.Tensor) -> torch.Tensor:
    """(1/(R(R-1))) sum_{r != s} k(z_r, z_s) per point, by :func:`ebipla.metrics.mmd.kernel_sum`: reference
    (M, R, d), bandwidth (M,) -> (M,)."""
    r = reference.shape[1]
    return torch.tensor([(kernel_sum(z.double(), z.double(), float(b), 4096) - r) / (r * (r - 1))
                         for z, b in zip(reference, bandwidth)], dtype=torch.float64)


def cloud_mmd2(cloud: torch.Tensor, reference: torch.Tensor, bandwidth: torch.Tensor, self_term: torch.Tensor
               ) -> torch.Tensor:
    """MMD^2 between the empirical measure of each point's cloud and the law of its reference sample,

        (1/N^2) sum_{i,j} k(x_i, x_j) - (2/(N R)) sum_{i,r} k(x_i, z_r) + (1/(R(R-1))) sum_{r != s} k(z_r, z_s),

    with the Gaussian kernel k(a, b) = exp(-|a - b|^2 / (2 s^2)) of ebipla.metrics.mmd and s = ``bandwidth``.
    Given the cloud it is unbiased for MMD^2(cloud, posterior) when the reference is an exact posterior sample; for
    N exact samples its mean is (1 - E k(X, X')) / N, the floor that falls like 1/N.
    cloud (M, N, d), reference (M, R, d), bandwidth and self_term (M,) (:func:`reference_self_term`) -> (M,)."""
    scale = (-0.5 / bandwidth.double().square())[:, None, None]
    x, z = cloud.double(), reference.double()
    k_xx = torch.exp(torch.cdist(x, x).square() * scale).mean((1, 2))
    k_xz = torch.exp(torch.cdist(x, z).square() * scale).mean((1, 2))
    return k_xx - 2.0 * k_xz + self_term


def w2_squared_1d(a: torch.Tensor, b: torch.Tensor, presorted: bool = False) -> torch.Tensor:
    """Exact W_2^2 between the empirical measures of a (..., n) and b (..., m) on the line:
    integral_0^1 (F_a^{-1}(t) - F_b^{-1}(t))^2 dt, the quantile functions being step functions that change at
    t = i/n and j/m. ``presorted``: a and b are sorted along the last axis already. -> (...)."""
    if not presorted:
        a, b = torch.sort(a.double(), -1)[0], torch.sort(b.double(), -1)[0]
    n, m = a.shape[-1], b.shape[-1]
    # Breakpoints of both quantile functions, merged: t_0 = 0 < t_1 < ... = 1.
    t = torch.unique(torch.cat([torch.arange(n + 1, dtype=torch.float64) / n,
                                torch.arange(m + 1, dtype=torch.float64) / m]))
    mid = (t[1:] + t[:-1]) / 2  # (T,): each piece's quantile index is constant
    ia = torch.clamp((mid * n).floor().long(), max=n - 1)
    ib = torch.clamp((mid * m).floor().long(), max=m - 1)
    diff = a[..., ia] - b[..., ib]  # (..., T)
    return (diff.square() * (t[1:] - t[:-1])).sum(-1)


def slice_directions(n_directions: int) -> torch.Tensor:
    """Equally spaced unit vectors (cos(pi l / L), sin(pi l / L)), l = 0..L-1, over the half circle (a direction
    and its opposite give the same 1-D distance). -> (L, 2) float64."""
    angle = torch.arange(n_directions, dtype=torch.float64) * math.pi / n_directions
    return torch.stack([angle.cos(), angle.sin()], -1)


def sorted_projections(points: torch.Tensor, n_directions: int) -> torch.Tensor:
    """<x, u_l> for the L directions, sorted over the points: (..., n, 2) -> (..., L, n)."""
    return torch.sort((points.double() @ slice_directions(n_directions).T).transpose(-1, -2), -1)[0]


def sliced_w2(cloud: torch.Tensor, reference: torch.Tensor, n_directions: int = 64) -> torch.Tensor:
    """Sliced Wasserstein-2 distance between the empirical measures of cloud (..., N, 2) and reference (..., R, 2):
    the square root of the mean over directions u of W_2^2(<x, u>, <z, u>), the integral over the half circle by
    the L-point midpoint rule in the angle. -> (...)."""
    return sliced_w2_sorted(sorted_projections(cloud, n_directions), sorted_projections(reference, n_directions))


def sliced_w2_sorted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """:func:`sliced_w2` from :func:`sorted_projections` (..., L, N) and (..., L, R) (a reference's projections
    are computed once for many clouds). -> (...)."""
    return w2_squared_1d(a, b, presorted=True).mean(-1).sqrt()
