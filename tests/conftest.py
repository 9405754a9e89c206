"""Session fixtures shared by several test modules."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from local_slurm import install, local_slurm, unavailable_reason
from workflow_helpers import copy_repo, merged_ci_config, run, tool_env

# The SLURM site settings of the CI run: CPU-only jobs of one core, small memory and short time limits.
SLURM_SITE = {"EBIPLA_GPUS": "0", "EBIPLA_CPUS_TRAIN": "1", "EBIPLA_CPUS_EVAL": "1", "EBIPLA_MEM_MB_TRAIN": "3000",
              "EBIPLA_MEM_MB_EVAL": "2000", "EBIPLA_RUNTIME_TRAIN": "30", "EBIPLA_RUNTIME_EVAL": "10"}


def pytest_configure(config):
    """Under pytest-xdist the workers share the cores: torch gets its share of threads in each, so that two workers
    do not run four threads on two cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@dataclass
class SlurmWorkflow:
    """The CI workflow config run once through `snakemake --cores all --profile slurm` on a real local SLURM."""

    repo: Path | None  # the scratch repository with its results; None when no SLURM could be set up
    output: str = ""  # snakemake's output
    states: str = ""  # squeue's "<job id> <state>" lines, read before the daemons stopped
    skipped: str = ""  # why there is no run


@pytest.fixture(scope="session")
def slurm_workflow(tmp_path_factory) -> SlurmWorkflow:
    """One run of the CI workflow through SLURM, shared: test_slurm checks its jobs and outputs, and test_dvc starts
    from a copy of its results (dvc repro then finds the workflow done), which saves the suite a whole workflow run.
    Both tests carry ``xdist_group("slurm")``, so that one pytest-xdist worker runs them and this fixture once.
    config/config.yaml of the scratch repository is the CI config (tests/config/ci.yaml layered on), the file DVC's
    stage runs the workflow on."""
    reason = unavailable_reason()
    if reason:
        return SlurmWorkflow(None, skipped=reason)
    install()
    root = tmp_path_factory.mktemp("slurm_workflow")
    repo = copy_repo(root / "repo")
    merged_ci_config(repo)
    with local_slurm(root / "slurm") as env:
        out = run(["snakemake", "--cores", "all", "--profile", "slurm",
                   "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs"],
                  repo, tool_env({**env, **SLURM_SITE}))  # tool_env puts this venv first on PATH
        states = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i %T"], env=env,
                                capture_output=True, text=True, check=True).stdout
    return SlurmWorkflow(repo, out, states)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """tmp_path as the working directory (the report code records run directories relative to it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
