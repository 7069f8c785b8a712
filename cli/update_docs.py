"""`make docs`: regenerate the README's generated tables: the environment keys (from the
declarations in environments/config.py) and the named queries (from queries/*.sql).

Each sits between `<!-- <name>:start -->` and `<!-- <name>:end -->`; tests/test_docs.py fails when
one differs from what this writes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from definitions.paths import README
from definitions.queries import load_queries
from environments.config import markdown_table


def query_table() -> str:
    """The named queries: file and description (the `-- ` first line, deployed as the query's description)."""
    rows = [f"| `{query.name}` | {query.description} |" for query in load_queries()]
    return "\n".join(["| query | what it answers |", "| --- | --- |", *rows])


TABLES: dict[str, Callable[[], str]] = {"keys": markdown_table, "queries": query_table}


def section(text: str, name: str) -> str:
    """What the README holds between the markers of `name`."""
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"\n<!-- {name}:end -->", 1)[0]


def main() -> int:
    text = updated = README.read_text()
    for name, table in TABLES.items():
        start, end = f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"
        before, rest = updated.split(start, 1)
        _, after = rest.split(end, 1)
        updated = f"{before}{start}{table()}{end}{after}"
    if updated != text:
        README.write_text(updated)
        print(f"{README.name}: generated tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
