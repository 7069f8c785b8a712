"""The CloudTrail record as Glue columns and the Athena tables declared over it, read from
`data/cloudtrail_tables.toml`: the one definition behind the Glue tables, the checks of the named
queries, and the tests' DuckDB stand-in for Athena. No cdktf imports.

`HiveType` parses the Glue column types (`struct<...>`, `array<...>`, `map<...>`) so that readers
can follow a struct field path such as `useridentity.sessioncontext.sessionissuer.arn`.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

SCHEMA_FILE = Path(__file__).parent / "data" / "cloudtrail_tables.toml"
REGION_SCOPES = ("projected", "home")  # athena.projected_regions; the stack's own region

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,:])")


@dataclasses.dataclass(frozen=True)
class HiveType:
    """A Glue (Hive) column type: a primitive (`name`), `struct` (`fields`), `array` (`element`)
    or `map` (`key`, `value`)."""

    kind: str
    name: str = ""
    fields: tuple[tuple[str, HiveType], ...] = ()
    element: HiveType | None = None
    key: HiveType | None = None
    value: HiveType | None = None

    @staticmethod
    def parse(text: str) -> HiveType:
        tokens = _tokens(text)
        parsed = _parse(tokens)
        if tokens:
            raise ValueError(f"unexpected {''.join(tokens)!r} after a complete type in {text!r}")
        return parsed

    def field(self, name: str) -> HiveType | None:
        """The type of struct field `name` (case-insensitive, as the JSON SerDe matches), or None."""
        return next((t for n, t in self.fields if n == name.lower()), None) if self.kind == "struct" else None


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"cannot read the type {text!r} at {text[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _expect(tokens: list[str], token: str) -> None:
    found = tokens.pop(0) if tokens else "the end"
    if found != token:
        raise ValueError(f"expected {token!r}, found {found!r}")


def _parse(tokens: list[str]) -> HiveType:
    """One type from the front of `tokens` (consumed)."""
    name = tokens.pop(0).lower()
    if name == "struct":
        _expect(tokens, "<")
        fields: list[tuple[str, HiveType]] = []
        while True:
            field_name = tokens.pop(0).lower()
            _expect(tokens, ":")
            fields.append((field_name, _parse(tokens)))
            separator = tokens.pop(0) if tokens else "the end"
            if separator == ">":
                return HiveType("struct", fields=tuple(fields))
            if separator != ",":
                raise ValueError(f"expected ',' or '>' in a struct, found {separator!r}")
    if name == "array":
        _expect(tokens, "<")
        element = _parse(tokens)
        _expect(tokens, ">")
        return HiveType("array", element=element)
    if name == "map":
        _expect(tokens, "<")
        key = _parse(tokens)
        _expect(tokens, ",")
        value = _parse(tokens)
        _expect(tokens, ">")
        return HiveType("map", key=key, value=value)
    if not name.isidentifier():
        raise ValueError(f"expected a type name, found {name!r}")
    return HiveType("primitive", name=name)


@dataclasses.dataclass(frozen=True)
class Table:
    """One Athena table over the trail's log files: its columns (name, Glue type) and the regions
    its projection covers (`projected` or `home`)."""

    name: str
    description: str
    columns: tuple[tuple[str, str], ...]
    regions: str

    def column_type(self, name: str) -> HiveType | None:
        return next((HiveType.parse(t) for n, t in self.columns if n == name.lower()), None)


@dataclasses.dataclass(frozen=True)
class Schema:
    serde: str
    input_format: str
    output_format: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        found = [table for table in self.tables if table.name == name]
        if not found:
            raise KeyError(f"no table {name!r} in {SCHEMA_FILE.name}; have {', '.join(t.name for t in self.tables)}")
        return found[0]


def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    """The definition, checked: every type parses, column and table names are unique, each table
    names columns that exist and a known region scope. ValueError names the problem."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    columns = tuple((name, type_text) for name, type_text in data["columns"])
    partition_keys = tuple((name, type_text) for name, type_text in data["partition_keys"])
    names = [name for name, _ in (*columns, *partition_keys)]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{path.name}: columns named twice: {', '.join(duplicates)}")
    for name, type_text in (*columns, *partition_keys):
        try:
            HiveType.parse(type_text)
        except (ValueError, IndexError) as error:
            raise ValueError(f"{path.name}: column {name}: {error}") from error
    by_name = dict(columns)
    tables = []
    for entry in data["table"]:
        selected = entry["columns"]
        if selected == "all":
            table_columns = columns
        else:
            if unknown := [n for n in selected if n not in by_name]:
                raise ValueError(f"{path.name}: table {entry['name']} names unknown columns: {', '.join(unknown)}")
            table_columns = tuple((n, by_name[n]) for n in selected)
        if entry["regions"] not in REGION_SCOPES:
            raise ValueError(f"{path.name}: table {entry['name']}: regions must be one of {', '.join(REGION_SCOPES)}")
        tables.append(Table(name=entry["name"], description=entry["description"], columns=table_columns, regions=entry["regions"]))
    table_names = [t.name for t in tables]
    if len(set(table_names)) != len(table_names):
        raise ValueError(f"{path.name}: table names must be unique, got {', '.join(table_names)}")
    return Schema(serde=data["serde"], input_format=data["input_format"], output_format=data["output_format"],
                  columns=columns, partition_keys=partition_keys, tables=tuple(tables))
