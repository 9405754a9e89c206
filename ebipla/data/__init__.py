"""Data sets: the synthetic benchmarks, the toy model, and the image data sets (:mod:`.images`).

:class:`TrainingSet` holds the M training observations where training reads them (the device, or pinned CPU
memory for data sets too large for it); images stay uint8 there and become floats in [-1, 1] per batch.
"""

from __future__ import annotations

import torch

from ..config.schema import DataConfig
from .images import load_split, to_unit_range
from .synthetic import SyntheticData, make_synthetic, write_synthetic


class TrainingSet:
    def __init__(self, values: torch.Tensor, device: torch.device, storage: str = "device"):
        self.device = device
        self.values = values.pin_memory() if storage == "pinned_cpu" and device.type == "cuda" else values.to(device)

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape[1:])

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """Observations y (B, *obs_shape) on the training device, as floats."""
        y = self.values[idx.to(self.values.device)].to(self.device, non_blocking=True)
        return to_unit_range(y) if y.dtype == torch.uint8 else y


def training_set(cfg: DataConfig, device: torch.device, storage: str = "device") -> TrainingSet:
    values = load_split(cfg, "train") if cfg.is_image else make_synthetic(cfg, "train").y
    return TrainingSet(values, device, storage)


__all__ = ["SyntheticData", "TrainingSet", "make_synthetic", "training_set", "write_synthetic"]
