"""The public surface: exported names, documented commands, generated schemas, streaming."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

import bot_core.demo
import bot_core.reporting
from bot_core.demo import generate_demo_tree
from bot_core.reporting import Filters, build_overview, scan_reports
from bot_core.reporting._docs import SECTION
from bot_core.reporting._overview import overview_parts, write_overview
from bot_core.reporting.ui_bridge import build_parser

REPO = Path(__file__).resolve().parents[2]
REPORT_COMMANDS = ("overview", "delete", "purge", "archive")


@pytest.mark.parametrize("module", [bot_core.reporting, bot_core.demo])
def test_all_is_sorted_and_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names, key=lambda name: (not name.isupper(), name))
    for name in names:
        assert hasattr(module, name), name


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_has_help_and_is_documented() -> None:
    docs = (REPO / "docs/reporting.md").read_text(encoding="utf-8")
    commands = _subcommands()
    for name in REPORT_COMMANDS:
        parser = commands[name]
        assert parser.description, name
        assert f"`{name}" in docs, name
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in docs, f"{option} of {name} is not in docs/reporting.md"
                    assert action.help, f"{option} of {name} has no help"


def test_generated_schemas_are_current() -> None:
    text = (REPO / SECTION.path).read_text(encoding="utf-8")
    assert SECTION.update(text) == text, "run: python -m bot_core.reporting._docs"


def test_streamed_overview_is_the_model_json(tmp_path: Path) -> None:
    tree = generate_demo_tree(str(tmp_path / "r"), reports=120, seed=5)
    catalog = scan_reports(tree.base_directory)
    for filters in (Filters(), Filters(limit=7, offset=3, sort_key="name"), Filters(query="zzz")):
        buffer = io.BytesIO()
        write_overview(overview_parts(catalog, filters), buffer, chunk=10)
        expected = build_overview(catalog, filters).model_dump_json().encode()
        assert buffer.getvalue() == expected
