"""``ebipla gpu-check``: EBIPLA and LEBM iterations at the CIFAR-10 settings on random images, on a GPU.

One prepared check for a machine with an accelerator (paper.md 4.2, Table 4):

1. correctness: the latent gradient and the loss gradients of one batch computed on the device equal the CPU's
   (same parameters, same inputs), and a few training iterations stay finite;
2. no host-device synchronisation inside an iteration: the timed iterations run under
   ``torch.cuda.set_sync_debug_mode("error")``, which raises on any synchronising call;
3. seconds per iteration, measured with CUDA events after warm-up, for EBIPLA (N = 10 particles, J = 60, batch 128,
   after the warm-up phase) and LEBM at the matched budget (N = 10 posterior steps, J = 60, batch 128) and at
   Pang's K1 = 20, next to the paper's Table 4 (one RTX 3090: 0.99 s EBIPLA, 2.06 s LEBM).

On a CPU the same code runs (without the sync check), which is what the tests exercise.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from .algorithms import ALGORITHMS
from .algorithms.base import backward_losses
from .checkpoint import atomic_write_text
from .config import load_config
from .data import TrainingSet
from .run import new_model, resolve_device

PAPER_TABLE4_CIFAR10 = {"ebipla": 0.99, "lebm": 2.06}  # seconds per step, one RTX 3090
CONFIGS = Path(__file__).resolve().parents[1] / "config" / "images"


def _state(method: str, n: int, m: int, device: torch.device, overrides: list[str]):
    key = "n_particles" if method == "ebipla" else "n_posterior_steps"
    extra = ["algorithm.warmup_iters=0"] if method == "ebipla" else []
    cfg = load_config([CONFIGS / f"cifar10_{method}.yaml"],
                      [f"algorithm.{key}={n}", "train.batch_size=128", "algorithm.n_prior_steps=60", *extra,
                       *overrides])
    images = torch.randint(0, 256, (m, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = TrainingSet(images, device)
    model = new_model(cfg, data.obs_shape, device)
    gen = torch.Generator(device).manual_seed(0)
    algo = ALGORITHMS[method]
    return cfg, data, model, gen, algo, algo.init_state(cfg, model, len(data), gen)


def check_gradients(device: torch.device, overrides: list[str]) -> dict[str, float]:
    """Max relative difference between device and CPU for the drift and the parameter gradients."""
    cfg, data, model, _, _, _ = _state("ebipla", 10, 256, device, overrides)
    cpu_model = new_model(cfg, data.obs_shape, torch.device("cpu"))
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    gen = torch.Generator().manual_seed(1)
    y = data.batch(torch.arange(64, device=device))
    x_pos = torch.randn(64, 10, model.d_x, generator=gen)
    x_neg = torch.randn(64, model.d_x, generator=gen)
    _, _, drift = backward_losses(model, x_pos.to(device), y, x_neg.to(device), want_x_grad=True)
    _, _, drift_cpu = backward_losses(cpu_model, x_pos, y.cpu(), x_neg, want_x_grad=True)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.cpu() - b).abs().max() / b.abs().max().clamp_min(1e-12))

    grads = max(rel(p.grad, q.grad) for p, q in zip(model.parameters(), cpu_model.parameters()))
    return {"drift_rel_diff": rel(drift, drift_cpu), "param_grad_rel_diff": grads}


def time_method(method: str, n: int, device: torch.device, steps: int, overrides: list[str]) -> dict:
    cfg, data, model, gen, algo, state = _state(method, n, 50_000 if device.type == "cuda" else 1024, device,
                                                overrides)
    batches = [torch.randperm(len(data), device=device)[:128] for _ in range(steps + 3)]
    ys = [data.batch(idx) for idx in batches]
    for idx, y in zip(batches[:3], ys[:3]):  # warm-up: allocations, cuBLAS handles, autotuning
        state, metrics = algo.step(state, (idx, y), gen)
    times = []
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.set_sync_debug_mode("error")
    try:
        for idx, y in zip(batches[3:], ys[3:]):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                state, metrics = algo.step(state, (idx, y), gen)
                end.record()
                times.append((start, end))
            else:
                t0 = time.perf_counter()
                state, metrics = algo.step(state, (idx, y), gen)
                times.append(time.perf_counter() - t0)
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(0)
    if cuda:
        torch.cuda.synchronize(device)
        times = [s.elapsed_time(e) / 1000.0 for s, e in times]
    finite = all(bool(torch.isfinite(v)) for v in metrics.values()) and all(
        bool(torch.isfinite(p).all()) for p in model.parameters())
    return {"method": method, "N": n, "J": cfg.algorithm.n_prior_steps, "B": cfg.train.batch_size,
            "mean_s": statistics.fmean(times), "std_s": statistics.stdev(times) if len(times) > 1 else 0.0,
            "finite": finite}


def run_gpu_check(out: str | Path, device_name: str = "auto", steps: int = 20, overrides: list[str] = ()) -> dict:
    device = resolve_device(device_name)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "gradients_vs_cpu": check_gradients(device, list(overrides)),
              "timings": [time_method("ebipla", 10, device, steps, list(overrides)),
                          time_method("lebm", 10, device, steps, list(overrides)),
                          time_method("lebm", 20, device, steps, list(overrides))],
              "paper_table4_cifar10_s": PAPER_TABLE4_CIFAR10, "sync_checked": device.type == "cuda"}
    for row in result["timings"]:
        row["paper_over_ours"] = PAPER_TABLE4_CIFAR10[row["method"]] / row["mean_s"]
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result
