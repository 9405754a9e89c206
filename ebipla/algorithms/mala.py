"""MALA: the Metropolis-adjusted Langevin algorithm, for long-run samples of p_alpha = exp(-U_alpha) / Z.

Not part of the paper's method: training and the paper's sampler use short-run ULA chains (eq. 14), whose law after
J steps is not exp(-U) / Z. ``ebipla evaluate`` uses MALA to ask whether exp(-U) itself models the data.

One step from x (every chain at once), with step size eps (Roberts & Tweedie 1996):

    proposal   x' = x - eps grad U(x) + sqrt(2 eps) xi,                       xi ~ N(0, I)
    log q(x' | x) = -|x' - x + eps grad U(x)|^2 / (4 eps)             (+ const, the ULA transition density)
    log a(x, x') = U(x) - U(x') + log q(x | x') - log q(x' | x)
    accept x' with probability min(1, exp(log a)), else stay at x.

The accept/reject step makes exp(-U) / Z exactly invariant for any eps > 0 (detailed balance), unlike ULA, whose
stationary law is biased by O(eps). When exp(-U) is not normalisable (U falls without bound), there is no stationary
law and chains drift off to infinity: the caller measures that escape. The uniform of the accept test comes from a
standard normal z of the chain's own noise stream, log u = log Phi(z), so one stream of d_x + 1 normals per step
drives a chain.

Step size: during the first ``n_burnin`` steps, log eps follows Robbins-Monro towards the target acceptance
(0.574, the optimal scaling of Roberts & Rosenthal 1998),

    log eps <- log eps + gain (mean_chains a_bar - target),   a_bar = min(1, exp(log a)),

clipped to [eps0 * 1e-6, eps0 * 1e4]. The mean over thousands of chains is a precise estimate of the acceptance
at the current eps, so the gain can be large (0.5: the error in log eps shrinks by roughly a quarter per step). After
the burn-in eps is fixed at exp(mean of log eps over the last 10 % of the burn-in), so the rest of the chain uses
one fixed exp(-U)-invariant kernel. eps is shared by all chains (it depends on the set of chains run together,
never on how they are batched).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

ValueGradFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
TARGET_ACCEPTANCE = 0.574
STEP_RANGE = (1e-6, 1e4)  # eps stays within these multiples of its initial value


def value_and_grad_fn(energy: torch.nn.Module) -> ValueGradFn:
    """x (n, d_x) -> (U(x) (n,), grad U(x) (n, d_x)) for the current parameters, without autograd.

    An energy with ``value_and_grad_fn`` (the MLP energy: U from the same pass as its hand-written backward) gives
    both at once; other energies call ``energy`` and ``energy.grad_x_fn()``.
    """
    if hasattr(energy, "value_and_grad_fn"):
        return energy.value_and_grad_fn()
    grad_fn = energy.grad_x_fn()
    return lambda x: (energy(x).detach(), grad_fn(x))


def mala_step(x: torch.Tensor, u: torch.Tensor, g: torch.Tensor, value_and_grad: ValueGradFn, eps: float,
              xi: torch.Tensor, log_uniform: torch.Tensor):
    """One MALA step of every chain. x, g, xi: (n, d); u, log_uniform: (n,).

    Returns (x, U(x), grad U(x), accepted (n,) bool, a_bar (n,) acceptance probability). A proposal whose energy
    or acceptance ratio is not finite is rejected.
    """
    prop = x - eps * g + math.sqrt(2.0 * eps) * xi  # (n, d)
    u_prop, g_prop = value_and_grad(prop)
    log_q_forward = -(prop - x + eps * g).square().sum(-1) / (4.0 * eps)  # log q(x' | x)
    log_q_backward = -(x - prop + eps * g_prop).square().sum(-1) / (4.0 * eps)  # log q(x | x')
    log_a = (u - u_prop) + log_q_backward - log_q_forward
    log_a = torch.where(torch.isfinite(log_a) & torch.isfinite(u_prop), log_a, torch.full_like(log_a, -math.inf))
    accepted = log_uniform < log_a
    keep = accepted[:, None]
    return (torch.where(keep, prop, x), torch.where(accepted, u_prop, u), torch.where(keep, g_prop, g), accepted,
            log_a.clamp(max=0.0).exp())


@dataclass
class MalaRun:
    x: torch.Tensor  # (n, d) states after n_steps
    snapshots: dict[int, torch.Tensor]  # step -> (n, d) states after that many steps
    step_size: float  # eps after the burn-in (fixed from then on)
    acceptance: float  # fraction of accepted proposals after the burn-in (all chains)
    burnin_acceptance: float  # mean a_bar over the last 10 % of the burn-in


@torch.no_grad()
def mala_chain(value_and_grad: ValueGradFn, x0: torch.Tensor, eps0: float, n_steps: int, n_burnin: int,
               draw: Callable[[int], torch.Tensor], snapshot_steps: tuple[int, ...] = (),
               target: float = TARGET_ACCEPTANCE, gain: float = 0.5, chunk: int = 250) -> MalaRun:
    """Run ``n_steps`` MALA steps from x0 (n, d), adapting eps during the first ``n_burnin`` (module docstring).

    ``draw(k)`` returns the next k steps' standard normals of every chain, (k, n, d + 1): d for the proposal's
    xi and one for the accept test's uniform. ``snapshot_steps``: steps after which the states are kept.
    """
    x = x0
    u, g = value_and_grad(x)
    log_eps, lo, hi = math.log(eps0), math.log(eps0 * STEP_RANGE[0]), math.log(eps0 * STEP_RANGE[1])
    accepted_after, tail_a, tail_log_eps, tail_n = 0, 0.0, 0.0, 0
    snapshots = {0: x0.clone()} if 0 in snapshot_steps else {}
    tail_start = n_burnin - max(n_burnin // 10, 1)
    for start in range(0, n_steps, chunk):
        noise = draw(min(chunk, n_steps - start))  # (k, n, d + 1)
        for i, w in enumerate(noise, start=start):
            x, u, g, accepted, a_bar = mala_step(x, u, g, value_and_grad, math.exp(log_eps), w[:, :-1],
                                                 torch.special.log_ndtr(w[:, -1]))
            if i < n_burnin:  # adapt towards the target acceptance
                mean_a = float(a_bar.mean())
                if i >= tail_start:
                    tail_a, tail_log_eps, tail_n = tail_a + mean_a, tail_log_eps + log_eps, tail_n + 1
                log_eps = min(max(log_eps + gain * (mean_a - target), lo), hi)
                if i + 1 == n_burnin:  # freeze at the average of the burn-in's last tenth
                    log_eps = tail_log_eps / tail_n
            else:
                accepted_after += int(accepted.sum())
            if i + 1 in snapshot_steps:
                snapshots[i + 1] = x.clone()
    after = (n_steps - n_burnin) * len(x0)
    return MalaRun(x=x, snapshots=snapshots, step_size=math.exp(log_eps),
                   acceptance=accepted_after / after if after > 0 else float("nan"),
                   burnin_acceptance=tail_a / tail_n if tail_n else float("nan"))
