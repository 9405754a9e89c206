"""Scaling of EBIPLA (issue 6, item 4): time per epoch against M and N, and the particle bank's memory.

Cost model. One iteration of Algorithm 2 (:mod:`ebipla.algorithms.ebipla`) does network work on B x N particles (one
forward and one backward pass for the losses and the drift) and on B x J latent steps (B fresh prior chains of J
steps), so its network cost is O(B (N + J)); an epoch is ceil(M / B) iterations, O(M (N + J)). On top of that,
step 4 adds noise to *all* M x N particles every iteration: O(M N) per iteration, O(M^2 N / B) per epoch, which
grows faster than the network work as M grows at fixed B. :func:`scaling_bench` times iterations over a grid of
(M, N) and fits

    seconds per iteration ~ a + b * B (N + J) + c * M N

by least squares on relative errors, to say whether O(B (N + J)) holds and how big the all-particle noise term is.
With B and J fixed over the grid, a and b * B * J are not separable: b is set by the slope in N, so b * B * J is
what the model predicts for the prior chain, compared in the output with the chain's measured phase time. The noise
term is also measured directly (the all-particle noise alone, ``noise_s``), which gives c without the fit.

Memory. :func:`bank_memory` allocates the bank (M, N, d_x) float32 with :func:`ebipla.algorithms.bank.new_bank` for each
``train.particle_storage`` (``device``; ``pinned_cpu``, page-locked host memory, which exists only with CUDA: on a
CPU-only machine it falls back to a plain CPU tensor, and the rows say so) and reports its storage's bytes, the
process's resident-memory growth, and on CUDA the device memory allocated and its peak while the bank was made.
For one (M, N) it also times an iteration, the batch gather + scatter and the all-particle noise with each storage.

Timings are medians over interleaved rounds (each round visits every setting once), after a warm-up, as in
:mod:`.iteration`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..algorithms import ebipla as ebipla_algo
from ..algorithms.bank import gather, new_bank, scatter
from ..algorithms.base import PHASES, TrainState, collect_phase_times
from ..config import load_config
from ..errors import ConfigError
from ..run import describe_device, new_model, resolve_device, training_data
from .timing import load_average, timer, write_csv

log = logging.getLogger("ebipla.bench.scaling")

STORAGES = ("device", "pinned_cpu")
DEFAULT_MS = (1000, 4000, 16000)
DEFAULT_NS = (4, 16, 64)
DEFAULT_MEMORY_MS = (1000, 10_000, 100_000)
DEFAULT_MEMORY_NS = (4, 16, 64)
FIT_TERMS = ("a_s", "b_s", "c_s")  # constant; per latent (step) of B (N + J); per particle noised, M N


# ------------------------------------------------------------------------------------------------------ settings


class _Setting:
    """EBIPLA on the Swiss roll with M points and N particles each, ready to step."""

    def __init__(self, m: int, n: int, n_prior_steps: int, batch_size: int, device: torch.device,
                 storage: str = "device", d_x: int | None = None):
        overrides = ["algorithm.name=ebipla", f"algorithm.n_particles={n}", f"algorithm.n_prior_steps={n_prior_steps}",
                     f"train.batch_size={batch_size}", f"data.n_points={m}", f"train.particle_storage={storage}"]
        if d_x is not None:
            overrides.append(f"model.latent_dim={d_x}")
        cfg = load_config([], overrides)
        self.m, self.n, self.device = m, n, device
        self.batch = min(batch_size, m)
        self.data = training_data(cfg, device)
        model = new_model(cfg, self.data.obs_shape, device)
        self.gen = torch.Generator(device).manual_seed(0)
        self.h = cfg.algorithm.h
        self.state: TrainState = ebipla_algo.init_state(cfg, model, len(self.data), self.gen)
        self.perm = torch.randperm(m, generator=torch.Generator().manual_seed(0)).to(device)
        self.k = 0

    def _indices(self) -> torch.Tensor:
        start = (self.k * self.batch) % self.m
        idx = self.perm[start:start + self.batch]
        self.k += 1
        return idx

    def step(self) -> None:
        """One iteration of Algorithm 2."""
        idx = self._indices()
        ebipla_algo.step(self.state, (idx, self.data.batch(idx)), self.gen)

    def noise(self) -> None:
        """Step 4 alone: sqrt(2h / L) W on all M x N particles."""
        ebipla_algo.add_all_particle_noise(self.state, self.h, self.gen)

    def gather_scatter(self) -> None:
        """The batch's particles to the compute device and back (what the storage option changes)."""
        idx = self._indices()
        scatter(self.state.particles, idx, gather(self.state.particles, idx, self.device))


def _common_fields(device: torch.device, repeats: int) -> dict:
    return {"device": describe_device(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "repeats": repeats, "load_avg": load_average()}


# ------------------------------------------------------------------------------------------------ time vs (M, N)


def scaling_bench(ms: list[int], ns: list[int], n_prior_steps: int, batch_size: int, repeats: int,
                  device_name: str = "auto") -> list[dict]:
    """Seconds per EBIPLA iteration and per epoch for every (M, N) of ``ms`` x ``ns``, with the cost-model fit.

    All settings are built first, warmed up (two iterations and one noise pass each), then timed in ``repeats``
    interleaved rounds; each round times one iteration (split into the phases of :mod:`ebipla.algorithms.base`) and the
    all-particle noise alone for every setting. Per row: medians ``iter_s`` (and mean, s.d.), ``epoch_s`` =
    ``iter_s`` x ceil(M / B), each phase's seconds, ``noise_s`` (step 4 alone) and its share of the iteration, the
    model's ``model_s`` and ``rel_residual`` = |iter_s - model_s| / iter_s, and the fit's coefficients
    (:func:`fit_cost_model`; the same in every row).
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1 (got {repeats}).")
    if not ms or not ns:
        raise ConfigError("the scaling grid needs at least one M and one N.")
    device = resolve_device(device_name)
    timed = timer(device)
    settings = []
    for m in ms:
        for n in ns:
            log.info("building M = %d, N = %d", m, n)
            settings.append(_Setting(m, n, n_prior_steps, batch_size, device))
    for s in settings:  # warm-up
        s.step()
        s.step()
        s.noise()
    iters: list[list[float]] = [[] for _ in settings]
    noises: list[list[float]] = [[] for _ in settings]
    phases: list[list[dict[str, float]]] = [[] for _ in settings]
    for r in range(repeats):
        log.info("round %d of %d", r + 1, repeats)
        for i, s in enumerate(settings):
            with collect_phase_times() as phase_times:
                iters[i].append(timed(s.step))
            phases[i].append(phase_times)
            noises[i].append(timed(s.noise))
    common = _common_fields(device, repeats)
    rows = []
    for s, its, nos, phs in zip(settings, iters, noises, phases):
        per_epoch = math.ceil(s.m / batch_size)
        iter_s = statistics.median(its)
        row = {"M": s.m, "N": s.n, "J": n_prior_steps, "B": s.batch, "iters_per_epoch": per_epoch,
               "bank_elements": s.state.particles.numel(),
               "iter_s": iter_s, "iter_mean_s": statistics.fmean(its),
               "iter_std_s": statistics.stdev(its) if len(its) > 1 else 0.0, "epoch_s": iter_s * per_epoch}
        for p in PHASES:
            row[f"{p}_s"] = statistics.median(ph.get(p, 0.0) for ph in phs)
        row["noise_s"] = statistics.median(nos)
        row["noise_share"] = row["noise_s"] / iter_s
        row["noise_epoch_s"] = row["noise_s"] * per_epoch
        row["chain_s_per_latent_step"] = row["prior_chain_s"] / (s.batch * n_prior_steps)
        row["losses_s_per_particle"] = row["losses_s"] / (s.batch * s.n)
        rows.append(row)
    fit = fit_cost_model(rows)
    for row in rows:
        row.update(_model_fields(row, fit))
        row.update({f"fit_{k}": v for k, v in fit.items()})
        row.update(common)
    return rows


def _design(row: dict, with_noise: bool = True) -> list[float]:
    cols = [1.0, float(row["B"] * (row["N"] + row["J"]))]
    return cols + [float(row["M"] * row["N"])] if with_noise else cols


def _weighted_lstsq(rows: list[dict], with_noise: bool) -> np.ndarray:
    """Coefficients minimising sum ((t - model) / t)^2 (relative errors: the times span orders of magnitude)."""
    x = np.array([_design(r, with_noise) for r in rows], dtype=np.float64)
    t = np.array([r["iter_s"] for r in rows], dtype=np.float64)
    xw = x / t[:, None]
    scale = np.abs(xw).max(axis=0)
    scale[scale == 0] = 1.0
    coef, *_ = np.linalg.lstsq(xw / scale, np.ones_like(t), rcond=None)
    return coef / scale


def fit_cost_model(rows: list[dict]) -> dict:
    """Fit ``iter_s ~ a + b B (N + J) + c M N`` (and, for comparison, without the M N term) over the rows.

    Returns ``a_s``, ``b_s``, ``c_s`` (seconds; per unit of each term), ``max_rel_residual`` and
    ``median_rel_residual`` of the full model; ``no_noise_a_s``, ``no_noise_b_s`` and ``no_noise_max_rel_residual``
    of the model without the noise term (pure O(B (N + J))); ``c_direct_s``, the median of ``noise_s / (M N)``
    when the rows have ``noise_s`` (the noise term measured, not fitted); and ``chain_predicted_over_measured``,
    the median of b B J over the measured prior-chain time (1 when a chain step costs per latent what the losses
    cost per particle, as the model assumes).
    """
    if not rows:
        raise ConfigError("no rows to fit the cost model to.")
    a, b, c = _weighted_lstsq(rows, with_noise=True)
    a0, b0 = _weighted_lstsq(rows, with_noise=False)
    fit = {"a_s": float(a), "b_s": float(b), "c_s": float(c)}
    res = [_rel(r["iter_s"], float(np.dot([a, b, c], _design(r)))) for r in rows]
    res0 = [_rel(r["iter_s"], float(np.dot([a0, b0], _design(r, False)))) for r in rows]
    fit.update(max_rel_residual=max(res), median_rel_residual=statistics.median(res),
               no_noise_a_s=float(a0), no_noise_b_s=float(b0), no_noise_max_rel_residual=max(res0))
    if all("noise_s" in r for r in rows):
        fit["c_direct_s"] = statistics.median(r["noise_s"] / (r["M"] * r["N"]) for r in rows)
        fit["m_spread_without_noise"] = max(_m_spreads(rows).values())
    if all("prior_chain_s" in r for r in rows):
        fit["chain_predicted_over_measured"] = statistics.median(
            b * r["B"] * r["J"] / r["prior_chain_s"] if r["prior_chain_s"] > 0 else math.nan for r in rows)
    return fit


def _by_n(rows: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r["N"], []).append(r)
    return out


def _m_spreads(rows: list[dict]) -> dict[int, float]:
    """Per N: (max - min) / median over M of ``iter_s - noise_s``, the per-iteration time without the noise
    (0 when, as O(B (N + J)) says, it does not depend on M)."""
    spreads = {}
    for n, group in _by_n(rows).items():
        rest = [r["iter_s"] - r["noise_s"] for r in group]
        spreads[n] = (max(rest) - min(rest)) / statistics.median(rest)
    return spreads


def crossover_m_measured(rows: list[dict]) -> dict[int, float]:
    """Per N: the M at which the all-particle noise would cost as much as the rest of the iteration, from the
    measurements (median over M of ``iter_s - noise_s``, over the median ``noise_s / (M N)``)."""
    c = statistics.median(r["noise_s"] / (r["M"] * r["N"]) for r in rows)
    return {n: statistics.median(r["iter_s"] - r["noise_s"] for r in group) / (c * n)
            for n, group in sorted(_by_n(rows).items())}


def _rel(measured: float, model: float) -> float:
    return abs(measured - model) / measured if measured > 0 else math.inf


def _model_fields(row: dict, fit: dict) -> dict:
    coef = [fit[k] for k in FIT_TERMS]
    model = float(np.dot(coef, _design(row)))
    noise_term = fit["c_s"] * row["M"] * row["N"]
    return {"model_s": model, "rel_residual": _rel(row["iter_s"], model), "model_noise_term_s": noise_term,
            "model_noise_share": noise_term / model if model > 0 else math.nan,
            "model_epoch_s": model * row["iters_per_epoch"]}


def crossover_m(fit: dict, n: int, n_prior_steps: int, batch_size: int) -> float:
    """The M at which the all-particle noise (c M N per iteration) equals the network work (b B (N + J))."""
    c = fit.get("c_s", math.nan)
    return fit["b_s"] * batch_size * (n + n_prior_steps) / (c * n) if c > 0 else math.inf


# ---------------------------------------------------------------------------------------------------- memory


def _rss_reader() -> tuple[Callable[[], int], str]:
    try:
        import psutil
    except ImportError:
        page = os.sysconf("SC_PAGE_SIZE")

        def statm() -> int:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page

        return statm, "/proc/self/statm"
    proc = psutil.Process()
    return (lambda: proc.memory_info().rss), "psutil"


def _release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), so that RSS deltas see fresh pages."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _storage_description(bank: torch.Tensor, storage: str) -> str:
    if bank.device.type != "cpu":
        return str(bank.device)
    pinned = torch.cuda.is_available() and bank.is_pinned()
    if storage == "pinned_cpu" and not pinned:
        return "cpu (pinned unavailable without CUDA: plain CPU)"
    return "pinned cpu" if pinned else "cpu"


def bank_memory(ms: list[int], ns: list[int], d_x: int, device_name: str, time_m: int | None = None,
                time_n: int | None = None, n_prior_steps: int = 50, batch_size: int = 1000,
                repeats: int = 5) -> list[dict]:
    """Bytes of the particle bank (M, N, d_x) float32 for each ``train.particle_storage`` and every (M, N).

    Per row: ``expected_bytes`` = M N d_x 4; ``storage_bytes``, the tensor's ``untyped_storage().nbytes()``;
    ``rss_delta_bytes``, the process's resident-memory growth while the bank was made (banks of a storage option
    are kept alive until its sweep ends, so each one lands on fresh pages); on CUDA ``device_alloc_delta_bytes``
    and ``device_peak_delta_bytes`` (the pinned bank is drawn on the device a chunk of rows at a time, so its
    peak is one chunk, at most 64 MB). ``storage_actual`` says where the bank went: without CUDA, ``pinned_cpu``
    falls back to plain CPU memory.

    For (``time_m``, ``time_n``) (default: the largest of each list) the rows of that cell also carry ``iter_s``
    (one EBIPLA iteration with J = ``n_prior_steps``, B = ``batch_size``), ``gather_scatter_s`` (the batch's
    particles to the compute device and back) and ``noise_s`` (the all-particle noise), medians of ``repeats``
    interleaved rounds over the storage options; other rows have NaN there.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1 (got {repeats}).")
    if not ms or not ns:
        raise ConfigError("the memory grid needs at least one M and one N.")
    device = resolve_device(device_name)
    cuda = device.type == "cuda"
    rss, rss_source = _rss_reader()
    rows = []
    for storage in STORAGES:
        kept = []
        gen = torch.Generator(device).manual_seed(0)
        for m in sorted(ms):
            for n in sorted(ns):
                _release_free_memory()
                if cuda:
                    torch.cuda.synchronize(device)
                    torch.cuda.reset_peak_memory_stats(device)
                    alloc0 = torch.cuda.memory_allocated(device)
                rss0 = rss()
                bank = new_bank((m, n, d_x), gen, storage)
                if cuda:
                    torch.cuda.synchronize(device)
                rss1 = rss()
                expected = m * n * d_x * 4
                row = {"storage": storage, "storage_actual": _storage_description(bank, storage),
                       "M": m, "N": n, "d_x": d_x, "expected_bytes": expected,
                       "storage_bytes": bank.untyped_storage().nbytes(), "rss_delta_bytes": rss1 - rss0,
                       "rss_over_expected": (rss1 - rss0) / expected}
                if cuda:
                    row["device_alloc_delta_bytes"] = torch.cuda.memory_allocated(device) - alloc0
                    row["device_peak_delta_bytes"] = torch.cuda.max_memory_allocated(device) - alloc0
                else:
                    row["device_alloc_delta_bytes"] = row["device_peak_delta_bytes"] = math.nan
                row["rss_source"] = rss_source
                rows.append(row)
                kept.append(bank)
        del kept, bank
        _release_free_memory()
        if cuda:
            torch.cuda.empty_cache()
            with contextlib.suppress(AttributeError, RuntimeError):
                torch._C._host_emptyCache()
    tm, tn = time_m or max(ms), time_n or max(ns)
    timing = storage_timing(tm, tn, d_x, n_prior_steps, batch_size, repeats, device)
    common = _common_fields(device, repeats)
    for row in rows:
        hit = (row["M"], row["N"]) == (tm, tn)
        for key in ("iter_s", "gather_scatter_s", "noise_s"):
            row[key] = timing[row["storage"]][key] if hit else math.nan
        row["timed"] = hit
        row.update(common)
    if (tm, tn) not in {(r["M"], r["N"]) for r in rows}:  # the timed cell outside the grid: rows of its own
        for storage in STORAGES:
            rows.append({"storage": storage, "storage_actual": timing[storage]["storage_actual"], "M": tm, "N": tn,
                         "d_x": d_x, "expected_bytes": tm * tn * d_x * 4,
                         "storage_bytes": timing[storage]["storage_bytes"], "rss_delta_bytes": math.nan,
                         "rss_over_expected": math.nan, "device_alloc_delta_bytes": math.nan,
                         "device_peak_delta_bytes": math.nan, "rss_source": rss_source,
                         **{k: timing[storage][k] for k in ("iter_s", "gather_scatter_s", "noise_s")},
                         "timed": True, **common})
    return rows


def storage_timing(m: int, n: int, d_x: int, n_prior_steps: int, batch_size: int, repeats: int,
                   device: torch.device) -> dict[str, dict]:
    """Per storage option: median seconds of an iteration, of the batch gather + scatter and of the noise."""
    timed = timer(device)
    settings = {s: _Setting(m, n, n_prior_steps, batch_size, device, storage=s, d_x=d_x) for s in STORAGES}
    jobs = {name: {"iter_s": s.step, "gather_scatter_s": s.gather_scatter, "noise_s": s.noise}
            for name, s in settings.items()}
    for fns in jobs.values():  # warm-up
        for fn in fns.values():
            fn()
    times = {name: {k: [] for k in fns} for name, fns in jobs.items()}
    for _ in range(repeats):
        for name, fns in jobs.items():
            for key, fn in fns.items():
                times[name][key].append(timed(fn))
    out = {}
    for name, s in settings.items():
        bank = s.state.particles
        out[name] = {k: statistics.median(v) for k, v in times[name].items()}
        out[name].update(storage_actual=_storage_description(bank, name), storage_bytes=bank.untyped_storage().nbytes())
    return out


# ---------------------------------------------------------------------------------------------------- output


def format_scaling_table(rows: list[dict]) -> str:
    head = (f"{'M':>7} {'N':>4} {'it/ep':>5} {'s/it':>8} {'s/epoch':>9} {'chain':>6} {'post':>6} {'losses':>6} "
            f"{'optim':>6} {'noise ms':>9} {'noise %':>7} {'model s/it':>10} {'rel res':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        shares = " ".join(f"{r[f'{p}_s'] / r['iter_s']:>6.1%}" for p in PHASES)
        lines.append(f"{r['M']:>7} {r['N']:>4} {r['iters_per_epoch']:>5} {r['iter_s']:>8.4f} {r['epoch_s']:>9.3f} "
                     f"{shares} {1e3 * r['noise_s']:>9.3f} {r['noise_share']:>7.2%} {r['model_s']:>10.4f} "
                     f"{r['rel_residual']:>7.1%}")
    return "\n".join(lines)


def format_fit(rows: list[dict]) -> str:
    r0 = rows[0]
    fit = {k.removeprefix("fit_"): v for k, v in r0.items() if k.startswith("fit_")}
    b, j = r0["B"], r0["J"]
    lines = [
        f"Cost model, per iteration: t = a + b B (N + J) + c M N, fitted on relative errors over {len(rows)} cells:",
        f"  a = {fit['a_s']:.3e} s, b = {fit['b_s']:.3e} s per latent (step), c = {fit['c_s']:.3e} s per particle",
        f"  max relative residual {fit['max_rel_residual']:.1%} (median {fit['median_rel_residual']:.1%})",
        f"  without the M N term (pure O(B (N + J))): a = {fit['no_noise_a_s']:.3e} s, b = {fit['no_noise_b_s']:.3e} s,"
        f" max relative residual {fit['no_noise_max_rel_residual']:.1%}",
    ]
    if "c_direct_s" in fit:
        lines.append(f"  c measured directly (all-particle noise alone / (M N), median): {fit['c_direct_s']:.3e} s")
    if "chain_predicted_over_measured" in fit:
        lines.append(f"  b B J / measured prior chain (median): {fit['chain_predicted_over_measured']:.2f} "
                     "(1 when a chain step costs per latent what the losses cost per particle)")
    if "m_spread_without_noise" in fit:
        spreads = ", ".join(f"N = {n}: {v:.1%}" for n, v in sorted(_m_spreads(rows).items()))
        lines.append(f"  iteration time without the noise, spread over M at fixed N ((max - min) / median): {spreads}")
    if all("noise_s" in r for r in rows):
        cross = ", ".join(f"N = {n}: M = {m:.3g}" for n, m in crossover_m_measured(rows).items())
    else:
        cross = ", ".join(f"N = {n}: M = {crossover_m(fit, n, j, b):.3g}" for n in sorted({r["N"] for r in rows}))
    lines.append(f"  M at which the all-particle noise would cost as much as the rest of an iteration "
                 f"(B = {b}, J = {j}): {cross}")
    return "\n".join(lines)


def format_memory_table(rows: list[dict]) -> str:
    head = (f"{'storage':>10} {'where':>46} {'M':>7} {'N':>4} {'MB':>8} {'bytes ok':>8} {'RSS delta MB':>12} "
            f"{'RSS/bytes':>9} {'dev alloc MB':>12} {'dev peak MB':>11}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if math.isnan(r["rss_delta_bytes"]):
            continue
        ok = "yes" if r["storage_bytes"] == r["expected_bytes"] else "NO"
        lines.append(f"{r['storage']:>10} {r['storage_actual']:>46} {r['M']:>7} {r['N']:>4} "
                     f"{r['expected_bytes'] / 1e6:>8.3f} {ok:>8} {r['rss_delta_bytes'] / 1e6:>12.3f} "
                     f"{r['rss_over_expected']:>9.2f} {r['device_alloc_delta_bytes'] / 1e6:>12.3f} "
                     f"{r['device_peak_delta_bytes'] / 1e6:>11.3f}")
    timed = [r for r in rows if r["timed"]]
    if timed:
        lines += ["", f"Per storage at M = {timed[0]['M']}, N = {timed[0]['N']}, d_x = {timed[0]['d_x']}:",
                  f"{'storage':>10} {'where':>46} {'s/it':>8} {'gather+scatter ms':>17} {'noise ms':>9}"]
        for r in timed:
            lines.append(f"{r['storage']:>10} {r['storage_actual']:>46} {r['iter_s']:>8.4f} "
                         f"{1e3 * r['gather_scatter_s']:>17.3f} {1e3 * r['noise_s']:>9.3f}")
    return "\n".join(lines)


def memory_csv_path(out_csv: str | Path) -> Path:
    out = Path(out_csv)
    return out.with_name(f"{out.stem}_memory{out.suffix or '.csv'}")


def write_scaling(out_csv: str | Path, ms: Sequence[int] = DEFAULT_MS, ns: Sequence[int] = DEFAULT_NS,
                  n_prior_steps: int = 50, batch_size: int = 1000, repeats: int = 5, device_name: str = "auto",
                  memory_ms: Sequence[int] = DEFAULT_MEMORY_MS, memory_ns: Sequence[int] = DEFAULT_MEMORY_NS,
                  d_x: int = 2) -> tuple[list[dict], list[dict]]:
    """Both benchmarks: ``out_csv`` gets the time rows (:func:`scaling_bench`, with the fit), ``<stem>_memory.csv``
    beside it the memory rows (:func:`bank_memory`; storage timed at the largest M and N of the memory grid).
    Both are written atomically; the tables are printed."""
    rows = scaling_bench(list(ms), list(ns), n_prior_steps, batch_size, repeats, device_name)
    write_csv(out_csv, rows)
    mem_rows = bank_memory(list(memory_ms), list(memory_ns), d_x, device_name, n_prior_steps=n_prior_steps,
                           batch_size=batch_size, repeats=repeats)
    mem_csv = memory_csv_path(out_csv)
    write_csv(mem_csv, mem_rows)
    r0 = rows[0]
    print(f"EBIPLA scaling, Swiss roll, B = {batch_size}, J = {n_prior_steps}, {r0['device']}, torch {r0['torch']}; "
          f"medians of {repeats} interleaved rounds, load average {r0['load_avg']:.1f}")
    print("Phase shares: prior chain, posterior (scatter and all-particle noise; with losses at X_{k+1} also the "
          "gather and drift), losses (with losses at X_k, the default, also the gather and drift), optimiser.")
    print(format_scaling_table(rows))
    print()
    print(format_fit(rows))
    print()
    print(f"Particle bank (M, N, {d_x}) float32; RSS from {mem_rows[0]['rss_source']}")
    print(format_memory_table(mem_rows))
    print(f"wrote {out_csv} and {mem_csv}")
    return rows, mem_rows
