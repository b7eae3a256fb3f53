"""The operator docs stay true: generated sections current, links alive, runbooks in step.

* ``docs/schemas.md`` and the option tables of ``docs/configuration.md`` are what
  ``python -m flows._docs`` generates from the models and parsers (as ``cog --check``);
* every relative link in ``README.md`` and ``docs/*.md`` names a file that exists;
* the English and Polish runbooks have the same sections and the same commands;
* the flow parameter tables name exactly the flows' parameters.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from flows._docs import CLI_SECTION, SECTION
from flows.archive import archive
from flows.promote import promote_champion
from flows.purge import purge
from flows.restore import restore

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))
LINKED = [REPO / "README.md", *DOCS]

PENDING: frozenset[str] = frozenset()
"""Pages other work in progress adds; a link to one is accepted while it does not exist yet.
Empty: every page the docs link to exists."""

_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.S | re.M)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6}) \S", re.M)
_COMMAND = re.compile(r"^\s*(?:\$ )?(python -m \S+(?: [^#\n]*)?)", re.M)


def _prose(text: str) -> str:
    """``text`` without fenced code blocks (a ``#`` comment there is not a heading)."""
    return _FENCE.sub("", text)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_flows_schema_section_is_current() -> None:
    text = _read(REPO / SECTION.path)
    assert SECTION.update(text) == text, "run: python -m flows._docs"


def test_cli_option_tables_are_current() -> None:
    text = _read(REPO / CLI_SECTION.path)
    assert CLI_SECTION.update(text) == text, "run: python -m flows._docs"


def test_every_cli_option_has_a_meaning() -> None:
    empty = [
        line
        for line in CLI_SECTION.render().splitlines()
        if line.startswith("| `") and line.rstrip().endswith("|  |")
    ]
    assert not empty, "give these options help text (or a fallback in flows/_docs.py)"


@pytest.mark.parametrize("page", LINKED, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    missing = []
    for target in _LINK.findall(_prose(_read(page))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        relative = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
        if not path.exists() and relative not in PENDING:
            missing.append(target)
    assert not missing, f"{page.name} links to missing files: {missing}"


def _headings(path: Path) -> list[int]:
    return [len(hashes) for hashes in _HEADING.findall(_prose(_read(path)))]


def test_runbooks_have_the_same_sections() -> None:
    english, polish = _headings(REPO / "docs/runbook.md"), _headings(REPO / "docs/runbook.pl.md")
    for level in range(1, 7):
        assert english.count(level) == polish.count(level), f"level {level} headings differ"
    assert english == polish, "the runbooks' headings are in a different order"


def _commands(path: Path) -> list[str]:
    blocks = "\n".join(match.group(0) for match in _FENCE.finditer(_read(path)))
    return sorted(" ".join(command.split()) for command in _COMMAND.findall(blocks))


def test_runbooks_give_the_same_commands() -> None:
    english, polish = _commands(REPO / "docs/runbook.md"), _commands(REPO / "docs/runbook.pl.md")
    assert english, "no commands found in docs/runbook.md"
    assert english == polish


@pytest.mark.parametrize(
    ("heading", "flow"),
    [("purge", purge), ("archive", archive), ("promote", promote_champion), ("restore", restore)],
)
def test_flow_parameter_tables_name_every_parameter(heading: str, flow: object) -> None:
    text = _read(REPO / "docs/configuration.md")
    section = text.split(f"### `{heading}` (", 1)[1].split("\n### ", 1)[0]
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            documented.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    function = flow.fn  # type: ignore[attr-defined]
    assert documented == set(inspect.signature(function).parameters)
