"""The training loop: batches, checkpoints, resume, logging and the finiteness guard.

All randomness comes from the config's seed: the network initialisation (``run.new_model``), one generator on the
training device for the algorithm's noise (its state is checkpointed), and the batch order, where epoch e uses a
permutation seeded by (seed, e). A run resumed from a checkpoint therefore repeats the uninterrupted run exactly.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from . import run as rundir
from .algorithms import ALGORITHMS, TrainState
from .algorithms.langevin import derive_seed
from .checkpoint import atomic_write_json, atomic_write_text, load_checkpoint, save_checkpoint
from .config import RunConfig, dump_yaml, to_dict
from .errors import CheckpointError, DivergenceError

log = logging.getLogger("ebipla.train")

STREAM_NOISE, STREAM_BATCHES = 1, 2  # derive_seed tags
IGNORED_ON_RESUME = ("device",)  # config keys that may change when a run is resumed


def iterations_per_epoch(cfg: RunConfig, m: int) -> int:
    """ceil(M / B) minibatches per epoch (one full-batch iteration for Algorithm 1)."""
    if not ALGORITHMS[cfg.algorithm.name].uses_minibatches:
        return 1
    return math.ceil(m / cfg.train.batch_size)


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(derive_seed(seed, STREAM_BATCHES, epoch))
    return torch.randperm(n, generator=gen)


def batch_indices(cfg: RunConfig, m: int, iteration: int, perm_cache: dict) -> torch.Tensor:
    """Indices of iteration k's minibatch: slice k mod ceil(M/B) of epoch k // ceil(M/B)'s permutation."""
    if not ALGORITHMS[cfg.algorithm.name].uses_minibatches:
        return torch.arange(m)
    epoch, pos = divmod(iteration, iterations_per_epoch(cfg, m))
    if perm_cache.get("epoch") != epoch:
        perm_cache.update(epoch=epoch, perm=epoch_permutation(cfg.seed, epoch, m))
    b = cfg.train.batch_size
    return perm_cache["perm"][pos * b:(pos + 1) * b]


def lr_schedulers(state: TrainState, decay: float) -> list[torch.optim.lr_scheduler.ExponentialLR]:
    """Exponential learning-rate decay, stepped once per epoch (paper.md section 9, row 14)."""
    return [torch.optim.lr_scheduler.ExponentialLR(opt, decay) for opt in (state.opt_energy, state.opt_generator)
            if opt is not None]


# ------------------------------------------------------------------------------------------------ checkpoints


def state_payload(cfg: RunConfig, state: TrainState, gen: torch.Generator, schedulers: list,
                  obs_shape: tuple[int, ...]) -> dict:
    return {
        "config": to_dict(cfg),
        "obs_shape": list(obs_shape),
        "iteration": state.iteration,
        "model": state.model.state_dict(),
        "optimizers": [opt.state_dict() if opt else None for opt in (state.opt_energy, state.opt_generator)],
        "schedulers": [s.state_dict() for s in schedulers],
        "particles": state.particles,
        "generator": gen.get_state(),
    }


def restore(payload: dict, state: TrainState, gen: torch.Generator, schedulers: list) -> None:
    state.model.load_state_dict(payload["model"])
    for opt, saved in zip((state.opt_energy, state.opt_generator), payload["optimizers"]):
        if opt is not None:
            opt.load_state_dict(saved)
    for sched, saved in zip(schedulers, payload["schedulers"]):
        sched.load_state_dict(saved)
    if payload["particles"] is not None:
        saved = payload["particles"].to(state.particles.device)
        state.particles = saved.pin_memory() if state.particles.is_pinned() else saved
    gen.set_state(payload["generator"])
    state.iteration = payload["iteration"]


def config_changes(cfg: RunConfig, payload: dict) -> list[str]:
    """'key: old -> new' for each config key that differs from the checkpoint's (device aside)."""
    new, old = to_dict(cfg), payload["config"]
    diffs = [key for key in _flat_keys(new) | _flat_keys(old)
             if key.split(".")[0] not in IGNORED_ON_RESUME and _get(new, key) != _get(old, key)]
    return [f"{k}: {_get(old, k)!r} -> {_get(new, k)!r}" for k in sorted(diffs)]


def _flat_keys(d: dict, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in d.items():
        keys |= _flat_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return keys


def _get(d: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


# ------------------------------------------------------------------------------------------------ guard


def first_non_finite(state: TrainState, metrics: dict) -> str | None:
    """The name of the first non-finite loss, particle bank or parameter, or None."""
    for name, value in metrics.items():
        if not torch.isfinite(value).all():
            return f"the loss '{name}' ({float(value)})"
    if state.particles is not None and not torch.isfinite(state.particles).all():
        return "the particle bank"
    for name, p in state.model.named_parameters():
        if not torch.isfinite(p).all():
            return f"the parameter '{name}'"
    return None


# ------------------------------------------------------------------------------------------------ loop


def train(cfg: RunConfig, out_dir: str | Path, *, device: torch.device | None = None,
          until_iteration: int | None = None, progress: bool | None = None,
          restart_on_change: bool = False) -> TrainState:
    """Train ``cfg`` into ``out_dir``, resuming from ``out_dir/checkpoint.pt`` when it exists.

    ``until_iteration`` stops (with a checkpoint) after that many iterations instead of the configured total. A
    checkpoint written with a different config is an error, unless ``restart_on_change``: then it is renamed to
    ``checkpoint.previous.pt`` and training starts afresh (the workflow's behaviour when a run's config changes).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = device or rundir.resolve_device(cfg.device)
    package_log = logging.getLogger("ebipla")
    if package_log.level == logging.NOTSET:
        package_log.setLevel(logging.INFO)  # the run's log file records INFO whatever the caller configured
    handler = logging.FileHandler(out / rundir.TRAIN_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    package_log.addHandler(handler)
    try:
        return _train(cfg, out, device, until_iteration, progress, restart_on_change)
    finally:
        package_log.removeHandler(handler)
        handler.close()


def _train(cfg: RunConfig, out: Path, device: torch.device, until_iteration: int | None,
           progress: bool | None, restart_on_change: bool) -> TrainState:
    algo = ALGORITHMS[cfg.algorithm.name]
    data = rundir.training_data(cfg, device)  # M observations, (M, *obs_shape)
    obs_shape = data.obs_shape
    model = rundir.new_model(cfg, obs_shape, device)
    gen = torch.Generator(device).manual_seed(derive_seed(cfg.seed, STREAM_NOISE))
    state = algo.init_state(cfg, model, len(data), gen)
    schedulers = lr_schedulers(state, cfg.train.lr_decay)

    ckpt = out / rundir.CHECKPOINT
    if ckpt.exists():
        resume(cfg, ckpt, state, gen, schedulers, restart_on_change)
    atomic_write_text(out / rundir.CONFIG, dump_yaml(cfg))
    _truncate_metrics(out / rundir.TRAIN_METRICS, state.iteration)

    per_epoch = iterations_per_epoch(cfg, len(data))
    total = cfg.train.n_epochs * per_epoch
    stop = min(total, until_iteration) if until_iteration is not None else total
    log.info("training %s (%s, device %s): iterations %d..%d of %d", out, cfg.algorithm.name, device,
             state.iteration, stop, total)
    perm_cache: dict = {}
    show_bar = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=stop, initial=state.iteration, disable=not show_bar, desc=cfg.algorithm.name, leave=False)
    start = time.perf_counter()
    while state.iteration < stop:
        idx = batch_indices(cfg, len(data), state.iteration, perm_cache).to(device)
        state, metrics = algo.step(state, (idx, data.batch(idx)), gen)
        k = state.iteration
        bar.update(1)
        if k % per_epoch == 0:
            for sched in schedulers:
                sched.step()
        if k % cfg.train.log_every == 0 or k % cfg.train.checkpoint_every == 0 or k == stop:
            _guard(state, metrics, out)
            _log_metrics(out, k, per_epoch, metrics, schedulers, time.perf_counter() - start)
        if k % cfg.train.checkpoint_every == 0 or k == stop:
            save_checkpoint(ckpt, state_payload(cfg, state, gen, schedulers, obs_shape))
    bar.close()
    if state.iteration == total:
        atomic_write_json(out / rundir.TRAIN_SUMMARY, {
            "iteration": state.iteration, "epochs": cfg.train.n_epochs, "algorithm": cfg.algorithm.name,
            "dataset": cfg.data.name, "seed": cfg.seed, "device": str(device),
        })
    log.info("finished %s at iteration %d", out, state.iteration)
    return state


def resume(cfg: RunConfig, ckpt: Path, state: TrainState, gen: torch.Generator, schedulers: list,
           restart_on_change: bool) -> None:
    """Restore ``state`` from ``ckpt``; if the checkpoint has another config, refuse or set it aside."""
    payload = load_checkpoint(ckpt, map_location=next(state.model.parameters()).device)
    changes = config_changes(cfg, payload)
    if not changes:
        restore(payload, state, gen, schedulers)
        log.info("resumed %s at iteration %d", ckpt.parent, state.iteration)
        return
    shown = "; ".join(changes[:5])
    if not restart_on_change:
        raise CheckpointError(
            f"checkpoint {ckpt} was written with a different config ({shown}). Resuming would mix two runs: train "
            "into a new --out directory, pass --restart-on-config-change (the old checkpoint is kept as "
            f"{rundir.PREVIOUS_CHECKPOINT}), or delete the run directory."
        )
    os.replace(ckpt, ckpt.parent / rundir.PREVIOUS_CHECKPOINT)
    log.warning("config changed (%s): restarting %s; the old checkpoint is now %s", shown, ckpt.parent,
                rundir.PREVIOUS_CHECKPOINT)


def _guard(state: TrainState, metrics: dict, out: Path) -> None:
    bad = first_non_finite(state, metrics)
    if bad is not None:
        raise DivergenceError(
            f"training diverged: {bad} is not finite at iteration {state.iteration}. The last good checkpoint "
            f"({out / rundir.CHECKPOINT}, if any) is kept. Lower the step sizes (algorithm.h, algorithm.gamma) or "
            "the learning rates, then resume or restart."
        )


def _log_metrics(out: Path, k: int, per_epoch: int, metrics: dict, schedulers: list, elapsed: float) -> None:
    row = {"iteration": k, "epoch": k / per_epoch, **{name: float(v) for name, v in metrics.items()}}
    if schedulers:
        row["lr_energy"] = schedulers[0].get_last_lr()[0]
    with open(out / rundir.TRAIN_METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    log.info("iter %d epoch %.1f %s (%.1fs)", k, row["epoch"],
             " ".join(f"{name}={float(v):.4g}" for name, v in metrics.items()), elapsed)


def _truncate_metrics(path: Path, iteration: int) -> None:
    """Drop curve rows past the checkpoint being resumed (and any line cut short by a crash)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("iteration", math.inf) <= iteration:
            kept.append(line)
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))
