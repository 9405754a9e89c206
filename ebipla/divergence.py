"""The divergence guard of training: what counts as diverged, and the error a run stops with.

:func:`first_diverged` names the first non-finite loss, particle bank or parameter, or an energy loss beyond
``train.divergence.max_energy_loss``; :func:`divergence_error` is the stop (or the end of the recoveries) that
``train.divergence`` decides on, with what to do next. Going back to the last checkpoint with smaller Langevin steps
(the recovery) is :meth:`ebipla.trainer.Trainer._recover`, since it acts on the whole training state.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .algorithms import TrainState
from .config.schema import DivergenceConfig
from .errors import DivergenceError


def first_diverged(state: TrainState, metrics: dict, max_energy_loss: float) -> str | None:
    """Why the state has diverged, naming the first culprit, or None: a non-finite loss, particle bank or
    parameter, or an energy loss ``loss_energy`` beyond +-``max_energy_loss`` (train.divergence).

    One reduction and one host-device synchronisation when all is well; the culprit is searched only otherwise.
    """
    tensors = [*metrics.values(), *([state.particles] if state.particles is not None else []),
               *state.model.parameters()]
    device = tensors[0].device
    checks = [torch.isfinite(t).all().to(device) for t in tensors]
    if "loss_energy" in metrics:
        checks.append(metrics["loss_energy"].abs() <= max_energy_loss)
    if bool(torch.stack(checks).all()):
        return None
    for name, value in metrics.items():
        if not torch.isfinite(value).all():
            return f"the loss '{name}' ({float(value)}) is not finite"
    if state.particles is not None and not torch.isfinite(state.particles).all():
        return "the particle bank is not finite"
    for name, p in state.model.named_parameters():
        if not torch.isfinite(p).all():
            return f"the parameter '{name}' is not finite"
    return (f"the energy ran away: |loss_energy| = {abs(float(metrics['loss_energy'])):.3g} exceeds "
            f"train.divergence.max_energy_loss = {max_energy_loss:g}")


def divergence_error(policy: DivergenceConfig, what: str, ckpt: Path | None, saved_at: int | None, recoveries: int,
                     step_scale: float) -> DivergenceError | None:
    """The error to stop with after a divergence (``what`` says where and why), or None when ``policy`` lets the run
    recover once more. ``ckpt``: the checkpoint on disk (None when none was written), of iteration ``saved_at``."""
    kept = (f"The last good checkpoint ({ckpt}, iteration {saved_at}) is kept" if ckpt is not None
            else "No checkpoint had been written yet")
    if policy.action == "stop":
        return DivergenceError(
            f"{what}. {kept}. To go on from it with smaller Langevin steps, run the same command with --set "
            "train.divergence.action=recover; or lower algorithm.h, algorithm.gamma or the learning rates and "
            "restart the run (--restart-on-config-change, or a new --out)."
        )
    if recoveries >= policy.max_recoveries:
        return DivergenceError(
            f"{what}, after {recoveries} recoveries (train.divergence.max_recoveries) that scaled the "
            f"Langevin steps by {step_scale:g}. {kept}. Raise train.divergence.max_recoveries and run the "
            "same command again, or lower algorithm.gamma or the learning rates and restart the run "
            "(--restart-on-config-change, or a new --out)."
        )
    return None
