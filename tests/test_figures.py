"""Figure 1 from saved run files: the mass-outside-grid rule, the log colour scale, the layout with and without the
long-run samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ebipla import run as rundir
from ebipla.config import dump_yaml, load_config
from ebipla.plotting import LOG_FLOOR, border_ratio, log_relative_density
from ebipla.report.figures import outside_note, samples_and_landscapes

REPO = Path(__file__).resolve().parents[1]


def gaussian_landscape(centre: float, width: float, grid: int = 40) -> dict[str, np.ndarray]:
    """A normalised Gaussian bump on [-3, 3]^2, centred at (centre, centre)."""
    axis = np.linspace(-3, 3, grid)
    g0, g1 = np.meshgrid(axis, axis, indexing="xy")
    density = np.exp(-((g0 - centre) ** 2 + (g1 - centre) ** 2) / (2 * width**2))
    density /= density.sum() * (axis[1] - axis[0]) ** 2
    return {"x0": axis, "x1": axis, "density": density, "bounds": np.array([[-3.0, 3.0], [-3.0, 3.0]])}


def test_outside_rule_and_colour_scale():
    inside, at_edge = gaussian_landscape(0.0, 0.3), gaussian_landscape(3.0, 1.0)
    assert border_ratio(inside["density"]) < 1e-6 and border_ratio(at_edge["density"]) == 1.0
    assert outside_note({}, inside["density"]) is None
    assert "exp(-U) at edge 100% of max" in outside_note({}, at_edge["density"])
    # The long-run chains' share outside the grid decides first; 10 % or less is no mark.
    assert "37% of long-run chains" in outside_note({"long_run_outside_grid": 0.37}, inside["density"])
    assert outside_note({"long_run_outside_grid": 0.1}, inside["density"]) is None
    rel = log_relative_density(inside["density"])
    assert rel.max() == 0.0 and rel.min() == LOG_FLOOR  # a concentrated bump spans the whole scale


def make_run(root: Path, dataset: str, method: str, n: int, long_run: bool, landscape: dict) -> Path:
    run = root / f"{dataset}_{method}_n{n}"
    run.mkdir()
    cfg = load_config([REPO / "config" / "synthetic" / "paper" / f"{dataset}_{method}_n{n}.yaml"])
    (run / rundir.CONFIG).write_text(dump_yaml(cfg))
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(300, 2)), "y": rng.normal(size=(300, 2))}
    metrics = {"mmd2": 1.5e-3}
    if long_run:
        arrays.update(x_long=rng.normal(size=(100, 2)) * 100, y_long=rng.normal(size=(100, 2)) * 100)
        metrics.update(mmd2_long_run=0.4, long_run_escaped_fraction=0.9, long_run_outside_grid=0.95,
                       long_run_steps=500)
    np.savez(run / rundir.SAMPLES, **arrays)
    np.savez(run / rundir.LANDSCAPE, **landscape)
    (run / rundir.EVAL_METRICS).write_text(json.dumps(metrics))
    return run


def test_figure1_layout_with_and_without_long_runs(tmp_path):
    data = tmp_path / "swissroll.npz"
    np.savez(data, y_eval=np.random.default_rng(1).normal(size=(500, 2)))
    runs = [make_run(tmp_path, "swissroll", "ebipla", 4, True, gaussian_landscape(0.0, 0.3)),
            make_run(tmp_path, "swissroll", "lebm", 4, False, gaussian_landscape(3.0, 1.0)),
            make_run(tmp_path, "swissroll", "lebm", 16, False, gaussian_landscape(0.0, 0.5))]
    samples_and_landscapes(runs, [data], tmp_path / "fig", "CAPTION")
    with Image.open(tmp_path / "fig.png") as image:
        wide, tall = image.size
    # 2 rows (N = 4, 16) of 1 + 2 x 3 square panels and a colour bar, then the key: wider than tall.
    assert wide > 2 * tall
    samples_and_landscapes(runs[1:], [data], tmp_path / "short", "CAPTION")  # no long run: 1 + 2 x 2 columns
    with Image.open(tmp_path / "short.png") as image:
        assert image.size[0] < wide
