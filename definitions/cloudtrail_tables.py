"""The CloudTrail record as Glue columns and the Athena tables declared over it, read from
`data/cloudtrail_tables.toml`: the one definition behind the Glue tables, the checks of the named
queries, and the tests' DuckDB stand-in for Athena. Read by the typed-TOML reader; no cdktf imports.

`HiveType` parses the Glue column types (`struct<...>`, `array<...>`, `map<...>`) so that readers
can follow a struct field path such as `useridentity.sessioncontext.sessionissuer.arn`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path

from definitions.paths import DATA_DIR
from definitions.typed_toml import read_file, unique_names

SCHEMA_FILE = DATA_DIR / "cloudtrail_tables.toml"
REGION_SCOPES = ("projected", "home")  # athena.projected_regions; the stack's own region
PARQUET_CODECS = ("SNAPPY", "GZIP", "ZSTD")  # what Athena writes Parquet with

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


@dataclasses.dataclass(frozen=True)
class CompactTable:
    """The Parquet table the compaction fills: its columns (the record's, then the extra ones), its
    partition keys (day, category), and how Glue reads and Athena writes it."""

    name: str
    description: str
    serde: str
    input_format: str
    output_format: str
    compression: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True)
class Schema:
    serde: str
    input_format: str
    output_format: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]
    compact: CompactTable

    def table(self, name: str) -> Table:
        found = [table for table in self.tables if table.name == name]
        if not found:
            raise KeyError(f"no table {name!r} in {SCHEMA_FILE.name}; have {', '.join(t.name for t in self.tables)}")
        return found[0]


@dataclasses.dataclass(frozen=True)
class _TableEntry:
    name: str
    description: str
    columns: str | tuple[str, ...]  # "all", or names of the file's columns
    regions: str

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.regions not in REGION_SCOPES:
            yield "regions", f"must be one of {', '.join(REGION_SCOPES)}, got {self.regions!r}"
        if isinstance(self.columns, str) and self.columns != "all":
            yield "columns", f"must be \"all\" or a list of column names, got {self.columns!r}"


@dataclasses.dataclass(frozen=True)
class _CompactEntry:
    name: str
    description: str
    serde: str
    input_format: str
    output_format: str
    compression: str
    extra_columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.compression not in PARQUET_CODECS:
            yield "compression", f"must be one of {', '.join(PARQUET_CODECS)}, got {self.compression!r}"


@dataclasses.dataclass(frozen=True)
class _SchemaFile:
    serde: str
    input_format: str
    output_format: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    table: tuple[_TableEntry, ...]
    compact: _CompactEntry

    def problems(self) -> Iterator[tuple[str, str]]:
        for key, names in (("columns", [name for name, _ in (*self.columns, *self.partition_keys)]),
                           ("compact", [name for name, _ in (*self.columns, *self.compact.extra_columns,
                                                             *self.compact.partition_keys)])):
            if duplicates := sorted({n for n in names if names.count(n) > 1}):
                yield key, f"columns named twice: {', '.join(duplicates)}"
        for key, pairs in (("columns", self.columns), ("partition_keys", self.partition_keys),
                           ("compact.extra_columns", self.compact.extra_columns),
                           ("compact.partition_keys", self.compact.partition_keys)):
            for name, type_text in pairs:
                try:
                    HiveType.parse(type_text)
                except (ValueError, IndexError) as error:
                    yield key, f"column {name}: {error}"
        known = {name for name, _ in self.columns}
        for entry in self.table:
            if not isinstance(entry.columns, str) and (unknown := [n for n in entry.columns if n not in known]):
                yield f"{entry.name}.columns", f"names unknown columns: {', '.join(unknown)}"
        yield from unique_names("table", self.table)
        if self.compact.name in {entry.name for entry in self.table}:
            yield "compact.name", f"{self.compact.name} is also a [[table]]"


@functools.cache
def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    """The definition, checked: every type parses, column and table names are unique, each table
    names columns that exist and a known region scope. ConfigError lists every problem."""
    data = read_file(_SchemaFile, path)
    by_name = dict(data.columns)
    tables = tuple(Table(name=entry.name, description=entry.description, regions=entry.regions,
                         columns=data.columns if entry.columns == "all" else tuple((n, by_name[n]) for n in entry.columns))
                   for entry in data.table)
    entry = data.compact
    compact = CompactTable(name=entry.name, description=entry.description, serde=entry.serde,
                           input_format=entry.input_format, output_format=entry.output_format,
                           compression=entry.compression, columns=(*data.columns, *entry.extra_columns),
                           partition_keys=entry.partition_keys)
    return Schema(serde=data.serde, input_format=data.input_format, output_format=data.output_format,
                  columns=data.columns, partition_keys=data.partition_keys, tables=tables, compact=compact)
