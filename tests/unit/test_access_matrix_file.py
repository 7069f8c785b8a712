"""The access matrix file is validated like every content file: each problem on one line, naming the
file, the row and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from definitions.access_matrix import PLACEHOLDERS, access_matrix, markdown_table, placeholders_in
from definitions.errors import ConfigError

GOOD = '''
[[request]]
name = "a-row"
who = "analyst"
action = "s3:GetObject"
resource = "{data_bucket}/x"
expect = "deny"
why = "a reason long enough"
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.toml"
    path.write_text(text)
    return path


def test_a_valid_file_reads_and_renders(tmp_path: Path):
    [row] = access_matrix(write(tmp_path, GOOD))
    assert (row.name, row.who, row.expect, row.when) == ("a-row", "analyst", "deny", ())
    assert "| `a-row` | analyst | `s3:GetObject` | `{data_bucket}/x` |  | **deny** | every environment |" in markdown_table(
        write(tmp_path, GOOD))


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path):
    bad = GOOD.replace('"analyst"', '"nobody"').replace('"deny"', '"maybe"').replace("{data_bucket}", "{bukket}")
    bad += 'when = ["sometimes"]\n'
    with pytest.raises(ConfigError) as caught:
        access_matrix(write(tmp_path, bad))
    lines = str(caught.value).splitlines()
    for key in ("a-row.who:", "a-row.expect:", "a-row.resource:", "a-row.when:"):
        assert sum(key in line and "matrix.toml" in line for line in lines) == 1, (key, lines)


def test_a_name_used_twice_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"matrix.toml: a-row.name: defined more than once"):
        access_matrix(write(tmp_path, GOOD + GOOD))


def test_the_products_rows_use_known_placeholders_and_names():
    rows = access_matrix()
    assert len(rows) > 50
    used = {p for row in rows for text in (row.resource, *row.context.values()) for p in placeholders_in(text)}
    assert used <= set(PLACEHOLDERS)
