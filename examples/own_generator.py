"""Your own generator network, from Python (docs/own-data.md): a small MLP in place of the linear generator.

    PYTHONPATH=examples python examples/own_generator.py [--out results/examples/generator]

``MlpGenerator`` below is what ``model.generator.target: "own_generator:MlpGenerator"`` in
examples/own_generator.yaml names; ebipla imports it, calls it with ``kwargs`` plus ``latent_dim`` and
``obs_shape``, and checks it on a probe batch. The script writes 3-D points near the closed curve
(cos t, sin t, cos 2t), trains EBIPLA with the generator, and prints the MMD^2 of the untrained and trained model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent


class MlpGenerator(nn.Module):
    """g_beta: latents (B, latent_dim) -> observations (B, d): two SiLU layers of ``hidden`` units."""

    def __init__(self, latent_dim: int, obs_shape: tuple[int, ...], hidden: int = 64):
        super().__init__()
        (d,) = obs_shape
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def write_curve(path: Path, n: int = 4000, seed: int = 0) -> Path:
    """n points (cos t, sin t, cos 2t) + N(0, 0.05^2 I), t ~ U(0, 2 pi): float32 (n, 3) in a .npy file."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    points = np.stack([np.cos(t), np.sin(t), np.cos(2 * t)], 1) + rng.normal(scale=0.05, size=(n, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, points.astype(np.float32))
    return path


def main(out: str | Path = "results/examples/generator", overrides: list[str] = ()) -> dict[str, float]:
    import ebipla
    from ebipla.evaluate import evaluate_run

    if str(HERE) not in sys.path:  # where ebipla imports "own_generator" from (as PYTHONPATH=examples does)
        sys.path.insert(0, str(HERE))
    out = Path(out)
    data = write_curve(out / "curve.npy")
    cfg = ebipla.load_config(HERE / "own_generator.yaml",
                             [f"data.array.path={data}", f"data.root={out / 'datasets'}", *overrides])
    mmd2 = {}
    for name, until in (("untrained", 0), ("trained", None)):  # iteration 0: the initial checkpoint
        run = ebipla.train(cfg, out / name, until_iteration=until)
        mmd2[name] = evaluate_run(run.run_dir)["mmd2"]
    print(f"MMD^2 against the validation points: untrained {mmd2['untrained']:.4g}, trained {mmd2['trained']:.4g}")
    return mmd2


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/examples/generator")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_args()
    main(args.out, args.set)
