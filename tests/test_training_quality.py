"""Short training on each synthetic data set brings MMD^2 far below the untrained model's.

Budget: 60 iterations (6 epochs of M = 10,000, B = 1000), J = 50, N = 4, the paper's step sizes (presets).
Measured ratios untrained / trained MMD^2 for seeds 0, 1, 2, 3 (CPU, torch 2.14.1):

    EBIPLA  Swiss roll 262, 24, 30, 33    half-moons 60, 46, 83, 86    circle 71, 344, 354, 49
    LEBM    Swiss roll 4.8, 6.7, 36, 5.2  half-moons 2.5, 1.4, 8.9, 0.9  circle 46, 28, 45, 244

The thresholds are about a third of the smallest. Since the energy's products run through oneDNN (issue 6; rounding
differences of about 1e-7), seed 0 gives EBIPLA 262, 60, 71 (unchanged) and LEBM Swiss roll 11.3, circle 67:
LEBM's short-run training amplifies rounding, EBIPLA's does not. LEBM at the paper's half-moons setting
(N = 4: h = 0.01) does not reliably improve at this budget (its energy loss swings by +-100 between iterations),
so it is not asserted here; that matches the paper's finding that LEBM's samples are more diffuse than EBIPLA's.
"""

from __future__ import annotations

import json

import pytest
import torch

from ebipla import run as rundir
from ebipla.config import config_from_layers
from ebipla.data import make_synthetic
from ebipla.evaluate import draw_samples, evaluate_run
from ebipla.metrics import mmd2_unbiased
from ebipla.presets import paper_preset
from ebipla.trainer import train

MIN_RATIO = {("swissroll", "ebipla"): 8, ("moons", "ebipla"): 15, ("circle", "ebipla"): 15,
             ("swissroll", "lebm"): 1.6, ("circle", "lebm"): 9}


@pytest.mark.parametrize("dataset,method", list(MIN_RATIO))
def test_short_training_lowers_mmd(tmp_path, dataset, method):
    cfg = config_from_layers([
        (paper_preset(dataset, method, 4), "preset"),
        ({"algorithm": {"n_prior_steps": 50}, "train": {"n_epochs": 6, "checkpoint_every": 60},
          "eval": {"n_samples": 1000, "n_eval_points": 1000}, "device": "cpu"}, "test budget"),
    ])
    untrained = rundir.new_model(cfg, (2,), torch.device("cpu"))
    held_out = make_synthetic(cfg.data, "eval", 1000).y
    before, _ = mmd2_unbiased(draw_samples(untrained, cfg)[1], held_out)
    train(cfg, tmp_path)
    after = evaluate_run(tmp_path)["mmd2"]
    assert json.loads((tmp_path / rundir.EVAL_METRICS).read_text())["mmd2"] == after
    assert before / max(after, 1e-9) > MIN_RATIO[dataset, method], (before, after)
