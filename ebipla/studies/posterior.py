"""Posterior accuracy with a known, non-log-concave posterior (issue 16, item 1): ``ebipla study posterior``.

The model (:mod:`.posterior_model`): x ~ N(mu, I) in R^2, y = g_c(x) + sigma eps with g_c complex squaring, so every
posterior p(x | y) has two antipodal modes of unequal mass, and assumption A1 of Theorem 1 fails. A fine grid gives
each posterior to high accuracy, and with it exact samples, the exact likelihood and the exact-gradient MMLE.

Part A, theta held at the truth. For M data points, each method keeps a cloud of N samples per point:
  - EBIPLA's persistent particles: one step of eq. 13 per iteration (Algorithm 1's particle update, all particles,
    noise sqrt(2h)),
  - ABP's persistent chains: K ULA steps per iteration from where the last iteration stopped (Han et al. 2017),
  - LEBM's short-run chains: K1 ULA steps from N(0, I), restarted every iteration (Pang et al. 2020),
  - exact samples from the grid (the floor: a fresh exact cloud of the same size),
and the clouds are compared with the grid posterior by MMD^2 and the sliced W2 distance against R exact reference
samples per point, and by the share of the cloud in the mode on the prior's side against the grid's share; all as
means over the M points, against iterations and against N. With theta fixed the particles of a point are
independent, so the clouds of the smaller N are the first N particles of the largest.

Part B, learning theta = (mu, log c) from the same start on the same data: each method's sampler feeds Fisher's
identity, grad l_M ~ mean over its samples of nabla_theta log p_theta(x, y_m), into the same Adam optimiser (the
paper's synthetic settings, Algorithm 2 without minibatches); "exact" uses the grid's exact gradient. The
methods differ only in their posterior samplers, at a matched budget of 20 gradient evaluations per data point per
iteration (EBIPLA N = 20 particles x 1 step, ABP 1 chain x K = 20 steps, LEBM 1 chain x K1 = 20 steps). The
learned theta is compared with the truth and with the exact MMLE (L-BFGS on the grid likelihood), modulo the sign
of mu (the model's symmetry), and its marginal of y with held-out data by MMD^2.

Step size h = 0.005 for every chain: Pang et al.'s s1 = 0.1 (config/images/lebm.yaml), also the paper's synthetic
LEBM h. K1 = 20 (config/images/lebm.yaml) and K = 20 (config/images/one_protocol/abp.yaml).
"""

from __future__ import annotations

import argparse
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..algorithms.langevin import ula_chain, ula_step
from ..checkpoint import atomic_write
from ..metrics.mmd import median_bandwidth, mmd2_unbiased
from ..seeding import derive_seed
from . import posterior_model as pm
from .posterior_report import read_study, report_section, setup, write_figure, write_table_files  # noqa: F401

HELP = "posterior accuracy with a known, non-log-concave posterior: EBIPLA, LEBM, ABP against the grid (figure, table)"

# The model's truth and the learning problem's start (theta = (mu_1, mu_2, log c)).
MU_TRUE, C_TRUE, SIGMA = (0.6, 0.3), 2.0, 0.3
THETA_TRUE = torch.tensor([*MU_TRUE, math.log(C_TRUE)], dtype=torch.float64)
THETA_START = torch.tensor([0.0, 0.5, math.log(2.0 * C_TRUE)], dtype=torch.float64)
HALF_WIDTH = 6.0  # the grid's box [-6, 6]^2
EDGE_BAND = 0.05  # the box's outer 5 % on each side: its posterior mass is reported (it should be ~0)

# Samplers: h for every chain, K1 (LEBM), K (ABP), N (EBIPLA in Part B): a matched 20 gradients per point.
H, K1_LEBM, K_ABP, N_LEARN = 0.005, 20, 20, 20
LR, BETAS = 1e-2, (0.5, 0.999)  # Adam on theta: the paper's synthetic settings
TAIL = 0.1  # Part B reports theta averaged over the last 10 % of iterations
N_DIRECTIONS = 64  # slices of the sliced W2


@dataclass(frozen=True)
class Scale:
    """Sizes of one scale (``--scale``)."""

    m_a: int  # data points in Part A
    particles: tuple[int, ...]  # N in Part A
    iters_a: int
    n_reference: int  # R exact reference samples per point
    grid_a: int  # cells per side of Part A's grid
    m_b: int  # data points in Part B
    iters_b: int
    grid_b: int  # cells per side of Part B's grid (the exact gradient; the MMLE uses twice as many)
    n_heldout: int  # held-out y (and model samples) for the MMD^2 of the marginal of y
    n_checkpoints: int  # log-spaced iterations at which Part A and Part B are recorded


SCALES = {
    "ci": Scale(m_a=6, particles=(2, 8), iters_a=40, n_reference=128, grid_a=150, m_b=16, iters_b=20, grid_b=64,
                n_heldout=200, n_checkpoints=5),
    "quick": Scale(m_a=64, particles=(2, 8, 32), iters_a=2000, n_reference=512, grid_a=500, m_b=200, iters_b=600,
                   grid_b=128, n_heldout=2000, n_checkpoints=12),
    "full": Scale(m_a=200, particles=(2, 4, 8, 16, 32, 64, 128), iters_a=20000, n_reference=1024, grid_a=800,
                  m_b=500, iters_b=2000, grid_b=160, n_heldout=5000, n_checkpoints=20),
}
STREAMS = {"data_a": 1, "reference": 2, "floor": 3, "ebipla_a": 4, "abp_a": 5, "lebm_a": 6, "data_b": 7,
           "heldout": 8, "ebipla_b": 9, "abp_b": 10, "lebm_b": 11, "decode": 12}
METHODS_A = ("ebipla", "abp", "lebm", "exact")
METHODS_B = ("ebipla", "abp", "lebm", "exact")


def stream(seed: int, name: str) -> torch.Generator:
    """The seeded generator of one random stream (STREAMS) of the run."""
    return torch.Generator().manual_seed(derive_seed(seed, STREAMS[name]))


def checkpoints(iters: int, count: int) -> list[int]:
    """0 and about ``count`` log-spaced iterations up to ``iters`` (included)."""
    return sorted({0, iters, *np.unique(np.round(np.geomspace(1, iters, count)).astype(int)).tolist()})


def row(part: str, method: str, n: int | None, iteration: int | None, metric: str, value: float,
        se: float = math.nan) -> dict:
    return {"part": part, "method": method, "N": n, "iteration": iteration, "metric": metric, "value": value,
            "se": se}


# ---------------------------------------------------------------------------------------------------------------
# Part A: theta fixed at the truth
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Exact:
    """What the grid gives per data point of Part A."""

    reference: torch.Tensor  # (M, R, 2) exact samples
    floor: torch.Tensor  # (M, C, N_max, 2): a fresh exact cloud per checkpoint
    bandwidth: torch.Tensor  # (M,) median pairwise distance of the reference
    self_term: torch.Tensor  # (M,) the reference's kernel mean (pm.reference_self_term)
    projections: torch.Tensor  # (M, L, R) the reference's sorted projections (pm.sorted_projections)
    direction: torch.Tensor  # (M, 2) the mode on the prior's side
    fraction: torch.Tensor  # (M,) the grid's mass in that mode's half plane
    edge: torch.Tensor  # (M,) the grid's mass in the box's outer band


def exact_posteriors(y: torch.Tensor, scale: Scale, n_clouds: int, seed: int) -> Exact:
    """Grid posteriors of the points y (M, 2) at the truth, one point at a time (P = grid_a^2 cells)."""
    grid = pm.Grid(HALF_WIDTH, scale.grid_a)
    gen_ref, gen_floor = stream(seed, "reference"), stream(seed, "floor")
    direction = pm.mode_direction(y, THETA_TRUE)  # (M, 2)
    centres = grid.centres()  # (P, 2)
    band = max(1, round(EDGE_BAND * scale.grid_a))
    refs, floors, bws, fracs, edges = [], [], [], [], []
    for m in range(len(y)):
        log_masses = pm.grid_log_masses(pm.squaring_log_density(y[m:m + 1], THETA_TRUE, SIGMA), grid)[0]  # (P,)
        ref = pm.grid_sample(log_masses, scale.n_reference, grid, gen_ref)  # (R, 2)
        refs.append(ref)
        floors.append(pm.grid_sample(log_masses, n_clouds * max(scale.particles), grid, gen_floor))
        half = scale.n_reference // 2
        bws.append(median_bandwidth(ref[:half], ref[half:]))
        fracs.append(float(log_masses[centres @ direction[m] > 0].exp().sum()))  # the prior-side half plane
        edges.append(float(pm.edge_mass(log_masses, grid, band)))
    floor = torch.stack(floors).reshape(len(y), n_clouds, max(scale.particles), 2)
    reference, bandwidth = torch.stack(refs), torch.tensor(bws, dtype=torch.float64)
    return Exact(reference, floor, bandwidth, pm.reference_self_term(reference, bandwidth),
                 pm.sorted_projections(reference, N_DIRECTIONS), direction, torch.tensor(fracs, dtype=torch.float64),
                 torch.tensor(edges, dtype=torch.float64))


def cloud_metrics(cloud: torch.Tensor, exact: Exact) -> dict[str, torch.Tensor]:
    """Per-point distances of the clouds (M, N, 2) to the grid posteriors -> metric -> (M,)."""
    if not torch.isfinite(cloud).all():
        raise FloatingPointError("a Langevin chain diverged (non-finite particles): the step size h is too large "
                                 "for the model's sigma and c")
    frac = pm.mode_fraction(cloud, exact.direction)
    return {"mmd2": pm.cloud_mmd2(cloud, exact.reference, exact.bandwidth, exact.self_term),
            "sw2": pm.sliced_w2_sorted(pm.sorted_projections(cloud, N_DIRECTIONS), exact.projections),
            "mode_mass": frac, "mode_mass_error": (frac - exact.fraction).abs()}


def record_clouds(rows: list[dict], method: str, iteration: int, cloud: torch.Tensor, exact: Exact,
                  particles: tuple[int, ...]) -> None:
    """Rows of the means over points (and their s.e.) for the first N particles of the cloud, each N."""
    for n in particles:
        for metric, values in cloud_metrics(cloud[:, :n], exact).items():
            rows.append(row("A", method, n, iteration, metric, float(values.mean()),
                            float(values.std() / math.sqrt(len(values)))))


def posterior_drift(y: torch.Tensor, theta: torch.Tensor):
    """x (M, n, 2) -> nabla_x phi_y = -nabla_x log p_theta(x, y), the drift's gradient for the ULA kernel."""
    return lambda x: -pm.grad_x_log_joint(x, y[:, None, :], theta, SIGMA)


def part_a(scale: Scale, seed: int) -> tuple[list[dict], dict]:
    """Part A's rows and the arrays of the figure's posterior panel."""
    _, y = pm.sample_model(scale.m_a, THETA_TRUE, SIGMA, stream(seed, "data_a"))  # (M, 2)
    marks = checkpoints(scale.iters_a, scale.n_checkpoints)
    n_max, shape = max(scale.particles), (scale.m_a, max(scale.particles), 2)
    t0 = time.perf_counter()
    exact = exact_posteriors(y, scale, len(marks), seed)
    rows = [row("A", "grid", None, None, "mode_mass", float(exact.fraction.mean()),
                float(exact.fraction.std() / math.sqrt(scale.m_a))),
            row("A", "grid", None, None, "edge_mass_max", float(exact.edge.max())),
            row("A", "exact", None, None, "seconds", time.perf_counter() - t0)]
    drift = posterior_drift(y, THETA_TRUE)
    gens = {name: stream(seed, f"{name}_a") for name in ("ebipla", "abp", "lebm")}
    clouds = {name: torch.randn(shape, generator=gens[name], dtype=torch.float64) for name in ("ebipla", "abp")}
    seconds = dict.fromkeys(("ebipla", "abp", "lebm"), 0.0)
    finals: dict[str, torch.Tensor] = {}
    for k in range(scale.iters_a + 1):
        if k > 0:
            t0 = time.perf_counter()
            # EBIPLA, eq. 13 with theta fixed: one ULA step of every particle.
            noise = torch.randn(shape, generator=gens["ebipla"], dtype=torch.float64)
            clouds["ebipla"] = ula_step(clouds["ebipla"], drift(clouds["ebipla"]), H, noise)
            t1 = time.perf_counter()
            # ABP: K ULA steps per iteration, warm-started.
            noise = torch.randn((K_ABP, *shape), generator=gens["abp"], dtype=torch.float64)
            clouds["abp"] = ula_chain(drift, clouds["abp"], H, noise)
            seconds["ebipla"] += t1 - t0
            seconds["abp"] += time.perf_counter() - t1
        if k not in marks:
            continue
        # LEBM: a fresh short-run chain of K1 steps from N(0, I) (its law does not depend on k when theta is fixed,
        # so it is drawn only where it is recorded).
        t0 = time.perf_counter()
        x0 = torch.randn(shape, generator=gens["lebm"], dtype=torch.float64)
        noise = torch.randn((K1_LEBM, *shape), generator=gens["lebm"], dtype=torch.float64)
        lebm = ula_chain(drift, x0, H, noise)
        seconds["lebm"] += time.perf_counter() - t0
        current = {**clouds, "lebm": lebm, "exact": exact.floor[:, marks.index(k)]}
        for method in METHODS_A:
            record_clouds(rows, method, k, current[method], exact, scale.particles)
        finals = current
    rows += [row("A", name, n_max, scale.iters_a, "seconds", s) for name, s in seconds.items()]
    return rows, panel_arrays(y, exact, finals, n_max)


def panel_arrays(y: torch.Tensor, exact: Exact, finals: dict[str, torch.Tensor], n_max: int) -> dict:
    """The data point shown in the figure: among the points whose grid minority mode holds 10-40 % of the mass,
    the one with the largest |y| (the highest barrier); its density on a 200 x 200 plotting grid around its modes
    and each method's final cloud."""
    minority = 1.0 - exact.fraction
    eligible = (minority > 0.1) & (minority < 0.4)
    score = torch.where(eligible, y.norm(dim=1), -1.0 / (1.0 + (minority - 0.25).abs()))
    m = int(score.argmax())
    reach = float(exact.direction[m].norm()) + 1.5
    grid = pm.Grid(reach, 200)
    log_masses = pm.grid_log_masses(pm.squaring_log_density(y[m:m + 1], THETA_TRUE, SIGMA), grid)[0]
    density = (log_masses.exp() / grid.cell**2).reshape(200, 200)
    out = {"point": np.array(m), "y": y[m].numpy(), "direction": exact.direction[m].numpy(),
           "grid_fraction": np.array(float(exact.fraction[m])), "half_width": np.array(reach),
           "density": density.numpy().astype(np.float32)}
    out.update({f"samples_{name}": cloud[m, :n_max].numpy() for name, cloud in finals.items()})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Part B: learning theta
# ---------------------------------------------------------------------------------------------------------------

def learn(method: str, y: torch.Tensor, iters: int, grid: pm.Grid, seed: int) -> torch.Tensor:
    """theta_0..theta_T of Adam ascent on l_M with ``method``'s gradient estimate. -> (T + 1, 3). When the
    sampler diverges at iteration k (non-finite samples: theta_k made the ULA step unstable), theta_{k+1..T} are
    NaN."""
    theta = torch.nn.Parameter(THETA_START.clone())
    opt = torch.optim.Adam([theta], lr=LR, betas=BETAS)
    gen = stream(seed, f"{method}_b") if method != "exact" else None
    particles = {"ebipla": N_LEARN, "abp": 1, "lebm": 1}.get(method, 0)
    x = torch.randn(len(y), particles, 2, generator=gen, dtype=torch.float64) if gen else None  # (M, n, 2)
    trace = torch.empty(iters + 1, 3, dtype=torch.float64)
    trace[0] = theta.detach()
    for k in range(iters):
        th = theta.detach()
        if method == "exact":
            grad = pm.likelihood_and_gradient(y, th, SIGMA, grid)[1]
        else:
            x, samples = posterior_samples(method, x, y, th, gen)
            grad = pm.grad_theta_log_joint(samples, y[:, None, :], th, SIGMA).mean((0, 1))  # (3,)
        if not torch.isfinite(grad).all():
            trace[k + 1:] = math.nan
            break
        opt.zero_grad()
        theta.grad = -grad  # Adam minimises -l_M
        opt.step()
        trace[k + 1] = theta.detach()
    return trace


def posterior_samples(method: str, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, gen: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """One iteration of ``method``'s sampler at theta_k -> (its new state, the samples its gradient uses)."""
    drift = posterior_drift(y, theta)
    if method == "ebipla":  # gradient at X_k (Algorithm 2), then eq. 13 with theta_k
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        return ula_step(x, drift(x), H, noise), x
    if method == "abp":  # K steps from the last state, then the gradient at the new state
        noise = torch.randn((K_ABP, *x.shape), generator=gen, dtype=torch.float64)
        x = ula_chain(drift, x, H, noise)
        return x, x
    if method == "lebm":  # K1 steps from N(0, I)
        x0 = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        noise = torch.randn((K1_LEBM, *x.shape), generator=gen, dtype=torch.float64)
        fresh = ula_chain(drift, x0, H, noise)
        return fresh, fresh
    raise ValueError(f"unknown method {method!r}")


def marginal_mmd2(theta: torch.Tensor, y_heldout: torch.Tensor, bandwidth: float, seed: int) -> float:
    """MMD^2 between n_heldout draws of y from the model at theta (common random numbers across thetas) and the
    held-out y."""
    gen = stream(seed, "decode")
    z = torch.randn(len(y_heldout), 2, generator=gen, dtype=torch.float64)
    e = torch.randn(len(y_heldout), 2, generator=gen, dtype=torch.float64)
    _, y_model = pm.decode_model(z, e, theta, SIGMA)
    return mmd2_unbiased(y_model, y_heldout, bandwidth=bandwidth)[0]


def part_b(scale: Scale, seed: int) -> list[dict]:
    """Part B's rows: the MMLE, each method's trajectory at the checkpoints and its tail average."""
    _, y = pm.sample_model(scale.m_b, THETA_TRUE, SIGMA, stream(seed, "data_b"))  # (M, 2)
    _, y_held = pm.sample_model(scale.n_heldout, THETA_TRUE, SIGMA, stream(seed, "heldout"))
    half = scale.n_heldout // 2
    bandwidth = median_bandwidth(y_held[:half], y_held[half:])
    grid, fine = pm.Grid(HALF_WIDTH, scale.grid_b), pm.Grid(HALF_WIDTH, 2 * scale.grid_b)
    t0 = time.perf_counter()
    theta_hat, grad_norm = pm.mmle(y, THETA_START, SIGMA, fine)
    band = max(1, round(EDGE_BAND * scale.grid_b))
    edge = max(float(pm.edge_mass(pm.grid_log_masses(pm.squaring_log_density(y, th, SIGMA), grid), grid,
                                  band).max()) for th in (THETA_TRUE, THETA_START, theta_hat))
    rows = [row("B", "mmle", None, None, "seconds", time.perf_counter() - t0),
            row("B", "mmle", None, None, "grad_norm", grad_norm),
            row("B", "mmle", None, None, "edge_mass_max", edge),
            row("B", "mmle", None, None, "error_truth", pm.theta_distance(theta_hat, THETA_TRUE)),
            row("B", "mmle", None, None, "mmd2_y", marginal_mmd2(theta_hat, y_held, bandwidth, seed)),
            row("B", "truth", None, None, "mmd2_y", marginal_mmd2(THETA_TRUE, y_held, bandwidth, seed))]
    rows += theta_rows("mmle", None, None, theta_hat)
    marks = checkpoints(scale.iters_b, scale.n_checkpoints)
    for method in METHODS_B:
        t0 = time.perf_counter()
        trace = learn(method, y, scale.iters_b, grid, seed)
        n = {"ebipla": N_LEARN, "abp": K_ABP, "lebm": K1_LEBM}.get(method)
        rows.append(row("B", method, n, scale.iters_b, "seconds", time.perf_counter() - t0))
        rows += trajectory_rows(method, n, trace, marks, theta_hat)
        rows += tail_rows(method, n, trace, theta_hat, lambda th: marginal_mmd2(th, y_held, bandwidth, seed))
    return rows


def trajectory_rows(method: str, n: int | None, trace: torch.Tensor, marks: list[int], theta_hat: torch.Tensor
                    ) -> list[dict]:
    """Distances of theta_k to the truth and to the MMLE at the checkpoints (finite iterates only)."""
    rows = []
    for k in marks:
        if torch.isfinite(trace[k]).all():
            rows.append(row("B", method, n, k, "error_truth", pm.theta_distance(trace[k], THETA_TRUE)))
            rows.append(row("B", method, n, k, "error_mmle", pm.theta_distance(trace[k], theta_hat)))
    return rows


def tail_rows(method: str, n: int | None, trace: torch.Tensor, theta_hat: torch.Tensor, mmd2_y) -> list[dict]:
    """The tail-averaged theta's distances, spread, MMD^2 of y and value; after a divergence instead the
    iteration k at which the sampler diverged (``diverged_at``) and the last finite theta_k."""
    iters = len(trace) - 1
    finite = torch.isfinite(trace).all(1)
    if not finite.all():
        last = int(finite.nonzero().max())
        return [row("B", method, n, last, "diverged_at", float(last)), *theta_rows(method, n, last, trace[last])]
    tail = trace[-max(2, round(TAIL * iters)):]  # at least two iterates (the spread)
    theta_bar = tail.mean(0)
    return [row("B", method, n, iters, "tail_error_truth", pm.theta_distance(theta_bar, THETA_TRUE)),
            row("B", method, n, iters, "tail_error_mmle", pm.theta_distance(theta_bar, theta_hat)),
            row("B", method, n, iters, "tail_spread", float(tail.std(0).norm())),
            row("B", method, n, iters, "mmd2_y", mmd2_y(theta_bar)),
            *theta_rows(method, n, iters, theta_bar)]


def theta_rows(method: str, n: int | None, iteration: int | None, theta: torch.Tensor) -> list[dict]:
    return [row("B", method, n, iteration, name, float(v)) for name, v in zip(("mu1", "mu2", "log_c"), theta)]


# ---------------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------------

def setup_rows(scale_name: str, scale: Scale, seed: int) -> list[dict]:
    """The run's settings, as rows of part "setup" (read back by the table, the figure and report.md)."""
    values = {"seed": seed, "sigma": SIGMA, "c_true": C_TRUE, "mu1_true": MU_TRUE[0], "mu2_true": MU_TRUE[1],
              "mu1_start": float(THETA_START[0]), "mu2_start": float(THETA_START[1]),
              "log_c_start": float(THETA_START[2]), "h": H, "k1_lebm": K1_LEBM, "k_abp": K_ABP,
              "n_learn": N_LEARN, "lr": LR, "half_width": HALF_WIDTH, "tail": TAIL,
              **{f"{k}": v for k, v in vars(scale).items() if k != "particles"}}
    rows = [row("setup", scale_name, None, None, name, float(v)) for name, v in values.items()]
    return rows + [row("setup", scale_name, n, None, "particles", float(n)) for n in scale.particles]


def run_study(scale_name: str, seed: int) -> tuple[pd.DataFrame, dict]:
    """Both parts at one scale -> (the long table, the figure's posterior panel arrays)."""
    if scale_name not in SCALES:
        raise ValueError(f"--scale must be one of {sorted(SCALES)}, got {scale_name!r}")
    scale = SCALES[scale_name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is faster on a shared machine, and the numbers fixed
    try:
        rows_a, panel = part_a(scale, seed)
        rows_b = part_b(scale, seed)
    finally:
        torch.set_num_threads(threads)
    return pd.DataFrame(setup_rows(scale_name, scale, seed) + rows_a + rows_b), panel


def output_paths(prefix: str | Path) -> dict[str, Path]:
    """PREFIX = DIR/STEM -> DIR/table_STEM.{csv,md,tex,html}, DIR/figure_STEM.{pdf,png,npz}."""
    prefix = Path(prefix)
    table, figure = prefix.with_name(f"table_{prefix.name}"), prefix.with_name(f"figure_{prefix.name}")
    return {"table": table, "csv": table.with_suffix(".csv"), "figure": figure, "npz": figure.with_suffix(".npz")}


def save_npz(path: Path, arrays: dict) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ebipla study posterior", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=sorted(SCALES), default="quick",
                   help="ci: seconds (tests); quick: about half a minute of one core; full: about 20 minutes")
    p.add_argument("--out", required=True, metavar="PREFIX",
                   help="DIR/STEM: writes DIR/table_STEM.{csv,md,tex,html} and DIR/figure_STEM.{pdf,png,npz}")
    p.add_argument("--seed", type=int, default=0, help="seed of every random stream (data, chains, samples)")
    p.add_argument("--table-caption", default=None, help="the table's caption (default: says the scale)")
    p.add_argument("--figure-caption", default=None, help="the figure's title line (default: says the scale)")
    p.add_argument("--redraw", action="store_true",
                   help="rebuild the table and figure from the existing table_STEM.csv and figure_STEM.npz only")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    paths = output_paths(args.out)
    if args.redraw:
        table = read_study(paths["csv"])
    else:
        table, panel = run_study(args.scale, args.seed)
        paths["csv"].parent.mkdir(parents=True, exist_ok=True)
        save_npz(paths["npz"], panel)
        table = read_study(io.StringIO(table.to_csv(index=False)))  # the types as read back from the file
    scale = setup(table)["scale"]
    default = f"Posterior accuracy study (ebipla study posterior --scale {scale})"
    write_table_files(table, paths["table"], args.table_caption or default)
    write_figure(paths["csv"], paths["npz"], paths["figure"], args.figure_caption or default)
    print(f"wrote {paths['csv']} (.md, .tex) and {paths['figure']}.pdf (.png, .npz)")
    return 0
