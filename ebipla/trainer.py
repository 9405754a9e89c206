"""The training loop: batches, checkpoints, resume, logging, the finiteness guard and stop signals.

What a checkpoint holds and when it may be resumed is :mod:`ebipla.resume`; what counts as diverged and the error a
run stops with, :mod:`ebipla.divergence`; this module runs the loop and applies both.

All randomness comes from the config's seed: the network initialisation (``run.new_model``), one generator on the
training device for the algorithm's noise (its state is checkpointed), and the batch order, where epoch e uses a
permutation seeded by (seed, e). A run resumed from a checkpoint therefore repeats the uninterrupted run exactly.

Fault tolerance (the exit statuses are those of :mod:`ebipla.errors`):

* Stop signals. SIGTERM (SLURM's time limit and preemption, ``kill``) and SIGUSR1 (``sbatch --signal``) finish the
  current iteration, write a checkpoint and raise :class:`TrainingStopped` (``ebipla train`` exits with 75). Run
  the same command again to resume; Snakemake's ``retries`` do so on a cluster. SIGKILL loses at most the
  iterations since the last checkpoint: every write is atomic, so the previous checkpoint is intact.
* Divergence. Every ``log_every`` and ``checkpoint_every`` iterations, and before any checkpoint, the losses, the
  particle bank and the parameters must be finite and the energy loss within ``train.divergence.max_energy_loss``;
  otherwise ``train.divergence`` decides: stop with :class:`DivergenceError` (exit 3) keeping the last good
  checkpoint, or recover from it with smaller Langevin steps (see :class:`~ebipla.config.schema.DivergenceConfig`).
* One writer per run directory: a second ``ebipla train`` on the same ``--out`` is refused while the first runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import torch
from tqdm import tqdm

from . import run as rundir
from .algorithms import ALGORITHMS, TrainState
from .checkpoint import (
    atomic_write_json,
    atomic_write_text,
    exclusive_lock,
    load_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)
from .config import RunConfig, dump_yaml
from .data import TrainingSet
from .data.files import training_md5
from .divergence import divergence_error, first_diverged
from .errors import CheckpointError, TrainingStopped
from .resume import config_changes, restore, state_payload
from .run import STEP_FIELDS, scaled_steps
from .seeding import derive_seed

log = logging.getLogger("ebipla.trainer")

STREAM_NOISE, STREAM_BATCHES = 1, 2  # derive_seed tags
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
LOCK = ".train.lock"  # held in the run directory while a training process writes to it
RUN_OUTPUTS = (rundir.CHECKPOINT, rundir.CONFIG, rundir.TRAIN_METRICS, rundir.TRAIN_SUMMARY, rundir.TRAIN_TIME,
               rundir.TRAIN_CURVE)


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


# ------------------------------------------------------------------------------------------------ signals


class StopSignals:
    """A context manager under which SIGTERM and SIGUSR1 only record that a stop was asked for.

    The training loop polls :attr:`requested` after each iteration. Handlers can only be installed in the main
    thread; elsewhere the signals keep their previous handlers. The previous handlers are restored on exit.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.received is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else "no signal"

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum


# ------------------------------------------------------------------------------------------------ loop


def train(cfg: RunConfig, out_dir: str | Path, *, device: torch.device | None = None,
          until_iteration: int | None = None, progress: bool | None = None,
          restart_on_change: bool = False) -> TrainState:
    """Train ``cfg`` into ``out_dir``, resuming from ``out_dir/checkpoint.pt`` when it exists.

    ``until_iteration`` stops (with a checkpoint) after that many iterations instead of the configured total. A
    checkpoint written with a different config is an error, unless ``restart_on_change``: then it is renamed to
    ``checkpoint.previous.pt`` and training starts afresh (the workflow's behaviour when a run's config changes).
    SIGTERM or SIGUSR1 stop the loop after the current iteration with a checkpoint and :class:`TrainingStopped`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = device or rundir.resolve_device(cfg.device)
    with (exclusive_lock(out / LOCK, f"the run directory {out}"), StopSignals() as stop_signals, _run_log(out),
          rundir.training_numerics(cfg.train)):  # train.deterministic and TF32, restored on return
        remove_stale_temp_files([out / name for name in RUN_OUTPUTS])
        trainer = Trainer.build(cfg, out, device)
        return trainer.run(until_iteration, progress, restart_on_change, stop_signals)


@contextlib.contextmanager
def _run_log(out: Path) -> Iterator[None]:
    """Copy the package's log records into ``out/train.log`` while training."""
    package_log = logging.getLogger("ebipla")
    if package_log.level == logging.NOTSET:
        package_log.setLevel(logging.INFO)  # the run's log file records INFO whatever the caller configured
    handler = logging.FileHandler(out / rundir.TRAIN_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    package_log.addHandler(handler)
    try:
        yield
    finally:
        package_log.removeHandler(handler)
        handler.close()


@dataclass
class Trainer:
    """One run directory's training: the state and what the checkpoint stores besides it."""

    cfg: RunConfig
    out: Path
    device: torch.device
    data: TrainingSet  # the M training observations
    state: TrainState
    gen: torch.Generator
    schedulers: list
    step_scale: float = 1.0  # product of the divergence recoveries' step shrinks
    recoveries: int = 0
    saved_at: int | None = None  # iteration of the checkpoint on disk, once this process knows it
    seconds_before: float = 0.0  # wall seconds of earlier processes (train_time.json), recoveries' included
    started: float | None = None  # perf_counter() when this process's loop began

    @property
    def train_seconds(self) -> float:
        """Wall seconds spent in the training loop so far, over every process of this run."""
        return self.seconds_before + (time.perf_counter() - self.started if self.started is not None else 0.0)

    @classmethod
    def build(cls, cfg: RunConfig, out: Path, device: torch.device) -> Trainer:
        algo = ALGORITHMS[cfg.algorithm.name]
        data = rundir.training_data(cfg, device)  # M observations, (M, *obs_shape)
        model = rundir.new_model(cfg, data.obs_shape, device)
        gen = torch.Generator(device).manual_seed(derive_seed(cfg.seed, STREAM_NOISE))
        state = algo.init_state(cfg, model, len(data), gen)
        return cls(cfg, out, device, data, state, gen, lr_schedulers(state, cfg.train.lr_decay))

    @property
    def ckpt(self) -> Path:
        return self.out / rundir.CHECKPOINT

    # -------------------------------------------------------------------------------------------- checkpoints

    def save(self) -> None:
        """Checkpoint the current iteration (once: a second call at the same iteration does nothing)."""
        if self.saved_at == self.state.iteration and self.ckpt.exists():
            return
        payload = state_payload(self.cfg, self.state, self.gen, self.schedulers, self.data.obs_shape)
        save_checkpoint(self.ckpt, {**payload, "step_scale": self.step_scale, "recoveries": self.recoveries})
        self.saved_at = self.state.iteration
        atomic_write_json(self.out / rundir.TRAIN_TIME,
                          {"iteration": self.state.iteration, "train_seconds": round(self.train_seconds, 3)})

    def load(self, payload: dict) -> None:
        restore(payload, self.state, self.gen, self.schedulers)
        self.step_scale = payload.get("step_scale", 1.0)
        self.recoveries = payload.get("recoveries", 0)
        self.state.cfg = scaled_steps(self.cfg.algorithm, self.step_scale)
        self.saved_at = self.state.iteration

    def resume(self, restart_on_change: bool) -> None:
        """Restore from the checkpoint; if it has another config (or your data set changed under it), refuse or set
        it aside."""
        payload = load_checkpoint(self.ckpt, map_location=self.device)
        changes = config_changes(self.cfg, payload)
        old_md5, new_md5 = payload.get("data_md5"), training_md5(self.cfg.data)
        if old_md5 is not None and old_md5 != new_md5:  # the folder or file was changed and prepared again
            changes.append(f"the training data (md5 of the prepared train.pt): {old_md5} -> {new_md5}")
        if not changes:
            self.load(payload)
            timing = self.out / rundir.TRAIN_TIME
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                self.seconds_before = float(json.loads(timing.read_text(encoding="utf-8"))["train_seconds"])
            log.info("resumed %s at iteration %d", self.out, self.state.iteration)
            return
        shown = "; ".join(changes[:5]) + ("; ..." if len(changes) > 5 else "")
        if not restart_on_change:
            raise CheckpointError(
                f"checkpoint {self.ckpt} was written with a different config ({shown}), the checkpoint's value "
                "first. Resuming would mix two runs. Go back to the checkpoint's config (the run directory's "
                f"{rundir.CONFIG}), train into a new --out directory, pass --restart-on-config-change to start "
                f"afresh (the old checkpoint is kept as {rundir.PREVIOUS_CHECKPOINT}), or delete the run directory."
            )
        os.replace(self.ckpt, self.out / rundir.PREVIOUS_CHECKPOINT)
        log.warning("config changed (%s): restarting %s; the old checkpoint is now %s", shown, self.out,
                    rundir.PREVIOUS_CHECKPOINT)

    # -------------------------------------------------------------------------------------------- the loop

    def run(self, until_iteration: int | None, progress: bool | None, restart_on_change: bool,
            stop_signals: StopSignals) -> TrainState:
        cfg = self.cfg
        if self.ckpt.exists():
            self.resume(restart_on_change)
        atomic_write_text(self.out / rundir.CONFIG, dump_yaml(cfg))
        _truncate_metrics(self.out / rundir.TRAIN_METRICS, self.state.iteration)
        if cfg.train.divergence.action == "recover":
            self.save()  # a recovery always has a checkpoint to go back to, iteration 0 at the latest
        per_epoch = iterations_per_epoch(cfg, len(self.data))
        total = cfg.train.n_epochs * per_epoch
        stop = min(total, until_iteration) if until_iteration is not None else total
        log.info("training %s (%s, device %s): iterations %d..%d of %d", self.out, cfg.algorithm.name,
                 self.device, self.state.iteration, stop, total)
        show_bar = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=stop, initial=self.state.iteration, disable=not show_bar, desc=cfg.algorithm.name,
                   leave=False)
        try:
            self._loop(stop, per_epoch, stop_signals, bar)
        finally:
            bar.close()
        if not self.ckpt.exists():  # until_iteration = 0: the initial model's checkpoint (an untrained baseline)
            self.save()
        if self.state.iteration == total:
            seconds = self.train_seconds  # the training's, without the drawing below
            from .plotting import training_curve  # matplotlib only once training has finished

            training_curve(self.out / rundir.TRAIN_METRICS, self.out / rundir.TRAIN_CURVE)
            self._write_summary(seconds)  # last: the workflow's marker of a finished run
        log.info("finished %s at iteration %d", self.out, self.state.iteration)
        return self.state

    def _loop(self, stop: int, per_epoch: int, stop_signals: StopSignals, bar: tqdm) -> None:
        """Iterate up to ``stop``; after each iteration check finiteness (when due) and stop signals."""
        train_cfg, perm_cache = self.cfg.train, {}
        algo = ALGORITHMS[self.cfg.algorithm.name]
        total = train_cfg.n_epochs * per_epoch
        start = self.started = time.perf_counter()
        while self.state.iteration < stop:
            idx = batch_indices(self.cfg, len(self.data), self.state.iteration, perm_cache).to(self.device)
            self.state, metrics = algo.step(self.state, (idx, self.data.batch(idx)), self.gen)
            k = self.state.iteration
            if k == total and hasattr(algo, "finish"):
                algo.finish(self.state, self.data, self.gen)  # before the final checkpoint, which holds its result
            bar.update(1)
            if k % per_epoch == 0:
                for sched in self.schedulers:
                    sched.step()
            stopping = stop_signals.requested and k < stop  # a signal during the last iteration lets it finish
            logged = k % train_cfg.log_every == 0 or k % train_cfg.checkpoint_every == 0 or k == stop
            if logged or stopping:
                bad = first_diverged(self.state, metrics, train_cfg.divergence.max_energy_loss)
                if bad is not None:
                    self._diverged(bad, k, bar)  # raises, or goes back to the last good checkpoint
                    if stopping:
                        self._stop(stop_signals)
                    continue
            if logged:
                _log_metrics(self.out, k, per_epoch, metrics, self.schedulers, time.perf_counter() - start)
            if k % train_cfg.checkpoint_every == 0 or k == stop or stopping:
                self.save()
            if stopping:
                self._stop(stop_signals)

    def _stop(self, stop_signals: StopSignals) -> None:
        """After a stop signal: the checkpoint of this iteration is written; stop with TrainingStopped."""
        k = self.state.iteration
        log.warning("stopping on %s at iteration %d; checkpoint %s written", stop_signals.name, k, self.ckpt)
        raise TrainingStopped(
            f"stopped by {stop_signals.name} at iteration {k}: wrote {self.ckpt}. Run the same command again to "
            f"resume from it (exit status {TrainingStopped.exit_code} lets Snakemake's retries do so)."
        )

    def _diverged(self, bad: str, k: int, bar: tqdm) -> None:
        """Divergence (``bad`` says why) at iteration ``k``: raise DivergenceError, or go back to the checkpoint."""
        policy = self.cfg.train.divergence
        what = f"training diverged at iteration {k}: {bad}"
        ckpt = self.ckpt if self.ckpt.exists() else None
        error = divergence_error(policy, what, ckpt, self.saved_at, self.recoveries, self.step_scale)
        if error is not None:
            raise error
        self._recover(what, policy.step_shrink, policy.max_recoveries)
        bar.n = self.state.iteration
        bar.refresh()

    def _recover(self, what: str, shrink: float, max_recoveries: int) -> None:
        self.load(load_checkpoint(self.ckpt, map_location=self.device))
        old = {f: getattr(self.state.cfg, f) for f in STEP_FIELDS if hasattr(self.state.cfg, f)}
        self.recoveries += 1
        self.step_scale *= shrink
        self.state.cfg = scaled_steps(self.cfg.algorithm, self.step_scale)
        _truncate_metrics(self.out / rundir.TRAIN_METRICS, self.state.iteration)
        steps = ", ".join(f"algorithm.{f} {v:g} -> {getattr(self.state.cfg, f):g}" for f, v in old.items())
        log.warning("%s; recovery %d of %d: back to the checkpoint of iteration %d with %s (step scale %g)", what,
                    self.recoveries, max_recoveries, self.state.iteration, steps, self.step_scale)
        self.saved_at = None
        self.save()

    def _write_summary(self, seconds: float) -> None:
        cfg, device = self.cfg, self.device
        summary = {
            "iteration": self.state.iteration, "epochs": cfg.train.n_epochs, "algorithm": cfg.algorithm.name,
            "dataset": cfg.data.name, "seed": cfg.seed, "device": str(device),
            "device_name": rundir.describe_device(device), "torch": torch.__version__,
            "train_seconds": round(seconds, 3),  # ms: a tiny run takes < 0.05 s
        }
        if self.recoveries:
            summary.update(divergence_recoveries=self.recoveries, step_scale=self.step_scale)
        atomic_write_json(self.out / rundir.TRAIN_SUMMARY, summary)


def _log_metrics(out: Path, k: int, per_epoch: int, metrics: dict, schedulers: list, elapsed: float) -> None:
    row = {"iteration": k, "epoch": k / per_epoch, **{name: float(v) for name, v in metrics.items()}}
    if schedulers:
        row["lr_energy"] = schedulers[0].get_last_lr()[0]
    with open(out / rundir.TRAIN_METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    log.info("iter %d epoch %.1f %s (%.1fs)", k, row["epoch"],
             " ".join(f"{name}={row[name]:.4g}" for name in metrics), elapsed)


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
