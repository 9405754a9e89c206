"""What every benchmark of :mod:`ebipla.bench` shares: a wall-clock timer that waits for the device, the machine's
load (timings are comparable only at similar load) and an atomic CSV writer."""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..checkpoint import atomic_write_text


def timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    def timed(fn: Callable[[], object]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return timed


def load_average() -> float:
    """The machine's 1-minute load average (NaN where unknown): timings are only comparable at similar load."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return math.nan


def write_csv(out: str | Path, rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the same keys) as a CSV with a header, atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out, buf.getvalue())
