"""The linear-probe study (ebipla/studies/probe.py, issue 16 item 3): the probe on synthetic labels, the label
draws, the replayed training schedule, feature extraction on tiny trained digits runs, the table and report.md
section from hand-made files, and the workflow's plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ebipla.config import load_config
from ebipla.data.images import load_split, split_labels
from ebipla.errors import ConfigError, DataError
from ebipla.studies import probe
from ebipla.trainer import train
from workflow_helpers import REPO, copy_repo, run

CPU = torch.device("cpu")


# ------------------------------------------------------------------------------------------------ the probe


def blobs(n: int, k: int, d: int, gap: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points of k classes in R^d: class c around gap * e_c, unit noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(k, size=n)
    return rng.normal(size=(n, d)) + gap * np.eye(d)[labels], labels


def test_probe_separates_separable_classes():
    x, y = blobs(600, 4, 6, gap=8.0, seed=0)
    accuracy, c = probe.fit_probe(x[:400], y[:400], x[400:], y[400:], seed=0)
    assert accuracy >= 0.99
    assert c in probe.C_GRID


def test_probe_on_random_labels_is_at_chance():
    x, _ = blobs(3000, 4, 6, gap=8.0, seed=1)
    y = np.random.default_rng(2).integers(4, size=3000)  # independent of x
    accuracy, _ = probe.fit_probe(x[:1000], y[:1000], x[1000:], y[1000:], seed=0)
    assert abs(accuracy - 0.25) < 0.04  # 2000 test points: s.d. of chance accuracy ~0.01


def test_class_subsets_are_balanced_seeded_and_refuse_short_classes():
    labels = np.repeat(np.arange(3), [10, 12, 7])
    a = probe.class_subset(labels, 5, seed=0, draw=0)
    assert np.array_equal(np.bincount(labels[a]), [5, 5, 5]) and np.all(np.diff(a) > 0)
    assert np.array_equal(a, probe.class_subset(labels, 5, seed=0, draw=0))
    assert not np.array_equal(a, probe.class_subset(labels, 5, seed=0, draw=1))
    assert probe.class_subset(labels, 8, seed=0, draw=0) is None  # class 2 has 7
    kept = probe.subset_indices(100, 30, seed=0, split=0)
    assert len(set(kept)) == 30 and np.all(np.diff(kept) > 0) and kept.max() < 100
    assert np.array_equal(probe.subset_indices(100, None, 0, 0), np.arange(100))


def test_digit_labels_follow_the_prepared_order():
    cfg = load_config([], ["data.name=digits", "data.n_points=40", "train.batch_size=10"])
    train_labels, val_labels = split_labels(cfg.data, "train"), split_labels(cfg.data, "val")
    assert len(train_labels) == len(load_split(cfg.data, "train")) == 40
    assert len(val_labels) == len(load_split(cfg.data, "val")) == 1797 - 1500
    assert train_labels[:10].tolist() == list(range(10))  # scikit-learn's digits start 0, 1, ..., 9
    with pytest.raises(DataError, match="no class labels"):
        split_labels(load_config([], ["data.name=celeba64"]).data, "train")


def test_replayed_schedule_counts_the_training_visits():
    payload = {"particles": torch.zeros(1500, 10, 16), "iteration": 300}  # 20 epochs of 15 batches of 100
    base = str(REPO / "config/images/one_protocol/digits_{}.yaml")
    ebipla = load_config([base.format("ebipla")])  # warm-up 100 iterations = 6.67 epochs -> 7 x 10 inner steps
    assert probe.replay_schedule(ebipla, payload) == [(1, 0.005, 70), (10, 0.018, 13)]
    assert probe.replay_schedule(load_config([base.format("pgd")]), payload) == [(10, 0.018, 20)]
    abp = {"particles": torch.zeros(1500, 1, 16), "iteration": 300}
    assert probe.replay_schedule(load_config([base.format("abp")]), abp) == [(1, 0.005, 400)]


# ------------------------------------------------------------------------------------------------ tiny runs

TINY = ["data.n_points=100", "train.batch_size=50", "train.n_epochs=2", "model.generator.ngf=4",
        "model.latent_dim=4", "device=cpu"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> dict[str, str]:
    """EBIPLA (warm-up of one iteration, N' = 1 -> N = 2) and the VAE, 4 iterations each on 100 digits."""
    root = tmp_path_factory.mktemp("probe_runs")
    files = {"ebipla": ["algorithm.warmup_iters=1", "algorithm.n_particles=2", "algorithm.n_prior_steps=3"],
             "vae": []}
    runs = {}
    for method, sets in files.items():
        cfg = load_config([str(REPO / f"config/images/one_protocol/digits_{method}.yaml")], TINY + sets)
        train(cfg, root / method)
        runs[method] = str(root / method)
    return runs


def test_features_of_tiny_runs(tiny_runs):
    settings = probe.ProbeSettings(labels_per_class=(5,), subsets=2, n_test=40, map_restarts=1, map_iterations=3,
                                   batch_size=32)
    long = probe.probe_study([tiny_runs["ebipla"], tiny_runs["vae"]], settings, "cpu")
    kinds = set(zip(long["method"], long["features"]))
    assert kinds == {("pixels", "pixels"), ("random", "map"), ("ebipla", "map"), ("ebipla", "particle_mean"),
                     ("vae", "map"), ("vae", "encoder_mean")}
    assert len(long) == len(kinds) * (1 + 2)  # all labels, then two draws of 5 per class
    assert long["accuracy"].between(0, 1).all() and (long["n_test"] == 40).all()
    full = long[long["labels"] == "all"].set_index(["method", "features"])
    assert full.loc[("pixels", "pixels"), "feature_dim"] == 3 * 32 * 32
    assert full.loc[("ebipla", "particle_mean"), "feature_dim"] == 4
    assert (full["n_train"] == 100).all()
    few = long[long["labels"] == "5"]
    assert (few["n_train"] == 50).all()


def test_training_features_are_the_particle_bank_and_chains_do_not_depend_on_the_batch(tiny_runs):
    from ebipla.run import load_run

    settings = probe.ProbeSettings(n_test=6, map_restarts=1, map_iterations=2, batch_size=4)
    cfg = probe.run_config(tiny_runs["ebipla"])
    data = probe.labelled_images(cfg, settings)
    sets = probe.run_features(tiny_runs["ebipla"], data, settings, CPU)
    bank = load_run(tiny_runs["ebipla"], CPU).payload["particles"]  # (100, 2, 4)
    particles = next(s for s in sets if s.features == "particle_mean")
    np.testing.assert_allclose(particles.train, bank.mean(1).double().numpy(), rtol=1e-6)
    trained = load_run(tiny_runs["ebipla"], CPU)
    stages = probe.replay_schedule(trained.cfg, trained.payload)
    images = data.images[100:]
    small = probe.chain_features(trained.model, images, 100, stages, settings, CPU)
    whole = probe.chain_features(trained.model, images, 100, stages,
                                 probe.ProbeSettings(batch_size=64), CPU)
    np.testing.assert_allclose(small, whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(particles.test, small, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------ table, report


def hand_made(path, dataset: str) -> None:
    """A long-form table: EBIPLA (all labels 0.9; 10 per class 0.7 and 0.9) and the pixels (0.5; 0.4, 0.4)."""
    rows = []
    for method, features, n, values in (("ebipla", "particle_mean", 10, [0.9, 0.7, 0.9]),
                                        ("pixels", "pixels", 0, [0.5, 0.4, 0.4])):
        for labels, subset, accuracy in zip(["all", "10", "10"], [0, 0, 1], values):
            rows.append({"dataset": dataset, "method": method, "N": n, "features": features, "labels": labels,
                         "subset": subset, "accuracy": accuracy, "C": 1.0, "n_train": 1500 if labels == "all" else 100,
                         "n_test": 297, "feature_dim": 16 if method == "ebipla" else 3072,
                         "run_seed": 0 if method == "ebipla" else None, "run": "r", "probe_seed": 0,
                         "feature_seconds": 1.0})
    pd.DataFrame(rows, columns=list(probe.FIELDS)).to_csv(path, index=False)


def test_table_and_report_section_from_hand_made_files(tmp_path):
    hand_made(tmp_path / "digits.csv", "digits")
    hand_made(tmp_path / "svhn.csv", "svhn")
    out = tmp_path / "table_probe"
    assert probe.main(["--tables", str(tmp_path / "digits.csv"), str(tmp_path / "svhn.csv"), "--out", str(out),
                       "--caption", "Hand-made."]) == 0
    md = out.with_suffix(".md").read_text()
    assert md.startswith("Hand-made.")
    ebipla_rows = [line for line in md.splitlines() if line.startswith("| digits") and "EBIPLA" in line]
    assert len(ebipla_rows) == 1
    cells = [c.strip() for c in ebipla_rows[0].strip("|").split("|")]
    assert cells[-2:] == ["90.0", "80.0 ± 10.0"]  # all labels; 10 / class: mean and s.e. of 0.7, 0.9
    assert "`particle_mean`" in md and "1500 training, 297 held-out" in md
    assert len(pd.read_csv(out.with_suffix(".csv"))) == 12
    assert "80.0 ± 10.0" in out.with_suffix(".tex").read_text().replace("$\\pm$", "±")
    section = probe.report_section([str(out.with_suffix(".csv"))])
    assert section[:3] == ["", "## What the latents are good for: a linear probe", ""]
    assert "- digits, 10 / class: EBIPLA 80.0 (particle_mean); raw pixels 40.0 (pixels)." in section


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="at least 5 per class"):
        probe.main(["--runs", "x", "--out", str(tmp_path / "t"), "--labels-per-class", "2"])
    with pytest.raises(ConfigError, match="--subsets = 0"):
        probe.main(["--runs", "x", "--out", str(tmp_path / "t"), "--subsets", "0"])
    with pytest.raises(ConfigError, match="not a trained run"):
        probe.main(["--runs", str(tmp_path), "--out", str(tmp_path / "t")])
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="not a probe table"):
        probe.main(["--tables", str(tmp_path / "other.csv"), "--out", str(tmp_path / "t")])


# ------------------------------------------------------------------------------------------------ workflow


def test_quick_and_full_configs_plan_the_probe(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    target = "results/paper/table_probe.md"

    def commands(out: str) -> list[str]:
        return [line for line in out.splitlines() if "ebipla study probe --runs" in line]

    quick = run(["snakemake", "-n", "--forceall", "-p", target, "--configfile", "config/quick.yaml"], repo)
    (digits,) = commands(quick)
    assert "--out results/studies/probe/digits " in digits and "--map-iterations 20" in digits
    assert all(f"digits/{m}/N{n}/protocol/seed0" in digits
               for m, n in (("ebipla", 10), ("lebm", 20), ("vae", 1), ("abp", 20), ("pgd", 10), ("rae", 1)))
    full = commands(run(["snakemake", "-n", "--forceall", "-p", target], repo))
    assert sorted(c.split("--out ")[1].split()[0] for c in full) == ["results/studies/probe/cifar10",
                                                                     "results/studies/probe/svhn"]
    assert all(c.count("/protocol/seed") == 6 * 3 and "--n-train 10000" in c for c in full)
