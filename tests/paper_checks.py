"""Checks of a finished workflow's ``results/paper``: every artifact exists and parses, and every number of ours
in report.md equals the file it names as its source (the run's metrics.json, or the timing CSV)."""

from __future__ import annotations

import csv
import html
import json
import re
import statistics
from pathlib import Path

import pandas as pd
import yaml
from PIL import Image

from ebipla.report.tables import expand_pattern

TABLES = ("table1", "table2a", "table2b", "table4", "table5", "table6", "table7", "synthetic_mmd",
          "table_one_protocol")
FIGURES = ("figure1", "figure2", "figure4", "figure5", "figure_j_ablation", "figure_theory")


def check_ci_outputs(repo: Path) -> dict[str, str]:
    """After the CI config's workflow in ``repo``: every artifact, and report.md's numbers (table 1: 2 runs x 2
    metrics, 2(a), 2(b) x 2, table 4 make at least 6). Returns the CI config's captions."""
    captions = yaml.safe_load((repo / "tests" / "config" / "ci.yaml").read_text())["captions"]
    check_artifacts(repo / "results" / "paper", captions)
    assert check_report(repo, captions["report"]) >= 6
    return captions


def check_artifacts(paper: Path, captions: dict[str, str]) -> None:
    for name in TABLES:
        long = pd.read_csv(paper / f"{name}.csv")
        assert len(long) > 0, name
        markdown = (paper / f"{name}.md").read_text()
        assert markdown.startswith(captions[name].strip()), name  # the caption says at what scale
        assert re.search(r"^\|.*\|$", markdown, re.M), name  # a table follows
        assert r"\begin{tabular}" in (paper / f"{name}.tex").read_text(), name
        check_html_table(paper / f"{name}.html", markdown, captions[name].strip())
        if name != "synthetic_mmd":
            assert long["source"].str.startswith("ours").any(), name
    for name in FIGURES:
        assert (paper / f"{name}.pdf").read_bytes().startswith(b"%PDF"), name
        with Image.open(paper / f"{name}.png") as image:
            image.verify()


def check_html_table(page: Path, markdown: str, caption: str) -> None:
    """The .html that `snakemake --report` shows holds the caption and the markdown table's layout: the same header
    cells and as many rows."""
    text = page.read_text()
    assert html.escape(caption) in text, page
    rows = [line for line in markdown.splitlines() if line.startswith("|") and not set(line) <= set("|-: ")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert all(f"<th>{html.escape(cell, quote=False)}</th>" in text for cell in header), (page, header)
    assert text.count("<tr") == len(rows), page


def report_rows(report: Path) -> list[dict[str, str]]:
    """The comparison rows of report.md (every markdown table with a ``source`` column), each with its section."""
    rows, header, section = [], None, ""
    for line in report.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:]
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            rows.append({"section": section, **dict(zip(header, cells))})
    return [r for r in rows if "source" in r]


def source_value(root: Path, source: str) -> float:
    """The value a report row's ``source`` points to: a mean over seeds' metrics.json, or a timing CSV cell."""
    match = re.fullmatch(r"(.+)\[(.+)\]:(\w+)", source)
    if match:  # results/timing/images.csv[dataset=svhn method=ebipla N=10]:mean_s
        path, keys, field = match.groups()
        want = dict(kv.split("=") for kv in keys.split())
        with open(root / path, newline="") as f:
            found = [r for r in csv.DictReader(f) if all(r[k] == v for k, v in want.items())]
        assert len(found) == 1, source
        return float(found[0][field])
    pattern, field = source.rsplit(":", 1)
    values = [json.loads((root / path).read_text())[field] for path in expand_pattern(pattern)]
    return statistics.fmean(values)


def check_report(root: Path, caption: str) -> int:
    """Every 'ours' number of results/paper/report.md equals its source; returns the number of rows checked."""
    report = root / "results" / "paper" / "report.md"
    assert caption.strip() in report.read_text()
    rows = report_rows(report)
    assert rows, "report.md has no comparison rows"
    for row in rows:
        ours = float(row["ours"].split("±")[0])
        expected = source_value(root, row["source"])
        assert abs(ours - expected) <= 1e-5 * max(abs(expected), 1e-12), (row, expected)
    return len(rows)
