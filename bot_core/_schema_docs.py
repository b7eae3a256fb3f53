"""Generated JSON Schema sections of the Markdown docs, one mechanism for every package.

Each documented package declares a :class:`SchemaSection` (which documents, which file);
``python -m <its docs module>`` rewrites the section between the markers in place, and a
test fails when the committed section differs from what the models generate (as ``cog
--check`` does for sqlite-utils' CLI reference).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

__all__ = ["SchemaSection"]


@dataclass(frozen=True)
class SchemaSection:
    """The generated schema section of one Markdown document."""

    module: str
    """The module whose ``python -m`` regenerates the section."""
    title: str
    documents: tuple[tuple[str, type[BaseModel]], ...]
    """(where the document appears, its model), in the order the table lists them."""
    path: str
    """The Markdown file, relative to the repository root."""

    @property
    def begin_marker(self) -> str:
        return f"<!-- BEGIN GENERATED SCHEMAS: python -m {self.module} -->"

    @property
    def end_marker(self) -> str:
        return "<!-- END GENERATED SCHEMAS -->"

    def render(self) -> str:
        """The generated Markdown: a table of documents, then one JSON Schema with all of them."""
        _, schema = models_json_schema(
            [(model, "validation") for _, model in self.documents], title=self.title
        )
        lines = [
            self.begin_marker,
            "",
            "| Document | Schema (`$defs`) |",
            "| --- | --- |",
            *(f"| {where} | `{model.__name__}` |" for where, model in self.documents),
            "",
            "```json",
            json.dumps(schema, indent=2, sort_keys=True),
            "```",
            "",
            self.end_marker,
        ]
        return "\n".join(lines)

    def update(self, text: str) -> str:
        """``text`` with the section between the markers replaced by :meth:`render`."""
        start = text.index(self.begin_marker)
        end = text.index(self.end_marker) + len(self.end_marker)
        return text[:start] + self.render() + text[end:]

    def main(self) -> int:
        """Rewrite the generated section in place (run from the repository root)."""
        path = Path(self.path)
        path.write_text(self.update(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
