"""Session fixtures shared by several test modules."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import torch
from filelock import FileLock

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
def slurm_workflow(tmp_path_factory, worker_id) -> SlurmWorkflow:
    """One run of the CI workflow through SLURM, shared: test_slurm checks its jobs and outputs, and test_dvc starts
    from a copy of its results (dvc repro then finds the workflow done), which saves the suite a whole workflow run.
    config/config.yaml of the scratch repository is the CI config (tests/config/ci.yaml layered on), the file DVC's
    stage runs the workflow on.

    Under pytest-xdist the workers share the run through a file lock: the first worker to ask runs it and records it,
    a later one reads the record. The two tests' ``xdist_group("slurm")`` marks alone do not keep them on one worker
    (pytest 9.2 ignores the node-id suffix by which pytest-xdist 3.8 groups tests), and two local SLURMs at once
    would share /etc/slurm/slurm.conf and its ports and run each other's jobs."""
    if worker_id == "master":
        return _run_slurm_workflow(tmp_path_factory)
    record = tmp_path_factory.getbasetemp().parent / "slurm_workflow.json"  # the session's folder, common to workers
    with FileLock(f"{record}.lock"):
        if record.exists():
            fields = json.loads(record.read_text())
            return SlurmWorkflow(**{**fields, "repo": fields["repo"] and Path(fields["repo"])})
        result = _run_slurm_workflow(tmp_path_factory)
        fields = {**asdict(result), "repo": result.repo and str(result.repo)}
        record.write_text(json.dumps(fields))
        return result


def _run_slurm_workflow(tmp_path_factory) -> SlurmWorkflow:
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
