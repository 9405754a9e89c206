"""Seeded random streams that do not depend on how work is batched: every run, training and evaluation alike, derives
its generators' seeds here from (run seed, stream tag, index), so that sample k is the same whatever batch, process
or method draws it. A neutral module: the algorithms, the sampler and the metrics all import it."""

from __future__ import annotations

import numpy as np
import torch


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (run seed, stream tag, index), via NumPy's SeedSequence."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


def per_sample_normal(seed: int, stream: int, indices: range, shape: tuple[int, ...]) -> torch.Tensor:
    """Standard normals (len(indices), *shape) where row i comes from its own generator seeded by
    (seed, stream, indices[i]): sample k is the same whatever batch it is drawn in."""
    out = torch.empty((len(indices), *shape))
    for row, k in enumerate(indices):
        gen = torch.Generator().manual_seed(derive_seed(seed, stream, k))
        out[row] = torch.randn(shape, generator=gen)
    return out
