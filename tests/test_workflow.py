"""The Snakemake workflow without running jobs: lint, the full plan, config validation, site settings."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ebipla.config import load_config
from ebipla.evaluate_images import reference_path
from workflow_helpers import REPO, copy_repo, run, tool_env

# Synthetic: 3 data sets x 2 methods x N in {4, 16, 64} x 5 seeds, plus the J ablation (2 data sets x 5 values
# of J) and the synthetic baselines figure's PGD and ABP. Images: Table 1 (3 data sets x 2 methods x 5 seeds),
# Table 2(a) (CelebA-HQ, 1 run), Table 2(b) (SVHN, N in {1, 4, 16, 32} x 5 seeds), and the one-protocol comparison
# (3 data sets x 6 methods x 5 seeds, run directories of their own).
SYNTHETIC_TRAINING_JOBS = 3 * 2 * 3 * 5 + 2 * 5 + 2
IMAGE_TRAINING_JOBS = 3 * 2 * 5 + 1 + 4 * 5 + 3 * 6 * 5
FULL_TRAINING_JOBS = SYNTHETIC_TRAINING_JOBS + IMAGE_TRAINING_JOBS
BASELINES = ("ebipla", "lebm", "vae", "abp", "pgd", "rae")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("workflow") / "repo")


def planned(repo: Path, *args: str, env: dict | None = None) -> str:
    return run(["snakemake", "-n", "--forceall", *args], repo, env)


def counts(dry_run: str) -> dict[str, int]:
    table = dry_run.split("Job stats:")[1].split("Reasons:")[0]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def test_lint_and_format_are_clean():
    run(["snakemake", "--lint"], REPO)
    run(["snakefmt", "--check", "Snakefile", "workflow"], REPO)


def test_full_config_plans_every_training_job_of_the_paper(repo):
    jobs = counts(planned(repo))
    assert jobs["train"] == FULL_TRAINING_JOBS
    assert jobs["evaluate_synthetic"] == SYNTHETIC_TRAINING_JOBS
    assert jobs["evaluate_images"] == IMAGE_TRAINING_JOBS
    assert jobs["synthetic_data"] == 3 and jobs["timing"] == 1 and jobs["timing_images"] == 1
    assert jobs["prepare_images"] == 4 and jobs["fid_reference"] == 4 and jobs["inception_weights"] == 1
    assert jobs["fid_baselines"] == 3 * 2  # FID reference points: Table 1's first seed per data set and method
    # Every artifact of results/paper: tables 1, 2(a), 2(b) and 5-7, and one job per other table and figure.
    assert jobs["image_table"] == 3 and jobs["literature_table"] == 3
    for rule in ("synthetic_mmd_table", "table4", "figure1", "figure2", "figure4", "figure5", "figure_j_ablation",
                 "figure_theory", "paper_report", "table_one_protocol", "figure_baselines_synthetic"):
        assert jobs[rule] == 1, rule


def test_full_plan_lists_each_image_experiment(repo):
    out = planned(repo, "--quiet", "all")
    for path in ("svhn/ebipla/N10/paper/seed4", "celeba64/lebm/N20/paper/seed0", "celebahq/ebipla/N5/paper/seed0",
                 "svhn/ebipla/N32/paper/seed2", "cifar10/ebipla/N10/paper/seed0"):
        assert f"results/runs/images/{path}/train_summary.json" in out, path


def train_commands(plan: str) -> dict[str, str]:
    """The planned (``-p``) training commands by run directory."""
    return {m[1]: m[0] for m in re.findall(r"^Shell command: (.*ebipla train .*--out (\S+) .*)$", plan, flags=re.M)}


def test_full_plan_runs_the_one_protocol_comparison_apart_from_table1(repo):
    commands = train_commands(planned(repo, "-p"))
    for dataset in ("svhn", "cifar10", "celeba64"):
        for method, n in zip(BASELINES, (10, 20, 1, 20, 10, 1)):
            for seed in range(5):
                run = f"results/runs/images/{dataset}/{method}/N{n}/protocol/seed{seed}"
                assert f"--config config/images/one_protocol/{dataset}_{method}.yaml" in commands[run], run
    # Table 1's own-settings runs are not the comparison's.
    assert "--config config/images/svhn_ebipla.yaml" in commands["results/runs/images/svhn/ebipla/N10/paper/seed0"]
    # N sets the method's own key; the autoencoders have none.
    assert "--set algorithm.n_particles=10 " in commands["results/runs/images/svhn/pgd/N10/protocol/seed0"]
    assert "--set algorithm.n_posterior_steps=20 " in commands["results/runs/images/svhn/abp/N20/protocol/seed0"]
    assert "algorithm.n_" not in commands["results/runs/images/svhn/vae/N1/protocol/seed0"]
    # The synthetic baselines at the grid's paper settings, from their own files, without the grid's overlays.
    pgd = commands["results/runs/synthetic/swissroll/pgd/N4/protocol/seed0"]
    assert "--config config/synthetic/baselines/swissroll_pgd.yaml --set seed=0" in pgd
    assert "--set train.n_epochs=200" in pgd and "--set algorithm.n_particles=4 " in pgd
    assert "results/runs/synthetic/swissroll/abp/N16/protocol/seed0" in commands


def test_quick_and_ci_configs_plan_smaller_runs(repo):
    plan = planned(repo, "-p", "--configfile", "config/quick.yaml")
    quick = counts(plan)
    # The synthetic grid, the J ablation, the digits (EBIPLA N = 1 and 10, LEBM N = 10), the one-protocol
    # comparison on the digits (6 methods) and the synthetic baselines (PGD, ABP).
    assert quick["train"] == 3 * 2 * 2 + 3 + 3 + 6 + 2
    assert quick["evaluate_images"] == 3 + 6 and quick["digits_classifier"] == 1 and "inception_weights" not in quick
    assert quick["image_table"] == 3 and quick["literature_table"] == 3 and quick["paper_report"] == 1
    assert quick["table_one_protocol"] == 1 and quick["figure_baselines_synthetic"] == 1
    assert quick["fid_baselines"] == 2  # the digits' EBIPLA and LEBM runs of Table 1
    commands = train_commands(plan)
    for method, n in zip(BASELINES, (10, 20, 1, 20, 10, 1)):
        run = f"results/runs/images/digits/{method}/N{n}/protocol/seed0"
        assert f"--config config/images/one_protocol/digits_{method}.yaml --set seed=0" in commands[run], run
    pgd = commands["results/runs/synthetic/swissroll/pgd/N4/protocol/seed0"]
    assert "n_epochs" not in pgd and "quick.yaml" not in pgd  # the file's own quick settings
    ci = planned(repo, "-p", "--configfile", "tests/config/ci.yaml")
    jobs = counts(ci)
    # Two short runs of the comparison (VAE, PGD N = 2) with the CI overlay; no synthetic baselines figure.
    assert jobs["train"] == 9 + 2 and jobs["table_one_protocol"] == 1 and "figure_baselines_synthetic" not in jobs
    commands = train_commands(ci)
    assert "--config tests/config/ci_protocol.yaml" in commands["results/runs/images/digits/vae/N1/protocol/seed0"]
    assert "--set algorithm.n_particles=2 " in commands["results/runs/images/digits/pgd/N2/protocol/seed0"]


def test_a_training_job_depends_on_its_config_files_base_files(repo):
    """Editing a base file (config/images/ebipla.yaml) must rerun the trainings whose configs build on it."""
    plan = planned(repo, "results/runs/images/svhn/ebipla/N10/paper/seed0/train_summary.json")
    inputs = re.search(r"rule train:\n\s+input: (.*)", plan)[1].split(", ")
    assert inputs == ["config/images/ebipla.yaml", "config/images/svhn.yaml", "config/images/svhn_ebipla.yaml",
                      "results/datasets/svhn/manifest.json"]


def test_fid_reference_has_the_name_evaluate_looks_for(repo):
    """The workflow's FID statistics sit where `ebipla evaluate --run` looks without --set (one file per extractor)."""
    for dataset, config in (("svhn", "config/images/svhn_ebipla.yaml"), ("digits", "config/images/digits_ebipla.yaml")):
        plan = planned(repo, f"results/runs/images/{dataset}/ebipla/N10/paper/seed0/metrics.json")
        default = reference_path(load_config([REPO / config]))
        job = plan.split("rule fid_reference:")[1].split("rule ")[0]
        assert re.search(r"output: (.*)", job)[1] == str(default), dataset
        evaluate = plan.split("rule evaluate_images:")[1].split("rule ")[0]
        assert str(default) in re.search(r"input: (.*)", evaluate)[1]


def test_autoencoders_take_no_n_and_a_variant_has_one_set_of_files(repo, tmp_path):
    bad = tmp_path / "n.yaml"
    bad.write_text(yaml.safe_dump({"images": {"experiments": [
        {"name": "baselines", "variant": "protocol", "run_configs": "config/images/one_protocol",
         "datasets": ["digits"], "methods": {"vae": [2]}, "seeds": [0]}]}}))
    proc = subprocess.run(["snakemake", "-n", "--configfile", str(bad)], cwd=repo, env=tool_env(),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "1 was expected" in proc.stdout + proc.stderr  # VAE: N = 1 only
    bad.write_text(yaml.safe_dump({"images": {"experiments": [
        {"name": "table1", "variant": "protocol", "run_configs": "config/images/one_protocol", "datasets": ["digits"],
         "methods": {"ebipla": [4]}, "seeds": [0]},
        {"name": "baselines", "variant": "protocol", "run_configs": "config/images", "datasets": ["digits"],
         "methods": {"vae": [1]}, "seeds": [0]}]}}))
    proc = subprocess.run(["snakemake", "-n", "--configfile", str(bad)], cwd=repo, env=tool_env(),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "variant 'protocol'" in proc.stdout + proc.stderr


def test_config_typo_is_rejected_with_the_key(repo, tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("synthetic:\n  seed: [1]\n")
    proc = subprocess.run(["snakemake", "-n", "--configfile", str(bad)], cwd=repo, env=tool_env(),
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "'seed' was unexpected" in proc.stderr + proc.stdout


def test_site_settings_come_from_environment_and_file(repo, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("gpu_partition: gpu-short\naccount: from-file\ngpu_model: a100\nruntime_train: 90\n")
    env = tool_env({"EBIPLA_SITE_FILE": str(site), "EBIPLA_ACCOUNT": "from-env", "EBIPLA_PARTITION": "cpu-part"})
    out = planned(repo, "--configfile", "tests/config/ci.yaml", env=env)
    train = out.split("rule train:")[1].split("rule ")[0]
    assert "slurm_partition=gpu-short" in train and "slurm_account=from-env" in train
    assert "gpu_model=a100" in train and "runtime=90" in train
    evaluate = out.split("rule evaluate_synthetic:")[1].split("rule ")[0]
    assert "slurm_partition=cpu-part" in evaluate
    site.write_text("gpu_partiton: typo\n")
    proc = subprocess.run(["snakemake", "-n"], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "gpu_partiton" in proc.stdout + proc.stderr


def test_custom_entries_plan_their_jobs(repo, tmp_path):
    """config['custom']: a folder of images (FID with Inception's weights) and a vector file, each method x N x seed
    trained and evaluated as a SLURM-able job, one table and figure per entry; a bad entry is rejected."""
    images = tmp_path / "imgs.yaml"
    images.write_text("base: [gen.yaml]\n"
                      "data: {name: folder, n_points: null, folder: {path: my_pngs, image_size: 32}}\n")
    (tmp_path / "gen.yaml").write_text("model: {generator: {kind: dcgan}}\n")
    entries = {"custom": [
        {"name": "pics", "config": str(images), "methods": {"ebipla": [2, 4]}, "seeds": [0, 1]},
        {"name": "vec", "config": "examples/own_vectors.yaml", "method_configs":
         {"lebm": "examples/own_vectors_lebm.yaml"}, "methods": {"ebipla": [4], "lebm": [8]}, "seeds": [3]},
    ]}
    extra = tmp_path / "custom.yaml"
    extra.write_text(yaml.safe_dump(entries))
    plan = planned(repo, "-p", "--configfile", "tests/config/ci.yaml", str(extra))
    jobs = counts(plan)
    assert jobs["custom_train"] == 4 + 2 and jobs["custom_evaluate"] == 6
    assert jobs["custom_prepare"] == 2 and jobs["custom_fid_reference"] == 1 and jobs["inception_weights"] == 1
    assert jobs["custom_table"] == 2 and jobs["custom_figure"] == 2
    prepare = [b for b in plan.split("rule custom_prepare:")[1:] if "custom/pics/" in b][0]
    assert re.search(r"input: (.*)", prepare)[1].split(", ") == [str(tmp_path / "gen.yaml"), str(images)]
    assert f"ebipla prepare --config {images} " in prepare  # the base comes in through the file, not twice
    train = [b for b in plan.split("rule custom_train:")[1:] if "vec/lebm/N8/seed3" in b][0]
    assert "--set algorithm.name=lebm --set algorithm.n_posterior_steps=8 --set seed=3" in train
    assert "--config examples/own_vectors_lebm.yaml" in train and "slurm_partition" in train
    evaluate = [b for b in plan.split("rule custom_evaluate:")[1:] if "pics/ebipla/N2/seed1" in b][0]
    assert "eval.fid.reference=results/custom/pics/fid_ref.npz" in evaluate
    extra.write_text(yaml.safe_dump({"custom": [{"name": "x y", "config": "a.yaml", "methods": {}, "seeds": [0]}]}))
    proc = subprocess.run(["snakemake", "-n", "--configfile", "tests/config/ci.yaml", str(extra)], cwd=repo,
                          env=tool_env(), capture_output=True, text=True)
    assert proc.returncode != 0 and "does not match" in proc.stdout + proc.stderr
