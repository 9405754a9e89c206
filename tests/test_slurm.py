"""The CI workflow config through `snakemake --cores all --profile slurm`, against a real single-node SLURM.

The session fixture ``slurm_workflow`` (conftest.py) installs Debian's slurm-wlm and munge when they are missing,
starts munged, slurmctld and slurmd, runs the workflow with the repository's profile as users type it (on the CI
config, with two flags that shorten the wait) and stops the daemons. The test checks that the training,
evaluation and timing jobs ran as SLURM jobs, that every artifact of results/paper exists and parses, that
report.md's numbers equal their sources and that the daemons stopped. It skips only where it cannot be root or
cannot install the packages, and then says why.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from local_slurm import CONF
from paper_checks import check_ci_outputs

# Synthetic: 4 grid runs (2 methods x 2 seeds) + 2 J-ablation runs; digits: 3 runs and 2 of the one-protocol
# comparison (VAE, PGD). 11 train, 6 + 5 evaluate,
# 1 FID reference, 2 timing jobs, the Theorem 1 study. Data preparation, the digits classifier, tables, figures and
# the report run locally.
EXPECTED_SLURM_JOBS = {"train": 11, "evaluate_synthetic": 6, "evaluate_images": 5, "fid_reference": 1, "timing": 1,
                       "timing_images": 1, "figure_theory": 1, "fid_baselines": 2}


@pytest.mark.xdist_group("slurm")
def test_ci_config_runs_as_slurm_jobs(slurm_workflow):
    if slurm_workflow.repo is None:
        pytest.skip(f"no local SLURM: {slurm_workflow.skipped}")
    repo, out = slurm_workflow.repo, slurm_workflow.output
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/", out)
    by_rule: dict[str, int] = {}
    for _, rule in submitted:
        by_rule[rule] = by_rule.get(rule, 0) + 1
    assert by_rule == EXPECTED_SLURM_JOBS, out[-3000:]
    state = dict(line.split() for line in slurm_workflow.states.strip().splitlines())
    assert all(state.get(job_id) == "COMPLETED" for job_id, _ in submitted), slurm_workflow.states
    for job_id, rule in submitted:  # the plugin's per-job log, named after the SLURM job id
        assert list((repo / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob(f"{job_id}.log")), job_id
    check_ci_outputs(repo)
    runs = sorted((repo / "results" / "runs").rglob("metrics.json"))
    assert len(runs) == 11 and all((r.parent / "checkpoint.pt").exists() for r in runs)
    for daemon in ("slurmctld", "slurmd"):  # stopped again
        assert subprocess.run(["pgrep", "-x", daemon], capture_output=True).returncode != 0, daemon
    assert not CONF.exists()
