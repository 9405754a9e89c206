"""The install files agree: environment.yml's exact pins satisfy pyproject.toml's ranges, and cover them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def test_environment_pins_satisfy_pyproject_ranges():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in ("pipeline", "test"):
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for line in pip_section:
        if line.startswith("-e"):
            continue
        name, version = line.split("==")
        pins[name.lower()] = version
    assert "python=3.11" in env["dependencies"] and env["channels"] == ["conda-forge"]
    for req in wanted:
        name = req.name.lower()
        if name == "ebipla":  # the test extra includes the pipeline extra
            continue
        assert name in pins, f"environment.yml does not pin {name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} violates {req}"
