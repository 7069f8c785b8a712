"""`make docs`: regenerate the generated tables of the documents, each in its own file: the
environment and organization keys and the organization's cost in docs/configuration.md (from the
declarations in environments/ and operations/organization_cost.py), the
named queries in docs/investigations.md (from definitions/data/queries/*.sql), the organization's in
docs/organization.md (from definitions/data/organization_queries/*.sql) and the access matrix
in docs/security.md (from definitions/data/access_matrix.toml).

Each sits between `<!-- <name>:start -->` and `<!-- <name>:end -->`; tests/unit/test_docs.py fails when
one differs from what this writes. Exit status 1 when a file lacks its markers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from definitions import access_matrix
from definitions.alarm_definitions import load_alarm_definitions
from definitions.paths import DOCS_DIR, relative
from definitions.queries import QueryTemplate, load_organization_queries, load_queries
from environments import organization
from environments.config import markdown_table
from operations.organization_cost import sized_statement


def _queries(templates: tuple[QueryTemplate, ...]) -> str:
    """Named queries: file and description (the `-- ` first line, deployed as the query's description)."""
    rows = [f"| `{query.name}` | {query.description} |" for query in templates]
    return "\n".join(["| query | what it answers |", "| --- | --- |", *rows])


def query_table() -> str:
    return _queries(load_queries())


def organization_query_table() -> str:
    return _queries(load_organization_queries())


def organization_cost() -> str:
    """The month of organizations of 100 and 1,000 accounts (operations/organization_cost.py)."""
    return sized_statement((100, 1_000), len(load_alarm_definitions()))


# Each generated table: the document that holds it, and what writes it.
TABLES: dict[str, tuple[Path, Callable[[], str]]] = {
    "keys": (DOCS_DIR / "configuration.md", markdown_table),
    "organization-keys": (DOCS_DIR / "configuration.md", organization.markdown_table),
    "organization-cost": (DOCS_DIR / "configuration.md", organization_cost),
    "queries": (DOCS_DIR / "investigations.md", query_table),
    "organization-queries": (DOCS_DIR / "organization.md", organization_query_table),
    "access-matrix": (DOCS_DIR / "security.md", access_matrix.markdown_table),
}


def markers(name: str) -> tuple[str, str]:
    """The lines around the table `name`, with the newlines that keep the table on lines of its own."""
    return f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"


def section(text: str, name: str) -> str:
    """What `text` holds between the markers of `name`; ValueError when they are not there once each, in order."""
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"no single {start.strip()} ... {end.strip()} section")
    return text.split(start, 1)[1].split(end, 1)[0]


def replace_section(text: str, name: str, table: str) -> str:
    """`text` with the section of `name` holding `table`."""
    start, end = markers(name)
    section(text, name)  # the markers are there, once each
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}{table}{end}{after}"


def main() -> int:
    updated: dict[Path, str] = {}
    for name, (path, table) in TABLES.items():
        text = updated[path] if path in updated else path.read_text()
        try:
            updated[path] = replace_section(text, name, table())
        except ValueError as err:
            print(f"{relative(path)}: {err}", file=sys.stderr)
            return 1
    for path, text in updated.items():
        if text != path.read_text():
            path.write_text(text)
            print(f"{relative(path)}: generated tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
