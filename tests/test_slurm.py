"""The CI workflow config through `snakemake --cores all --profile slurm`, against a real single-node SLURM.

The test installs Debian's slurm-wlm and munge when they are missing, starts munged, slurmctld and slurmd, runs the
workflow with the repository's profile exactly as users type it (plus the CI config and two flags that shorten
the wait), checks that the training, evaluation and timing jobs ran as SLURM jobs, that every artifact of results/paper
exists and parses, and that report.md's numbers equal their sources,
and stops the daemons it started. It skips only where it cannot be root or cannot install the packages, and then
says why.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from local_slurm import CONF, install, local_slurm, unavailable_reason
from paper_checks import check_ci_outputs
from workflow_helpers import copy_repo, run, tool_env

# Synthetic: 4 grid runs (2 methods x 2 seeds) + 2 J-ablation runs; digits: 3 runs. 9 train, 6 + 3 evaluate,
# 1 FID reference, 2 timing jobs, the Theorem 1 study. Data preparation, the digits classifier, tables, figures and
# the report run locally.
EXPECTED_SLURM_JOBS = {"train": 9, "evaluate_synthetic": 6, "evaluate_images": 3, "fid_reference": 1, "timing": 1,
                       "timing_images": 1, "figure_theory": 1, "fid_baselines": 2}


def test_ci_config_runs_as_slurm_jobs(tmp_path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no local SLURM: {reason}")
    install()
    repo = copy_repo(tmp_path / "repo")
    site = {"EBIPLA_GPUS": "0", "EBIPLA_CPUS_TRAIN": "1", "EBIPLA_CPUS_EVAL": "1", "EBIPLA_MEM_MB_TRAIN": "3000",
            "EBIPLA_MEM_MB_EVAL": "2000", "EBIPLA_RUNTIME_TRAIN": "30", "EBIPLA_RUNTIME_EVAL": "10"}
    with local_slurm(tmp_path / "slurm") as env:
        out = run(["snakemake", "--cores", "all", "--profile", "slurm", "--configfile", "tests/config/ci.yaml",
                   "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs"],
                  repo, tool_env({**env, **site}))  # tool_env puts this venv first on PATH
        submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/", out)
        states = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i %T"], env=env,
                                capture_output=True, text=True, check=True).stdout
    by_rule: dict[str, int] = {}
    for _, rule in submitted:
        by_rule[rule] = by_rule.get(rule, 0) + 1
    assert by_rule == EXPECTED_SLURM_JOBS, out[-3000:]
    state = dict(line.split() for line in states.strip().splitlines())
    assert all(state.get(job_id) == "COMPLETED" for job_id, _ in submitted), states
    for job_id, rule in submitted:  # the plugin's per-job log, named after the SLURM job id
        assert list((repo / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob(f"{job_id}.log")), job_id
    check_ci_outputs(repo)
    runs = sorted((repo / "results" / "runs").rglob("metrics.json"))
    assert len(runs) == 9 and all((r.parent / "checkpoint.pt").exists() for r in runs)
    for daemon in ("slurmctld", "slurmd"):  # stopped again
        assert subprocess.run(["pgrep", "-x", daemon], capture_output=True).returncode != 0, daemon
    assert not CONF.exists()
