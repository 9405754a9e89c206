"""The questions the paper leaves open (issue 16), each a study with its own command, figure, table and report.md
section:

    ebipla study posterior ...    posterior accuracy when the posterior is not log-concave (posterior.py)
    ebipla study particles ...    particles against data size: where the returns of N flatten (particles.py)
    ebipla study probe ...        what the latents are good for: a linear probe (probe.py)

Each module defines ``HELP`` (one line), ``main(argv) -> int`` (its own argument parser, ``prog="ebipla study
NAME"``) and ``report_section(paths) -> list[str]`` (its report.md section, from the files its command wrote).
Modules are imported only when their study runs, so ``ebipla --help`` stays fast.
"""

from __future__ import annotations

import importlib

STUDIES = {
    "posterior": "posterior accuracy with a known, non-log-concave posterior (figure and table)",
    "particles": "particles against data size: MMD^2 and cost over N x M, where the returns of N flatten",
    "probe": "a linear probe on each method's latents (logistic regression; few-label versions)",
}


def study_module(name: str):
    """The module of study ``name`` (one of STUDIES)."""
    if name not in STUDIES:
        raise KeyError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    return importlib.import_module(f"{__name__}.{name}")
