"""Seconds and FLOPs per training step at the image settings (paper.md 4.2, Table 4; section 9, rows 26-27).

For each data set (SVHN, CIFAR-10, CelebA64) and each (method, N), on random uint8 images of the data set's shape
and with its networks (``config/images/<dataset>_<method>.yaml``, batch B, J prior steps, N particles for EBIPLA
after its warm-up phase, N posterior steps for LEBM):

* ``mean_s``, ``std_s``, ``sem_s``: seconds per training step, mean, standard deviation and standard error over
  ``runs`` timed runs (Table 4's "5 runs"), each run the mean of ``steps_per_run`` consecutive steps. The runs of
  one data set's settings are interleaved (run 1 of every setting, then run 2, ...) so that drift in the
  machine's speed hits them alike; ``warmup_steps`` untimed steps per setting come first. CUDA: the device is
  synchronised before and after each run; CPU: ``time.perf_counter``.
* ``gflops_per_step``: the FLOPs of one training step by ``torch.utils.flop_counter``'s formulas (what
  FlopCounterMode counts: matrix products and convolutions, forward and backward; elementwise work, random numbers
  and Adam are not counted), counted once per setting; ``achieved_gflops_per_s`` = gflops_per_step / mean_s.
* the floor, ``bare_fwd_bwd_s``: the median over the runs of one call of
  :func:`ebipla.algorithms.base.backward_losses` on the latents the method's losses use, i.e. the forward and
  backward pass that yields the parameter gradients: generator and V on B x N latents (EBIPLA; B for LEBM's one
  posterior sample per observation) and the energy on those plus B prior samples, with no Langevin chain, no
  particle update and no Adam step. Every training step of the method performs this pass once, so the step can
  never be faster; ``mean_s / bare_fwd_bwd_s`` is the step's cost in units of it. ``bare_gflops_per_s`` is the
  rate of that pass alone: the attainable rate for these networks on this machine, to read ``achieved`` against.
* ``peak_tflops`` and ``fraction_of_peak`` on a known GPU (dense tensor-core or FP32 peak of the precision the
  convolutions run in), else None.
* the paper's Table 4 seconds and GFLOPs (one RTX 3090) where the row is the paper's setting (N = 10, J = 60,
  B = 128; LEBM at the matched budget N = 10), else None, and ``paper_over_ours``, the ratio of the times.
* ``variant``: "default" (the shipped configs), or the ``compare`` override (KEY=VALUE, e.g.
  ``model.generator.channels_last=false``) under which a second copy of every setting runs, interleaved with the
  first: the before/after of a change, measured side by side in one process.
* ``note``: empty, or for a setting that computes in bfloat16 on a device without native bfloat16 (an AVX2-only
  CPU) the label "bf16: not native on this CPU (ATen fallback)": such a setting runs (on ATen's generic bfloat16
  kernels, what training would run there) and is timed, but its time says nothing about bfloat16 hardware.

Every step and floor pass runs under training's global numerics (:func:`ebipla.run.training_numerics`: TF32 off
under float32, deterministic kernels unless ``train.deterministic=false``; ``--compare train.deterministic=false``
times their cost).

``--baselines`` adds VAE, ABP (K = 20), PGD (N as EBIPLA's) and RAE at their one-protocol settings
(``config/images/one_protocol/``, docs/baselines.md); their floor pass has no energy and J does not apply.

On a CPU the training set has M = 4 B images (the bank of EBIPLA's all-particle noise is M x N x d_x, so its
cost scales with M); on CUDA M is the data set's real training size.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from ..algorithms import ALGORITHMS
from ..algorithms.base import Batch, TrainState, backward_losses
from ..config import load_config
from ..config.schema import RunConfig
from ..data import TrainingSet
from ..data.images import CELEBA64_SUBSET
from ..errors import ConfigError
from ..models.energy import bf16_note
from ..report import paper_values as pv
from ..run import describe_device, new_model, resolve_device, training_numerics
from .timing import timer, write_csv

log = logging.getLogger("ebipla.bench.images")

CONFIGS = Path(__file__).resolve().parents[2] / "config" / "images"  # <dataset>_<method>.yaml

# Image shape (C, H, W) and training-set size M of each data set, as ebipla/data/images.py prepares them.
IMAGE_SETS: dict[str, tuple[tuple[int, int, int], int]] = {
    "svhn": ((3, 32, 32), 73_257),
    "cifar10": ((3, 32, 32), 50_000),
    "celeba64": ((3, 64, 64), CELEBA64_SUBSET),
    "digits": ((3, 32, 32), 1_500),  # the offline data set: the smoke-test size of the workflow's Table 4
}
METHODS = ("ebipla", "lebm", "vae", "abp", "pgd", "rae")  # the last four at their one-protocol configs
N_KEY = {"ebipla": "n_particles", "pgd": "n_particles", "lebm": "n_posterior_steps", "abp": "n_posterior_steps"}
PAPER_SETTING = (10, 60, 128)  # Table 4's (N, J, B); LEBM at the matched budget N = 10


def paper_table4(dataset: str, method: str) -> tuple[float | None, float | None]:
    """The paper's Table 4 (one RTX 3090, 5 runs): (seconds per step, "GFLOPS"), or Nones."""
    seconds, gflops = pv.TABLE4.get(dataset, {}).get(method, (None, None))
    return (seconds.mean if seconds else None), gflops


# Dense peak TFLOP/s (fp32 on CUDA cores, tf32 and bf16 on tensor cores) from the vendors' data sheets; the first
# name contained in torch.cuda.get_device_name wins, so the specific variants come first.
PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.5}),
    ("H100 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5}),
    ("H200 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5}),
    ("H100", {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4}),  # SXM
    ("H200", {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4}),  # SXM
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0}),
    ("RTX 3090", {"fp32": 35.6, "tf32": 35.6, "bf16": 71.0}),  # bf16 with fp32 accumulation
    ("L40S", {"fp32": 91.6, "tf32": 183.0, "bf16": 362.1}),
]


@dataclass
class _Setting:
    """One (data set, method, N) ready to step: its state, a few fixed batches, and the floor's inputs."""

    dataset: str
    method: str
    n: int
    variant: str  # "default", or the compared override
    cfg: RunConfig
    state: TrainState
    gen: torch.Generator
    batches: list[Batch]
    bare_inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # x_pos, y, x_neg for backward_losses
    steps: int = 0
    gflops: float = 0.0  # one step, counted
    bare_gflops: float = 0.0  # one floor pass, counted
    times: list[float] = field(default_factory=list)
    bare_times: list[float] = field(default_factory=list)

    def step(self) -> None:
        """One training step, under training's global numerics (``train.deterministic``, TF32 off in float32)."""
        batch = self.batches[self.steps % len(self.batches)]
        self.steps += 1
        with training_numerics(self.cfg.train):
            ALGORITHMS[self.method].step(self.state, batch, self.gen)

    def bare(self) -> None:
        with training_numerics(self.cfg.train):
            backward_losses(self.state.model, *self.bare_inputs, want_x_grad=False)
        self.state.model.zero_grad(set_to_none=True)


def variant_overrides(overrides: list[str], variant: str) -> list[str]:
    """The run configs' overrides for a variant: ``overrides``, then the variant's KEY=VALUE unless "default"."""
    return [*overrides, *([variant] if variant != "default" else [])]


def _setting(dataset: str, method: str, n: int, batch_size: int, n_prior_steps: int, device: torch.device,
             overrides: list[str], variant: str = "default") -> _Setting:
    sets = [f"algorithm.{N_KEY[method]}={n}"] if method in N_KEY else []  # vae and rae have no N
    if method in ("ebipla", "lebm"):
        sets.append(f"algorithm.n_prior_steps={n_prior_steps}")
        config = CONFIGS / f"{dataset}_{method}.yaml"
    else:
        config = CONFIGS / "one_protocol" / f"{dataset}_{method}.yaml"
    if method == "ebipla":
        sets.append("algorithm.warmup_iters=0")  # time Algorithm 2, after the warm-up
    cfg = load_config([config], [*sets, f"train.batch_size={batch_size}", *overrides])
    shape, m_full = IMAGE_SETS[dataset]
    m = m_full if device.type == "cuda" else 4 * batch_size
    gen = torch.Generator(device).manual_seed(0)
    images = torch.randint(0, 256, (m, *shape), dtype=torch.uint8, generator=gen, device=device)
    data = TrainingSet(images, device, cfg.train.data_storage)
    model = new_model(cfg, data.obs_shape, device)
    state = ALGORITHMS[method].init_state(cfg, model, m, gen)
    idx = [torch.randperm(m, generator=gen, device=device)[:batch_size] for _ in range(4)]
    batches = [(i, data.batch(i)) for i in idx]
    x_pos_shape = (batch_size, n, model.d_x) if N_KEY.get(method) == "n_particles" else (batch_size, model.d_x)
    bare_inputs = (torch.randn(x_pos_shape, generator=gen, device=device), batches[0][1],
                   torch.randn((batch_size, model.d_x), generator=gen, device=device))
    return _Setting(dataset, method, n, variant, cfg, state, gen, batches, bare_inputs)


class _FlopCount(TorchDispatchMode):
    """Sums ``torch.utils.flop_counter``'s per-operator formulas (its ``flop_registry``, the ones FlopCounterMode
    applies) over every operator run inside it. FlopCounterMode itself cannot be used here: its module tracker's
    backward hooks break ``torch.autograd.grad`` with leaf inputs, which EBIPLA's fused pre-update pass (drift and
    losses from one backward) calls."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def _gflops(fn: Callable[[], object]) -> float:
    """GFLOPs of one call of ``fn``, counted with torch.utils.flop_counter's formulas."""
    with _FlopCount() as counter:
        fn()
    return counter.flops / 1e9


def step_gflops(cfg: RunConfig, obs_shape: tuple[int, ...], device: torch.device) -> float:
    """GFLOPs of one training step of ``cfg`` (its algorithm, networks and batch size; EBIPLA after its warm-up),
    counted like Table 4's on a fresh model and random images of ``obs_shape``: the count does not depend on the
    values. Image runs' metrics.json records it (the one-protocol table's cost column)."""
    batch = cfg.train.batch_size
    gen = torch.Generator(device).manual_seed(0)
    images = torch.randint(0, 256, (2 * batch, *obs_shape), dtype=torch.uint8, generator=gen, device=device)
    data = TrainingSet(images, device, "device")
    algo = ALGORITHMS[cfg.algorithm.name]
    state = algo.init_state(cfg, new_model(cfg, data.obs_shape, device), len(images), gen)
    state.iteration = getattr(cfg.algorithm, "warmup_iters", 0)
    idx = torch.arange(batch, device=device)
    return _gflops(lambda: algo.step(state, (idx, data.batch(idx)), gen))


def _peak_tflops(device: torch.device, dtype: torch.dtype) -> tuple[str | None, float | None]:
    """(precision, dense peak TFLOP/s) of the GPU for the convolutions' math mode; (None, None) when unknown."""
    if device.type != "cuda":
        return None, None
    if dtype == torch.bfloat16:
        precision = "bf16"
    else:
        precision = "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"  # the generator's convolutions dominate
    name = torch.cuda.get_device_name(device)
    peak = next((p[precision] for key, p in PEAK_TFLOPS if key in name), None)
    return (precision, peak) if peak is not None else (None, None)


def _validate(datasets: list[str], methods: list[tuple[str, int]], batch_size: int, n_prior_steps: int, runs: int,
              steps_per_run: int, warmup_steps: int) -> None:
    if not datasets or any(d not in IMAGE_SETS for d in datasets):
        raise ConfigError(f"datasets must be a non-empty list out of {sorted(IMAGE_SETS)} (got {datasets}).")
    if not methods or any(m not in METHODS or not isinstance(n, int) or n < 1 for m, n in methods):
        raise ConfigError(f"methods must be a non-empty list of (method, N) with method in {METHODS} and N >= 1 "
                          f"(got {methods}).")
    if runs < 2:
        raise ConfigError(f"runs must be at least 2 (got {runs}): the spread over runs needs two of them.")
    if min(batch_size, n_prior_steps, steps_per_run) < 1 or warmup_steps < 0:
        raise ConfigError(f"batch_size, n_prior_steps and steps_per_run must be >= 1 and warmup_steps >= 0 (got "
                          f"{batch_size}, {n_prior_steps}, {steps_per_run}, {warmup_steps}).")


def bench_images(datasets: list[str], methods: list[tuple[str, int]], batch_size: int = 128,
                 n_prior_steps: int = 60, runs: int = 5, steps_per_run: int = 10, warmup_steps: int = 2,
                 device_name: str = "auto", overrides: list[str] = (), compare: str | None = None) -> list[dict]:
    """One row per (data set, method, N[, variant]), in the order given; see the module docstring for the columns."""
    _validate(datasets, methods, batch_size, n_prior_steps, runs, steps_per_run, warmup_steps)
    if compare is not None and "=" not in compare:
        raise ConfigError(f"compare must be KEY=VALUE, e.g. model.generator.channels_last=false (got {compare!r}).")
    variants = [(v, variant_overrides(overrides, v)) for v in ("default", *([compare] if compare else []))]
    device = resolve_device(device_name)
    timed = timer(device)
    rows = []
    for dataset in datasets:
        log.info("%s: building %d settings on %s", dataset, len(methods) * len(variants), describe_device(device))
        settings = [_setting(dataset, m, n, batch_size, n_prior_steps, device, ov, variant)
                    for m, n in methods for variant, ov in variants]
        for s in settings:  # warm-up (allocations, autotuning), then one counted step and one counted floor
            for _ in range(warmup_steps):
                s.step()
            s.bare()
            s.gflops, s.bare_gflops = _gflops(s.step), _gflops(s.bare)
        for r in range(runs):  # interleaved: run r of every setting before run r + 1 of any
            for s in settings:
                s.times.append(timed(lambda s=s: [s.step() for _ in range(steps_per_run)]) / steps_per_run)
                s.bare_times.append(timed(s.bare))
            log.info("%s: run %d/%d done", dataset, r + 1, runs)
        rows += [_row(s, runs, steps_per_run, batch_size, n_prior_steps, device) for s in settings]
    return rows


def _row(s: _Setting, runs: int, steps_per_run: int, batch_size: int, n_prior_steps: int,
         device: torch.device) -> dict:
    mean, sd = statistics.fmean(s.times), statistics.stdev(s.times)
    bare = statistics.median(s.bare_times)
    with training_numerics(s.cfg.train):  # the math mode the steps ran in (no TF32 under float32)
        precision, peak = _peak_tflops(device, s.state.model.compute_dtype or next(s.state.model.parameters()).dtype)
    paper_setting = (s.n, n_prior_steps, batch_size) == PAPER_SETTING
    paper_s, paper_gflops = paper_table4(s.dataset, s.method) if paper_setting else (None, None)
    achieved = s.gflops / mean
    return {
        "dataset": s.dataset, "method": s.method, "N": s.n, "variant": s.variant, "J": n_prior_steps, "B": batch_size,
        "M": s.state.n_data, "runs": runs, "steps_per_run": steps_per_run,
        "mean_s": mean, "std_s": sd, "sem_s": sd / math.sqrt(runs),
        "gflops_per_step": s.gflops, "achieved_gflops_per_s": achieved,
        "bare_fwd_bwd_s": bare, "bare_gflops_per_s": s.bare_gflops / bare, "step_over_bare": mean / bare,
        "peak_precision": precision, "peak_tflops": peak,
        "fraction_of_peak": achieved / (1e3 * peak) if peak else None,
        "paper_s": paper_s, "paper_gflops": paper_gflops,
        "paper_over_ours": paper_s / mean if paper_s is not None else None,
        "note": bf16_note(device) if s.state.model.compute_dtype == torch.bfloat16 else "",
        "device": describe_device(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
    }


def _opt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width table, then LEBM / EBIPLA time ratios per data set next to the paper's, and the
    compared variant's time over the default's per setting."""
    head = (f"{'dataset':>8} {'method':>10} {'variant':>8} {'s/step':>16} {'paper s':>7} {'GFLOP/step':>10} "
            f"{'paper':>5} {'floor s':>8} {'step/floor':>10} {'GFLOP/s':>8} {'floor GFLOP/s':>13} {'of peak':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        variant = "default" if r["variant"] == "default" else "compare"
        lines.append(f"{r['dataset']:>8} {r['method'] + '(' + str(r['N']) + ')':>10} {variant:>8} "
                     f"{r['mean_s']:>8.3f} ± {r['std_s']:<5.3f} {_opt(r['paper_s'], '.2f'):>7} "
                     f"{r['gflops_per_step']:>10.4g} {_opt(r['paper_gflops'], '.2f'):>5} {r['bare_fwd_bwd_s']:>8.3f} "
                     f"{r['step_over_bare']:>10.2f} {r['achieved_gflops_per_s']:>8.1f} "
                     f"{r['bare_gflops_per_s']:>13.1f} {_opt(r['fraction_of_peak'], '.1%'):>7}")
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset and r["variant"] == "default"]
        ebipla = {r["N"]: r for r in mine if r["method"] == "ebipla"}
        for r in (r for r in mine if r["method"] == "lebm" and ebipla):
            e = ebipla.get(r["N"], next(iter(ebipla.values())))
            line = f"{dataset}: LEBM(N={r['N']}) / EBIPLA(N={e['N']}) = {r['mean_s'] / e['mean_s']:.2f}x"
            if (r["N"], r["J"], r["B"]) == (e["N"], e["J"], e["B"]) == PAPER_SETTING:
                paper = paper_table4(dataset, "lebm")[0] / paper_table4(dataset, "ebipla")[0]
                line += f" (paper {paper:.1f}x: RTX 3090, N = 10, J = 60, B = 128)"
            lines.append(line)
    default = {(r["dataset"], r["method"], r["N"]): r for r in rows if r["variant"] == "default"}
    for r in (r for r in rows if r["variant"] != "default"):
        d = default[r["dataset"], r["method"], r["N"]]
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(f"{r['dataset']} {r['method']}(N={r['N']}): with {r['variant']} / default = "
                     f"{r['mean_s'] / d['mean_s']:.2f}x the time per step{note}")
    return "\n".join(lines)


def write_bench_images(out_csv: str | Path, **kwargs) -> list[dict]:
    """Run :func:`bench_images` with ``kwargs``, write the rows to ``out_csv`` (atomically) and print them."""
    start = time.perf_counter()
    rows = bench_images(**kwargs)
    write_csv(out_csv, rows)
    r = rows[0]
    print(f"image settings, B = {r['B']}, J = {r['J']}, {r['device']}, torch {r['torch']}, {r['threads']} threads; "
          f"mean ± s.d. over {r['runs']} runs of {r['steps_per_run']} steps; floor = median backward_losses pass")
    print(format_table(rows))
    print(f"wrote {out_csv} ({time.perf_counter() - start:.0f} s)")
    return rows
