"""Data sets: the synthetic benchmarks, the toy model, the image data sets (:mod:`.images`) and your own files
(:mod:`.files`: a folder of images, or vectors from a .npy, .npz or .csv file).

:class:`TrainingSet` holds the M training observations where training reads them (the device, or pinned CPU
memory for data sets too large for it); images stay uint8 there and become floats in [-1, 1] per batch. Vectors
from a file are held in the model's units: standardised when data.array.standardize says so
(:func:`~.files.data_transform`).
"""

from __future__ import annotations

import torch

from ..config.schema import DataConfig
from ..errors import DataError
from .files import DataTransform, data_transform
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


def training_values(cfg: DataConfig) -> torch.Tensor:
    """The M training observations (M, *obs_shape): uint8 images, or float vectors in the model's units."""
    if cfg.is_image:
        return load_split(cfg, "train")
    if cfg.name == "array":
        values = load_split(cfg, "train")  # prepares the data set when needed, so its manifest is current
        return data_transform(cfg, prepare=False).to_model(values)
    return make_synthetic(cfg, "train").y


def training_set(cfg: DataConfig, device: torch.device, storage: str = "device",
                 batch_size: int | None = None) -> TrainingSet:
    """The training observations on ``device``; with ``batch_size``, a DataError when there are fewer of them."""
    values = training_values(cfg)
    if batch_size is not None and len(values) < batch_size:
        raise DataError(f"the training split of {data_source(cfg)} has {len(values)} points, fewer than "
                        f"train.batch_size = {batch_size}. Lower train.batch_size to at most {len(values)} (or give "
                        "the data set more training points).")
    return TrainingSet(values, device, storage)


def data_source(cfg: DataConfig) -> str:
    """Where a data set's points come from, for messages: the file or folder, else the prepared data set."""
    if cfg.name in ("folder", "array"):
        own = getattr(cfg, cfg.name)
        return f"{own.path}" + (f" (data.n_points = {cfg.n_points})" if cfg.n_points is not None else "")
    return f"{cfg.name} (data.n_points = {cfg.n_points})"


def held_out_data(cfg: DataConfig, n: int) -> torch.Tensor:
    """Held-out observations (n, d_y) in the data's units, for MMD^2 and figures: a fresh draw of ``n`` points (seed
    data.eval_seed) for synthetic data; for an array, the first ``n`` points of its validation split."""
    if cfg.name != "array":
        return make_synthetic(cfg, "eval", n).y
    val = load_split(cfg, "val")
    if len(val) < 2:
        raise DataError(f"the validation split of {cfg.array.path} has {len(val)} point(s); MMD^2 needs at "
                        "least 2 held-out points. Set data.array.val_fraction above 0 (e.g. 0.1) or give a "
                        "validation file with data.array.val_path, then train again (the split is part of the "
                        "prepared data set).")
    return val[:n]


__all__ = ["DataTransform", "SyntheticData", "TrainingSet", "data_transform", "held_out_data", "make_synthetic",
           "training_set", "write_synthetic"]
