"""``ebipla bench``: seconds per training iteration, measured side by side in one process.

For each N, on the Swiss roll with B = 1000 and J = 500 (paper.md 4.1), the timed quantities are interleaved
round by round so that the machine's drift in speed affects them alike:

* one EBIPLA iteration (Algorithm 2) and one LEBM iteration;
* the J-step prior chain alone (the part both methods share);
* the bare cost of one forward + backward pass of U_alpha on B latents (autograd, the floor for one chain step),
  so ``chain / (J x bare)`` shows the chain's overhead over raw compute.

Reported values are medians over the rounds. Both methods are also timed with the same activation, since the
paper pairs EBIPLA with SiLU and LEBM with ReLU.
"""

from __future__ import annotations

import csv
import io
import logging
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .algorithms import ALGORITHMS
from .algorithms.langevin import fresh_prior_samples
from .checkpoint import atomic_write_text
from .config import load_config
from .errors import ConfigError
from .run import new_model, resolve_device, training_data

log = logging.getLogger("ebipla.bench")


def _timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    def timed(fn: Callable[[], object]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return timed


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
    timed = _timer(device)
    cfg, model, gen, ebipla_step = _setup("ebipla", "silu", n, n_prior_steps, batch_size, device)
    lebm_step = _setup("lebm", "silu" if same_activation else "relu", n, n_prior_steps, batch_size, device)[3]
    x = torch.randn(batch_size, model.d_x, device=device)

    def bare() -> None:
        xg = x.clone().requires_grad_(True)
        torch.autograd.grad(model.energy(xg).sum(), xg)

    def chain() -> None:
        fresh_prior_samples(model.energy, batch_size, model.d_x, cfg.algorithm.gamma, n_prior_steps, gen)

    jobs = {"ebipla": ebipla_step, "lebm": lebm_step, "prior_chain": chain, "bare": bare}
    for fn in jobs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(repeats):  # interleaved rounds
        for name, fn in jobs.items():
            times[name].append(timed(fn))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    spread = {f"{m}_{stat}_s": fn(times[m]) for m in ("ebipla", "lebm")
              for stat, fn in (("mean", statistics.fmean), ("std", statistics.stdev))}
    return {
        "N": n, "J": n_prior_steps, "B": batch_size,
        "activations": "silu/silu" if same_activation else "silu/relu (paper)",
        "ebipla_s": med["ebipla"], "lebm_s": med["lebm"], "lebm_over_ebipla": med["lebm"] / med["ebipla"],
        **spread,
        "prior_chain_s": med["prior_chain"], "chain_share_ebipla": med["prior_chain"] / med["ebipla"],
        "bare_fwd_bwd_s": med["bare"], "chain_over_J_bare": med["prior_chain"] / (n_prior_steps * med["bare"]),
        "device": _device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def format_table(rows: list[dict]) -> str:
    head = (f"{'N':>3} {'activations':>17} {'EBIPLA s/it':>11} {'LEBM s/it':>10} {'LEBM/EBIPLA':>11} "
            f"{'chain s':>8} {'chain share':>11} {'bare f+b ms':>11} {'chain/(J bare)':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['N']:>3} {r['activations']:>17} {r['ebipla_s']:>11.3f} {r['lebm_s']:>10.3f} "
                     f"{r['lebm_over_ebipla']:>11.2f} {r['prior_chain_s']:>8.3f} {r['chain_share_ebipla']:>11.0%} "
                     f"{1e3 * r['bare_fwd_bwd_s']:>11.3f} {r['chain_over_J_bare']:>14.2f}")
    return "\n".join(lines)


def run_bench(out: str | Path, particles: list[int], n_prior_steps: int, batch_size: int, repeats: int,
              device_name: str) -> list[dict]:
    if repeats < 2:
        raise ConfigError(f"--repeats must be at least 2 (got {repeats}): the spread needs two timings.")
    device = resolve_device(device_name)
    rows = []
    for n in particles:
        log.info("timing N = %d on %s", n, _device_name(device))
        rows += bench_setting(n, n_prior_steps, batch_size, repeats, device)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out, buf.getvalue())
    print(f"Swiss roll, B = {batch_size}, J = {n_prior_steps}, {_device_name(device)}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {repeats} rounds")
    print(format_table(rows))
    print(f"wrote {out}")
    return rows
