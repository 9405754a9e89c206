"""EBIPLA on your own images, from Python (docs/own-data.md, docs/python-api.md).

    python examples/own_images.py [--out results/examples/images]

Writes scikit-learn's digits as PNG files into class subfolders, trains the offline FID feature extractor on them
and computes the folder's FID reference (two CLI commands), trains EBIPLA on the folder with
examples/own_images.yaml, evaluates the run and the untrained model (iteration 0) the same way, and prints FID and
reconstruction MSE of both.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

import ebipla
from ebipla.evaluate import evaluate_run

HERE = Path(__file__).resolve().parent


def write_digits(folder: Path) -> Path:
    """The 1,797 digits as 8 x 8 greyscale PNGs, <folder>/<label>/<index>.png."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        path = folder / str(label) / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.uint8(image * 255 / 16), mode="L").save(path)
    return folder


def main(out: str | Path = "results/examples/images", overrides: list[str] = ()) -> dict[str, dict]:
    out = Path(out)
    folder = write_digits(out / "digits_png")
    sets = [f"data.folder.path={folder}", f"data.root={out / 'datasets'}",
            f"eval.fid.weights_path={out / 'classifier.pt'}", *overrides]
    cli = [sys.executable, "-m", "ebipla.cli"]
    config = ["--config", str(HERE / "own_images.yaml"), *[a for s in sets for a in ("--set", s)]]
    subprocess.run([*cli, "digits-classifier", *config, "--out", str(out / "classifier.pt")], check=True)
    subprocess.run([*cli, "fid-ref", *config], check=True)  # <data.root>/digits_png/fid_ref_digits-cnn.npz

    cfg = ebipla.load_config(HERE / "own_images.yaml", sets)
    metrics = {}
    for name, until in (("untrained", 0), ("trained", None)):  # iteration 0: the initial checkpoint
        run = ebipla.train(cfg, out / name, until_iteration=until)
        metrics[name] = {k: evaluate_run(run.run_dir)[k] for k in ("fid", "mse")}
    for name, m in metrics.items():
        print(f"{name:>9}: FID {m['fid']:.1f}, MSE {m['mse']:.4f}")
    print(f"samples and interpolations: {out / 'trained' / 'samples.png'}, {out / 'trained' / 'interpolations.png'}")
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/examples/images")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_args()
    main(args.out, args.set)
