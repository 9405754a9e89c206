"""``ebipla bench``: seconds per training iteration, measured side by side in one process.

For each N, on the Swiss roll with B = 1000 and J = 500 (paper.md 4.1), the timed quantities are interleaved
round by round so that the machine's drift in speed affects them alike:

* one EBIPLA iteration (Algorithm 2) and one LEBM iteration;
* the J-step prior chain alone (the part both methods share);
* the bare cost of one forward + backward pass of U_alpha on B latents (stock PyTorch autograd, the floor for one
  chain step before issue 6), so ``chain / (J x bare)`` shows the chain's overhead over raw compute.

Reported values are medians over the rounds. Both methods are also timed with the same activation, since the
paper pairs EBIPLA with SiLU and LEBM with ReLU. Each iteration is also split into its phases (prior chain,
posterior / particle update, losses with their backward pass, optimiser; :func:`ebipla.algorithms.base.phase`), reported
as shares of the iteration's median time.

:func:`chain_bench` (``ebipla bench --chain-variants``) times the J-step prior chain alone in several
implementations on the same x0 and noise, interleaved round by round (:data:`CHAIN_VARIANTS`): a plain autograd
loop (the baseline), the hand-written latent gradient on ATen's kernels (the chain before issue 6), the default
chain (:func:`ebipla.algorithms.langevin.prior_chain`: oneDNN products on CPU), the default in bfloat16, and the default
chain on the same MLP given as a user's network (``custom_autograd``: a custom energy's latent gradient comes from
autograd, :mod:`ebipla.models.custom`).

On a CPU without native bfloat16 (AVX2 only, :func:`ebipla.models.energy.bf16_native`) the bf16 variant is still run and
timed, on ATen's fallback kernels, since that is what ``train.precision: bfloat16`` runs there; its rows carry the
label ``bf16_note`` ("bf16: not native on this CPU (ATen fallback)"), printed under the table, so that its time is
not read as bfloat16 hardware's. Skipping it instead would hide the cost of the option on such a host.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ..algorithms import ALGORITHMS
from ..algorithms.base import PHASES, collect_phase_times
from ..algorithms.langevin import draw_chain_inputs, fresh_prior_samples, prior_chain, ula_step
from ..config import load_config
from ..errors import ConfigError
from ..models import energy as energy_module
from ..models.custom import AutogradEnergy
from ..run import describe_device, new_model, resolve_device, training_data
from .timing import load_average, timer, write_csv

log = logging.getLogger("ebipla.bench.iteration")


def _setup(method: str, activation: str, n: int, n_prior_steps: int, batch_size: int, device: torch.device):
    key = "n_particles" if method == "ebipla" else "n_posterior_steps"
    cfg = load_config([], [f"algorithm.name={method}", f"algorithm.{key}={n}",
                           f"algorithm.n_prior_steps={n_prior_steps}", f"train.batch_size={batch_size}",
                           f"model.energy.activation={activation}"])
    data = training_data(cfg, device)
    model = new_model(cfg, data.obs_shape, device)
    gen = torch.Generator(device).manual_seed(0)
    algo = ALGORITHMS[method]
    state = algo.init_state(cfg, model, len(data), gen)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0)).to(device)
    k = [0]

    def one_step() -> None:
        idx = perm[(k[0] * batch_size) % len(data):][:batch_size]
        k[0] += 1
        algo.step(state, (idx, data.batch(idx)), gen)

    return cfg, model, gen, one_step


def bench_setting(n: int, n_prior_steps: int, batch_size: int, repeats: int, device: torch.device) -> list[dict]:
    """Two rows for one N: the paper's activations (SiLU for EBIPLA, ReLU for LEBM), then SiLU for both."""
    return [_bench_pair(n, n_prior_steps, batch_size, repeats, device, same_activation)
            for same_activation in (False, True)]


def _bench_pair(n: int, n_prior_steps: int, batch_size: int, repeats: int, device: torch.device,
                same_activation: bool) -> dict:
    timed = timer(device)
    cfg, model, gen, ebipla_step = _setup("ebipla", "silu", n, n_prior_steps, batch_size, device)
    lebm_step = _setup("lebm", "silu" if same_activation else "relu", n, n_prior_steps, batch_size, device)[3]
    x = torch.randn(batch_size, model.d_x, device=device)

    def bare() -> None:
        _bare_passes(model.energy, x, 1)  # stock PyTorch autograd, as before issue 6

    def chain() -> None:
        fresh_prior_samples(model.energy, batch_size, model.d_x, cfg.algorithm.gamma, n_prior_steps, gen)

    jobs = {"ebipla": ebipla_step, "lebm": lebm_step, "prior_chain": chain, "bare": bare}
    for fn in jobs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    phases: dict[str, list[dict[str, float]]] = {"ebipla": [], "lebm": []}
    for _ in range(repeats):  # interleaved rounds
        for name, fn in jobs.items():
            with collect_phase_times() as phase_times:
                times[name].append(timed(fn))
            if name in phases:
                phases[name].append(phase_times)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    shares = {f"{m}_{p}_share": statistics.median(r.get(p, 0.0) for r in phases[m]) / med[m]
              for m in phases for p in PHASES}
    spread = {f"{m}_{stat}_s": fn(times[m]) for m in ("ebipla", "lebm")
              for stat, fn in (("mean", statistics.fmean), ("std", statistics.stdev))}
    return {
        "N": n, "J": n_prior_steps, "B": batch_size,
        "activations": "silu/silu" if same_activation else "silu/relu (paper)",
        "ebipla_s": med["ebipla"], "lebm_s": med["lebm"], "lebm_over_ebipla": med["lebm"] / med["ebipla"],
        **spread,
        "prior_chain_s": med["prior_chain"], "chain_share_ebipla": med["prior_chain"] / med["ebipla"],
        "bare_fwd_bwd_s": med["bare"], "chain_over_J_bare": med["prior_chain"] / (n_prior_steps * med["bare"]),
        **shares,
        "device": describe_device(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "load_avg": load_average(),
    }


def format_table(rows: list[dict]) -> str:
    head = (f"{'N':>3} {'activations':>17} {'EBIPLA s/it':>11} {'LEBM s/it':>10} {'LEBM/EBIPLA':>11} "
            f"{'chain s':>8} {'chain share':>11} {'bare f+b ms':>11} {'chain/(J bare)':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['N']:>3} {r['activations']:>17} {r['ebipla_s']:>11.3f} {r['lebm_s']:>10.3f} "
                     f"{r['lebm_over_ebipla']:>11.2f} {r['prior_chain_s']:>8.3f} {r['chain_share_ebipla']:>11.0%} "
                     f"{1e3 * r['bare_fwd_bwd_s']:>11.3f} {r['chain_over_J_bare']:>14.2f}")
    if rows and "ebipla_prior_chain_share" in rows[0]:
        lines += ["", "Share of an iteration (" + ", ".join(PHASES) + "; the rest is bookkeeping):"]
        for r in rows:
            for m in ("ebipla", "lebm"):
                parts = " ".join(f"{r[f'{m}_{p}_share']:>6.1%}" for p in PHASES)
                lines.append(f"{r['N']:>3} {r['activations']:>17} {m:>6} {parts}")
    return "\n".join(lines)


@contextlib.contextmanager
def _onednn(enabled: bool) -> Iterator[None]:
    """Within the block the energy's products use oneDNN only if ``enabled`` (and available)."""
    saved, energy_module.USE_ONEDNN = energy_module.USE_ONEDNN, enabled and energy_module.USE_ONEDNN
    try:
        yield
    finally:
        energy_module.USE_ONEDNN = saved


# The chain implementations timed by chain_bench, each (energy, x0, gamma, noise) -> x_J.
def _autograd_loop(energy: torch.nn.Module, x0: torch.Tensor, gamma: float, noise: torch.Tensor) -> torch.Tensor:
    """The baseline: nabla_x U by stock PyTorch autograd (F.linear) at every step, a graph through the parameters."""
    x = x0
    with _onednn(False):
        for w in noise:
            xg = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(xg).sum(), xg)
            x = ula_step(xg.detach(), grad, gamma, w)
    return x


def _aten_chain(energy: torch.nn.Module, x0: torch.Tensor, gamma: float, noise: torch.Tensor) -> torch.Tensor:
    """The hand-written latent gradient with every product on ATen (MKL's sgemm on CPU): the chain before issue 6."""
    with _onednn(False):
        return prior_chain(energy, x0, gamma, noise)


def _bf16_chain(energy: torch.nn.Module, x0: torch.Tensor, gamma: float, noise: torch.Tensor) -> torch.Tensor:
    return prior_chain(energy, x0, gamma, noise, dtype=torch.bfloat16)


class _PlainMlp(torch.nn.Module):
    """The built-in energy MLP's function written as a user would (stock F.linear layers), sharing its weights."""

    def __init__(self, energy: torch.nn.Module):
        super().__init__()
        self.energy = energy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.energy.hidden:
            x = self.energy.act(torch.nn.functional.linear(x, layer.weight, layer.bias))
        return torch.nn.functional.linear(x, self.energy.out.weight, self.energy.out.bias)  # (B, 1)


def _custom_chain(energy: torch.nn.Module, x0: torch.Tensor, gamma: float, noise: torch.Tensor) -> torch.Tensor:
    """The training chain (prior_chain) on the same MLP given as a user's network (``model.energy.target``): its
    latent gradient by autograd (:class:`ebipla.models.custom.AutogradEnergy`), what a custom energy costs."""
    custom = AutogradEnergy(_PlainMlp(energy), energy.d_x, energy.prior_sigma)
    return prior_chain(custom, x0, gamma, noise)


def _bare_passes(energy: torch.nn.Module, x: torch.Tensor, n: int) -> None:
    """n bare forward + backward passes of U_alpha on x by stock PyTorch autograd (the floor of n chain steps)."""
    with _onednn(False):
        for _ in range(n):
            xg = x.clone().requires_grad_(True)
            torch.autograd.grad(energy(xg).sum(), xg)


CHAIN_VARIANTS: dict[str, Callable[..., torch.Tensor]] = {
    "autograd_loop": _autograd_loop,  # the baseline
    "aten": _aten_chain,  # before: hand-written gradient, ATen products
    "default": prior_chain,  # after: what training runs (oneDNN products on CPU)
    "bf16": _bf16_chain,  # optional: the default in bfloat16
    "custom_autograd": _custom_chain,  # a user's energy network (model.energy.target): autograd in the chain
}


def chain_bench(n_prior_steps: int = 500, batch_size: int = 1000, repeats: int = 5, device: str | torch.device = "cpu",
                activations: tuple[str, ...] = ("silu", "relu"), variants: tuple[str, ...] = tuple(CHAIN_VARIANTS),
                ) -> list[dict]:
    """The J-step prior chain of the synthetic settings in each implementation of ``variants``, side by side.

    One row per activation, on the paper's synthetic energy MLP (d_x = 2, 3 x 128) at its seed-0 initialisation,
    all variants on the same x0 and noise, interleaved for ``repeats`` rounds after one warm-up round. Per variant
    v: ``v_s`` (median seconds per chain), ``v_max_abs_diff`` (largest |x_J - x_J of the autograd loop|: the
    variants are the same chain up to rounding), ``v_over_J_bare`` (against J bare forward + backward passes of
    U_alpha on the B latents by stock PyTorch autograd) and ``autograd_loop_over_v`` (the speed-up over the
    baseline; ``_paired``: the median over rounds of the ratio within a round, steadier on a shared machine).
    """
    unknown = [v for v in variants if v not in CHAIN_VARIANTS]
    if unknown or "autograd_loop" not in variants:
        raise ConfigError(f"chain variants must include autograd_loop and be among {list(CHAIN_VARIANTS)}; "
                          f"got {list(variants)}")
    if repeats < 1:
        raise ConfigError(f"--repeats must be at least 1 (got {repeats}).")
    dev = resolve_device(device) if isinstance(device, str) else device
    timed = timer(dev)
    rows = []
    for activation in activations:
        cfg = load_config([], [f"model.energy.activation={activation}", f"algorithm.n_prior_steps={n_prior_steps}"])
        energy = new_model(cfg, (2,), dev).energy
        gamma = cfg.algorithm.gamma
        x0, noise = draw_chain_inputs((batch_size, cfg.model.latent_dim), n_prior_steps,
                                      torch.Generator(dev).manual_seed(0), dev)

        jobs = {v: functools.partial(CHAIN_VARIANTS[v], energy, x0, gamma, noise) for v in variants}
        outputs = {v: fn() for v, fn in jobs.items()}  # warm-up round, kept for the comparison
        jobs["bare"] = functools.partial(_bare_passes, energy, x0, n_prior_steps)
        jobs["bare"]()
        times: dict[str, list[float]] = {v: [] for v in jobs}
        for _ in range(repeats):
            for v, fn in jobs.items():
                times[v].append(timed(fn))
        med = {v: statistics.median(ts) for v, ts in times.items()}
        row: dict = {"J": n_prior_steps, "B": batch_size, "activation": activation,
                     "bare_fwd_bwd_s": med["bare"] / n_prior_steps}
        for v in variants:
            row[f"{v}_s"] = med[v]
            row[f"{v}_max_abs_diff"] = (outputs[v] - outputs["autograd_loop"]).abs().max().item()
            row[f"{v}_over_J_bare"] = med[v] / med["bare"]
            if v != "autograd_loop":
                row[f"autograd_loop_over_{v}"] = med["autograd_loop"] / med[v]
                row[f"autograd_loop_over_{v}_paired"] = statistics.median(
                    a / b for a, b in zip(times["autograd_loop"], times[v]))
        if "bf16" in variants:
            row["bf16_note"] = energy_module.bf16_note(dev)  # empty where bfloat16 is native
        row.update(device=describe_device(dev), torch=torch.__version__, threads=torch.get_num_threads(),
                   repeats=repeats, load_avg=load_average())
        rows.append(row)
    return rows


def format_chain_table(rows: list[dict]) -> str:
    variants = [k.removesuffix("_max_abs_diff") for k in rows[0] if k.endswith("_max_abs_diff")] if rows else []
    head = (f"{'activation':>10} {'variant':>15} {'s/chain':>8} {'ms/step':>8} {'autograd/this':>13} "
            f"{'this/(J bare)':>13} {'max |diff|':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        for v in variants:
            speedup = r.get(f"autograd_loop_over_{v}", 1.0)
            name = f"{v} (ATen)" if v == "bf16" and r.get("bf16_note") else v
            lines.append(f"{r['activation']:>10} {name:>15} {r[f'{v}_s']:>8.3f} {1e3 * r[f'{v}_s'] / r['J']:>8.3f} "
                         f"{speedup:>13.2f} {r[f'{v}_over_J_bare']:>13.2f} {r[f'{v}_max_abs_diff']:>10.1e}")
    if rows and rows[0].get("bf16_note"):
        lines.append(rows[0]["bf16_note"])
    return "\n".join(lines)


def run_chain_bench(out: str | Path, n_prior_steps: int, batch_size: int, repeats: int, device_name: str,
                    activations: tuple[str, ...] = ("silu", "relu")) -> list[dict]:
    """``ebipla bench --chain-variants``: :func:`chain_bench` to a CSV and a table on stdout."""
    rows = chain_bench(n_prior_steps, batch_size, repeats, device_name, activations)
    write_csv(out, rows)
    print(f"Prior chain alone, synthetic energy MLP, B = {batch_size}, J = {n_prior_steps}, "
          f"{rows[0]['device']}, torch {torch.__version__}; medians of {repeats} interleaved rounds, "
          f"load average {rows[-1]['load_avg']:.1f}")
    print(format_chain_table(rows))
    print(f"wrote {out}")
    return rows


def run_bench(out: str | Path, particles: list[int], n_prior_steps: int, batch_size: int, repeats: int,
              device_name: str) -> list[dict]:
    if repeats < 2:
        raise ConfigError(f"--repeats must be at least 2 (got {repeats}): the spread needs two timings.")
    device = resolve_device(device_name)
    rows = []
    for n in particles:
        log.info("timing N = %d on %s", n, describe_device(device))
        rows += bench_setting(n, n_prior_steps, batch_size, repeats, device)
    write_csv(out, rows)
    print(f"Swiss roll, B = {batch_size}, J = {n_prior_steps}, {describe_device(device)}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {repeats} rounds")
    print(format_table(rows))
    print(f"wrote {out}")
    return rows
