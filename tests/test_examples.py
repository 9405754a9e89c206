"""The examples of docs/own-data.md, run as a user runs them: vectors from a CSV, a folder of PNG images and a
user-defined generator from a module outside the package, each trained through the Python API to a metric far
better than its untrained model's; the vectors and the generator also through the CLI (to bitwise the same model),
and the vectors through `snakemake` with a `custom` entry. Margins measured on 2 CPU cores (seed 0): vectors MMD^2
0.087 -> -0.0003; generator MMD^2 0.288 -> 0.0012; images: see the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ebipla.checkpoint import load_checkpoint
from workflow_helpers import REPO, copy_repo, run, tool_env

EXAMPLES = REPO / "examples"
PYTHONPATH = os.environ.get("PYTHONPATH", "")


def example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_model(a: Path, b: Path) -> None:
    """Two run directories hold bitwise the same trained model and particles."""
    pa, pb = load_checkpoint(a / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
    assert pa["iteration"] == pb["iteration"] > 0
    for name, value in pa["model"].items():
        assert torch.equal(value, pb["model"][name]), name
    assert torch.equal(pa["particles"], pb["particles"])


def cli(*args: str, env: dict | None = None) -> str:
    """The CLI in a subprocess with this process's torch thread count: bitwise comparisons need the same reduction
    order (tool_env alone would give one thread)."""
    threads = {"OMP_NUM_THREADS": str(torch.get_num_threads())}
    return run([sys.executable, "-m", "ebipla.cli", *args], REPO, {**(env or tool_env()), **threads})


def test_own_vectors_through_the_api_and_the_cli(tmp_path):
    mmd2 = example("own_vectors").main(tmp_path)
    assert mmd2["trained"] < 0.1 * mmd2["untrained"], mmd2
    sets = [f"data.array.path={tmp_path / 'mixture.csv'}", f"data.root={tmp_path / 'datasets'}"]
    cli("train", "--config", str(EXAMPLES / "own_vectors.yaml"), "--config", str(EXAMPLES / "own_vectors_ebipla.yaml"),
        *[a for s in sets for a in ("--set", s)], "--out", str(tmp_path / "cli"))
    same_model(tmp_path / "trained", tmp_path / "cli")
    cli("evaluate", "--run", str(tmp_path / "cli"))
    metrics = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert metrics["mmd2"] == pytest.approx(mmd2["trained"], rel=1e-6, abs=1e-9)


def test_own_generator_from_a_module_outside_the_package(tmp_path):
    user = tmp_path / "user"  # the user's own folder: the generator's module and its config
    user.mkdir()
    for name in ("own_generator.py", "own_generator.yaml"):
        shutil.copy(EXAMPLES / name, user / name)
    out = run([sys.executable, str(user / "own_generator.py"), "--out", str(tmp_path / "api")], tmp_path,
              tool_env({"OMP_NUM_THREADS": str(torch.get_num_threads())}))  # as cli() below: the same threads
    untrained, trained = map(float, re.search(r"untrained (\S+), trained (\S+)", out).groups())
    assert trained < 0.1 * untrained, out
    checkpoint = load_checkpoint(tmp_path / "api" / "trained" / "checkpoint.pt")
    assert checkpoint["config"]["model"]["generator"]["target"] == "own_generator:MlpGenerator"
    sets = [f"data.array.path={tmp_path / 'api' / 'curve.npy'}", f"data.root={tmp_path / 'api' / 'datasets'}"]
    cli("train", "--config", str(user / "own_generator.yaml"), *[a for s in sets for a in ("--set", s)],
        "--out", str(tmp_path / "cli"), env=tool_env({"PYTHONPATH": os.pathsep.join([str(user), PYTHONPATH])}))
    same_model(tmp_path / "api" / "trained", tmp_path / "cli")


def test_own_images_folder_through_the_api(tmp_path):
    # Shorter than the example's defaults (6 epochs, 30 warm-up iterations): 3 epochs (45 iterations), 10 of them
    # warm-up, and fewer images scored. Measured: FID 3300 -> 1700, MSE 0.65 -> 0.10. That the CLI trains the same
    # model as the API is shown on the vectors above.
    short = ["train.n_epochs=3", "algorithm.warmup_iters=10", "eval.fid.n_samples=300", "eval.mse.n_images=60"]
    metrics = example("own_images").main(tmp_path, short)
    assert metrics["trained"]["fid"] < 0.6 * metrics["untrained"]["fid"], metrics
    assert metrics["trained"]["mse"] < 0.3 * metrics["untrained"]["mse"], metrics
    assert (tmp_path / "trained" / "samples.png").stat().st_size > 0


def test_own_vectors_through_snakemake_with_a_custom_entry(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    csv = example("own_vectors").write_mixture(tmp_path / "mixture.csv", n=1500)
    entry = yaml.safe_load((repo / "config" / "custom.example.yaml").read_text())["custom"][0]
    entry.update(name="vec", methods={"ebipla": [4], "lebm": [4]}, seeds=[0],
                 set=[f"data.array.path={csv}", "train.n_epochs=10", *entry["set"]])
    (repo / "custom.yaml").write_text(yaml.safe_dump({"custom": [entry]}))
    targets = [f"results/custom/vec/{f}" for f in ("table.csv", "table.md", "samples.png", "samples.pdf")]
    out = run(["snakemake", "--cores", "2", *targets, "--configfile", "custom.yaml"], repo)
    assert "rule custom_train" in out and "rule custom_prepare" in out
    table = (repo / "results" / "custom" / "vec" / "table.csv").read_text().splitlines()
    assert table[0].startswith("algorithm.name,N,metric,mean,se,n,unfinished")
    rows = {tuple(line.split(",")[:3]): line.split(",") for line in table[1:]}
    for method in ("ebipla", "lebm"):
        mmd2 = rows[(method, "4", "mmd2")]
        assert mmd2[5] == "1" and mmd2[6] == "0" and float(mmd2[3]) < 0.01, mmd2  # one seed, finished
    metrics = json.loads((repo / "results/custom/vec/lebm/N4/seed0/metrics.json").read_text())
    assert metrics["algorithm"] == "lebm" and metrics["n"] == 4 and metrics["dataset"] == "array"
    assert (repo / "results/custom/vec/samples.png").stat().st_size > 0
    dry = subprocess.run(["snakemake", "-n", *targets, "--configfile", "custom.yaml"], cwd=repo, env=tool_env(),
                         capture_output=True, text=True)
    assert "Nothing to be done" in dry.stdout + dry.stderr
