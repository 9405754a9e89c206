# ebipla: the paper's experiments as one DAG. Run from the repository root:
#   snakemake --cores all                      # the full reproduction on this machine (config/config.yaml)
#   snakemake --cores all --profile slurm      # the same, with every non-local rule submitted to SLURM
#   snakemake --cores all --configfile config/quick.yaml   # CPU minutes: every table and figure, reduced
#   snakemake --report results/report.html                # the HTML report with a caption for every artifact
from pathlib import Path

import yaml
from snakemake.utils import min_version

min_version("9.19")


configfile: "config/config.yaml"


# params.yaml (DVC's parameter `configfile`) names the scale a bare `snakemake` and `dvc repro` run, layered on
# config/config.yaml; `--configfile` on the command line is applied after it.
PARAMS = Path("params.yaml")
SCALE = (
    yaml.safe_load(PARAMS.read_text())["configfile"]
    if PARAMS.exists()
    else "config/config.yaml"
)


configfile: SCALE


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/custom.smk"
include: "workflow/rules/study_posterior.smk"
include: "workflow/rules/study_particles.smk"
include: "workflow/rules/study_probe.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        final_targets(),
