"""DVC over the workflow, in a scratch git repository whose default config is the CI config.

dvc repro produces the artifacts (every table and figure, whose numbers report.md traces back to the runs, and
`snakemake --report`'s HTML), starting from the SLURM test's finished run of the same config where there is one
(so that the suite runs the whole workflow once); a second dvc repro does nothing and dvc status is clean; switching
the scale in params.yaml reruns the stage on the named config, and the next dvc repro does nothing; changing one
experiment's parameter reruns only the jobs that depend on it; dvc push to a local remote, deleting the outputs,
dvc pull and regenerating the figures retrains nothing, also in a fresh clone.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from paper_checks import check_artifacts, check_ci_outputs
from workflow_helpers import copy_repo, merged_ci_config, run

OUTS = ("results/data", "results/datasets", "results/runs", "results/timing", "results/paper")


def digests(repo: Path, pattern: str) -> dict[str, str]:
    return {str(p.relative_to(repo)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((repo / "results").rglob(pattern))}


def jobs_run(log: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule in re.findall(r"^(?:local)?rule (\w+):", log, flags=re.M):
        counts[rule] = counts.get(rule, 0) + 1
    return counts


@pytest.mark.xdist_group("slurm")
def test_dvc_repro_rerun_push_pull(tmp_path, slurm_workflow):
    repo = tmp_path / "repo"
    if slurm_workflow.repo is not None:
        # Start from the SLURM test's finished workflow (the same CI config.yaml; copytree keeps the file times
        # and Snakemake's records): dvc repro runs the stage, Snakemake finds nothing to do, DVC caches the outputs.
        shutil.copytree(slurm_workflow.repo, repo, symlinks=True)
        first = run(["dvc", "repro"], repo)
        assert "train" not in jobs_run(first), first[-3000:]
    else:  # no SLURM here: dvc repro runs the whole workflow itself
        copy_repo(repo)
        merged_ci_config(repo)
        first = run(["dvc", "repro"], repo)
        assert jobs_run(first)["train"] == 11
    captions = check_ci_outputs(repo)
    # snakemake --report: one self-contained HTML file with every table and figure and its caption.
    run(["snakemake", "--report", "results/report.html"], repo)
    html = (repo / "results" / "report.html").read_text()
    for name in ("figure_theory.png", "table4.csv", "table4.html", "synthetic_mmd.html", "report.md", "figure1.png"):
        assert name in html, name
    assert captions["figure_theory"] in html and captions["table1"] in html
    assert (repo / "dvc.lock").exists()
    checkpoints = digests(repo, "checkpoint.pt")
    assert len(checkpoints) == 11

    # Nothing changed: nothing runs, and the status is clean.
    second = run(["dvc", "repro"], repo)
    assert "didn't change, skipping" in second and not jobs_run(second)
    assert "up to date" in run(["dvc", "status"], repo)

    # The scale is a DVC parameter (params.yaml's configfile): switching it reruns the stage on the named file (here
    # a copy of the same CI config, so Snakemake finds nothing to train), a bare `snakemake` follows it, and the
    # next dvc repro is a no-op.
    shutil.copy(repo / "config" / "config.yaml", repo / "config" / "ci_copy.yaml")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("configfile: config/config.yaml", "configfile: config/ci_copy.yaml"))
    switched = run(["dvc", "repro"], repo)
    assert "--configfile config/ci_copy.yaml" in switched and "train" not in jobs_run(switched), switched[-3000:]
    assert "Nothing to be done" in run(["snakemake", "-n"], repo)
    again = run(["dvc", "repro"], repo)
    assert "didn't change, skipping" in again and not jobs_run(again)
    assert "configfile: config/ci_copy.yaml" in (repo / "dvc.lock").read_text()

    # One experiment's parameter changes: only its runs (two seeds) retrain, then their evaluations and reports.
    cfg = repo / "config" / "synthetic" / "paper" / "swissroll_lebm_n4.yaml"
    cfg.write_text(cfg.read_text().replace("gamma: 0.003", "gamma: 0.002"))
    third = run(["dvc", "repro"], repo)
    ran = jobs_run(third)
    assert ran["train"] == 2 and ran["evaluate_synthetic"] == 2, ran
    assert not {"timing", "timing_images", "synthetic_data", "prepare_images", "fid_reference", "evaluate_images",
                "figure_theory"} & set(ran)
    after = digests(repo, "checkpoint.pt")
    changed = {k for k in after if after[k] != checkpoints.get(k)}
    assert changed == {k for k in after if "synthetic/swissroll/lebm/N4/paper/" in k}, changed
    assert "up to date" in run(["dvc", "status"], repo)

    # Push to a local remote, delete every output, pull them back: regenerating the figures retrains nothing.
    run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], repo)
    run(["dvc", "push"], repo)
    for out in OUTS:
        shutil.rmtree(repo / out)
    run(["dvc", "pull"], repo)
    assert digests(repo, "checkpoint.pt") == after
    for figure in (repo / "results" / "paper").iterdir():
        figure.unlink()
    regenerate = run(["snakemake", "--cores", "all"], repo)
    ran = jobs_run(regenerate)
    assert set(ran) <= {"synthetic_mmd_table", "image_table", "literature_table", "table4", "table_one_protocol",
                        "figure1", "figure2", "figure4", "figure5", "figure_j_ablation", "figure_theory",
                        "figure_baselines_synthetic", "paper_report", "all"}, ran
    assert ran.get("figure1") == 1 and ran.get("paper_report") == 1
    check_artifacts(repo / "results" / "paper", captions)
    assert digests(repo, "checkpoint.pt") == after

    # A reviewer's fresh clone: dvc pull brings everything; DVC does not keep file times, so Snakemake may want to
    # redo light evaluation and report jobs but never training; `snakemake --touch` settles the times.
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "-m", "results"], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert digests(clone, "checkpoint.pt") == after
    assert "train" not in jobs_run(run(["snakemake", "-n"], clone))
    run(["snakemake", "--cores", "all", "--touch"], clone)
    assert "Nothing to be done" in run(["snakemake", "-n"], clone)
