"""Helpers for the workflow tests: a scratch copy of the repository and running the tools from this venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment's snakemake, dvc and ebipla


def copy_repo(dest: Path) -> Path:
    """The repository's files as git sees them (tracked, plus untracked that are not ignored) copied to ``dest``,
    which becomes a fresh git repository with one commit."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.split(b"\0")
    for name in filter(None, files):
        src, dst = REPO / name.decode(), dest / name.decode()
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
            dst.chmod(src.stat().st_mode)
    git = ["git", "-c", "user.name=ebipla-tests", "-c", "user.email=tests@ebipla.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scratch copy"], cwd=dest, check=True)
    return dest


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with this venv first on PATH, single-threaded torch and no DVC analytics."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DVC_NO_ANALYTICS": "1", "TQDM_DISABLE": "1", **(extra or {})}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 3600) -> str:
    """Run a command; on failure raise with its output. Returns stdout + stderr. The time-out only stops a hung
    command: it holds on a 2-core machine at a load of 10 (900 s did not)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{output[-6000:]}")
    return output


def merged_ci_config(repo: Path) -> None:
    """config/config.yaml := config/config.yaml with tests/config/ci.yaml layered on (as --configfile does)."""
    def merge(a: dict, b: dict) -> dict:
        for key, value in b.items():
            a[key] = merge(a[key], value) if isinstance(value, dict) and isinstance(a.get(key), dict) else value
        return a

    base = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    ci = yaml.safe_load((repo / "tests" / "config" / "ci.yaml").read_text())
    (repo / "config" / "config.yaml").write_text(yaml.safe_dump(merge(base, ci), sort_keys=False))
