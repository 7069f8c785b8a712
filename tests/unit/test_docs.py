"""The README says what the code does: its commands exist and its key table is the schema's."""

from __future__ import annotations

import re

from cli.update_docs import TABLES, query_table, section
from environments.config import markdown_table
from tests.support import ROOT

README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def test_readme_begins_with_the_two_commands():
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make synth", "make test"]


def test_every_make_command_in_the_readme_exists():
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    mentioned = set(re.findall(r"`make ([a-z-]+)", README)) | {"synth", "test"}
    assert mentioned <= targets, mentioned - targets


def test_key_table_is_generated_from_the_schema():
    assert section(README, "keys") == markdown_table()


def test_query_table_is_generated_from_the_sql_files():
    table = section(README, "queries")
    assert table == query_table()
    assert len(table.splitlines()) == 2 + len(list((ROOT / "definitions" / "data" / "queries").glob("*.sql")))


def test_every_generated_table_is_in_the_readme():
    assert all(f"<!-- {name}:start -->" in README and f"<!-- {name}:end -->" in README for name in TABLES)


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
