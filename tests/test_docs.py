"""The docs cannot drift from the repository and the CLI: every relative link in README.md and docs/ points at a file
that exists, and every `ebipla ...` command they show names a subcommand (and report / study target) the CLI has."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from ebipla.cli import _parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)  # fenced blocks and inline code spans
COMMAND = re.compile(r"(?<![\w/.-])ebipla ([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _targets(sub: argparse.ArgumentParser) -> set[str] | None:
    """The second word a subcommand takes: report's artifacts, study's names; None when it takes none."""
    for action in sub._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
        if not action.option_strings and action.choices:
            return set(action.choices)
    return None


def links(path: Path) -> list[str]:
    return [t for t in LINK.findall(path.read_text(encoding="utf-8")) if not re.match(r"[a-z]+:|#", t)]


def commands(path: Path) -> list[tuple[str, str | None]]:
    code = " ".join(CODE.findall(path.read_text(encoding="utf-8")))
    return COMMAND.findall(code)


def test_the_docs_exist_and_start_with_who_they_are_for():
    for name in ("reproduction", "cluster", "review-with-dvc", "benchmarks", "reliability", "theory", "configuration",
                 "gpu"):
        text = (REPO / "docs" / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith("# "), name
        assert re.search(r"\bFor\b", text.split("\n\n")[1]), f"docs/{name}.md does not say whom it is for"
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_files(path):
    missing = [t for t in links(path) if not (path.parent / t.split("#")[0]).exists()]
    assert not missing, f"{path.relative_to(REPO)} links to missing files: {missing}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_ebipla_command_shown_exists(path):
    subs = _subcommands(_parser())
    for word, target in commands(path):
        assert word in subs, f"{path.relative_to(REPO)} shows `ebipla {word}`, which the CLI does not have"
        allowed = _targets(subs[word])
        if allowed is not None and target:
            assert target in allowed, f"{path.relative_to(REPO)} shows `ebipla {word} {target}`: not one of {allowed}"


def test_the_checks_catch_a_broken_link_and_an_unknown_command(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See [this](missing.md) and [web](https://example.org).\n\n```bash\nebipla trian --out x\n"
                    "ebipla report figure9 --out y\n```\n", encoding="utf-8")
    assert links(page) == ["missing.md"]
    assert commands(page) == [("trian", ""), ("report", "figure9")]
    subs = _subcommands(_parser())
    assert "trian" not in subs and "figure9" not in _targets(subs["report"])
