"""The persistent particle bank X^{1:M, 1:N}, (M, N, d_x): on the training device, or in pinned CPU memory.

With ``train.particle_storage: pinned_cpu`` (for M x N x d_x too large for the GPU) the bank stays in page-locked
host memory: each iteration copies the batch's particles to the device and back, and the all-particle noise is
drawn on the device in chunks of rows, so the random stream, and therefore the run, is the same for both storages.

Copies: host to device may be asynchronous (``non_blocking=True``; its source, the gathered rows, is a fresh
pageable tensor, which CUDA stages before the call returns). Every device-to-host copy is synchronous, because the
CPU reads its result right after (to index, scatter or add): with ``non_blocking=True`` a CUDA-to-CPU copy returns
before the data has arrived and nothing would wait for it, so the CPU would read stale memory (wrong particles,
silently). ``ebipla gpu-check`` compares training iterations on both storages.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

NOISE_CHUNK_ELEMENTS = 1 << 24  # rows of noise drawn at once: at most 64 MB of float32


def new_bank(shape: tuple[int, ...], gen: torch.Generator, storage: str) -> torch.Tensor:
    """X_0 ~ N(0, I) of ``shape``, drawn on the generator's device chunk by chunk of rows (as :func:`add_noise`)
    straight into its storage: a pinned_cpu bank never has to fit on the GPU, and both storages hold the same
    values. A bank of at most NOISE_CHUNK_ELEMENTS elements is one draw."""
    pinned = storage == "pinned_cpu" and torch.cuda.is_available()
    bank = torch.empty(shape, pin_memory=True) if pinned else torch.empty(shape, device=gen.device)
    for block in _row_blocks(bank):
        block.copy_(torch.randn(block.shape, generator=gen, device=gen.device))
    return bank


def _row_blocks(bank: torch.Tensor) -> Iterator[torch.Tensor]:
    """Views of consecutive rows of ``bank``, at most NOISE_CHUNK_ELEMENTS elements each (at least one row)."""
    rows = max(1, NOISE_CHUNK_ELEMENTS // max(1, bank[0].numel()))
    for start in range(0, bank.shape[0], rows):
        yield bank[start:start + rows]


def gather(bank: torch.Tensor, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """X^{B, 1:N} on the compute device, (B, N, d_x)."""
    rows = bank[idx.to(bank.device)]  # indices to the host synchronously: the CPU indexes with them
    return rows.to(device, non_blocking=True)  # host to device


def scatter(bank: torch.Tensor, idx: torch.Tensor, values: torch.Tensor) -> None:
    """X^{B, 1:N} <- values (in place)."""
    bank[idx.to(bank.device)] = values.to(bank.device)  # device to host synchronously: the CPU writes them next


def add_noise(bank: torch.Tensor, std: float, gen: torch.Generator) -> None:
    """X += std * W for every particle, W ~ N(0, I) drawn from ``gen`` on its device, chunk by chunk of rows."""
    for block in _row_blocks(bank):
        noise = torch.randn(block.shape, generator=gen, device=gen.device)
        block.add_(noise.to(block.device), alpha=std)  # device to host synchronously: the CPU adds it next
