"""``ebipla report sweep``: grouping by config keys, mean +- s.e., unfinished runs counted and left out."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from ebipla.cli import main
from ebipla.errors import ConfigError
from ebipla.report.sweep import sweep_rows


def make_run(root, name, h, seed, fid, finished=True):
    run = root / name
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "algorithm": {"h": h, "name": "ebipla"}}))
    if finished:
        (run / "train_summary.json").write_text(json.dumps({"iteration": 10}))
        (run / "metrics.json").write_text(json.dumps({"fid": fid, "mse": fid / 100}))
    return run


def test_groups_means_and_unfinished(tmp_path):
    runs = [make_run(tmp_path, "a0", 0.1, 0, 10.0), make_run(tmp_path, "a1", 0.1, 1, 14.0),
            make_run(tmp_path, "a2", 0.1, 2, 0.0, finished=False),
            make_run(tmp_path, "b0", 0.018, 0, 5.0)]
    rows = {r["algorithm.h"]: r for r in sweep_rows(runs, ["algorithm.h"], ["fid", "mse"])}
    a, b = rows[0.1], rows[0.018]
    assert (a["n"], a["unfinished"], a["unfinished_seeds"]) == (2, 1, [2])
    assert a["fid"][0] == pytest.approx(12.0) and a["fid"][1] == pytest.approx(2.0)  # s.d. 2.83 / sqrt(2)
    assert a["mse"][0] == pytest.approx(0.12)
    assert b["fid"] == (5.0, 0.0) and b["n"] == 1


def test_command_writes_tables_and_names_a_missing_key(tmp_path):
    runs = [str(make_run(tmp_path, f"r{s}", 0.1, s, 10.0 + s)) for s in range(3)]
    assert main(["report", "sweep", *runs, "--by", "algorithm.h", "--metrics", "fid",
                 "--out", str(tmp_path / "out" / "steps")]) == 0
    csv = (tmp_path / "out" / "steps.csv").read_text().splitlines()
    assert csv[0].startswith("algorithm.h,metric,mean,se") and csv[1].startswith("0.1,fid,11,0.57735")
    assert "| 0.1 | 11 +- 0.58 | 3 (0) |" in (tmp_path / "out" / "steps.md").read_text()
    page = (tmp_path / "out" / "steps.html").read_text()  # what `snakemake --report` shows for the custom table
    assert "<th>algorithm.h</th>" in page and "<td>11 +- 0.58</td>" in page and page.count("<tr") == 2
    with pytest.raises(ConfigError, match="algorithm.gamma"):
        sweep_rows(runs, ["algorithm.gamma"], ["fid"])
    assert math.isnan(sweep_rows(runs, ["algorithm.h"], ["nothing"])[0]["nothing"][0])
