"""How close each method's samples lie to the training digits: the median over the 64 stored samples
(samples.npz of seed 0) of the RMS pixel distance (0-255 scale) to the nearest of the 1,500 training digits, beside
the same for 64 held-out digits. A method that copied training digits would sit far below the held-out value.

    python docs/results/digits-one-protocol/nearest_training_digit.py   # after the quick baselines experiment
"""

import numpy as np
import torch

RUNS = "results/runs/images/digits/{method}/N{n}/protocol/seed0/samples.npz"
METHODS = [("ebipla", 10), ("lebm", 20), ("vae", 1), ("abp", 20), ("pgd", 10), ("rae", 1)]

train = torch.load("results/datasets/digits/train.pt").float().flatten(1)  # (1500, 3072), 0-255
held_out = torch.load("results/datasets/digits/val.pt").float().flatten(1)[:64]  # (64, 3072)


def median_nearest(x: torch.Tensor) -> float:
    distances = torch.cdist(x.float().flatten(1), train) / train.shape[1] ** 0.5  # (64, 1500) RMS per pixel
    return distances.min(dim=1).values.median().item()


print(f"held-out digits  {median_nearest(held_out):6.1f}")
for method, n in METHODS:
    grid = torch.from_numpy(np.load(RUNS.format(method=method, n=n))["grid"])  # (64, 3, 32, 32), 0-255
    print(f"{method:15s}  {median_nearest(grid):6.1f}")
