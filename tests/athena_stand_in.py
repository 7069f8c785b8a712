"""A stand-in for Athena, for proving the named queries without an AWS account: DuckDB serving a
stack's Glue tables over a folder laid out like the trail bucket (and the compact table over the
Parquet files the compaction statement writes).

- Each Glue table is a DuckDB view with the columns the stack declares for it: struct columns as
  structs, `string` columns holding a JSON object as its JSON text, keys matched without regard to
  case, as the CloudTrail SerDe does; its partition columns come from each file's key through the
  table's `storage.location.template`, and only partitions the projection knows exist.
- A query reads only the files of the partitions its partition predicate selects: the conjuncts of
  each SELECT's WHERE on partition columns alone are evaluated over every partition the projection
  knows, as Athena prunes with projection, and only those files are registered. A SELECT over a
  table with no predicate on the day fails the run; one over a table with an `injected` column and
  no equality on it is refused (QueryRefused), as Athena refuses it.
- `current_date` is the corpus's today; Trino SQL becomes DuckDB SQL through sqlglot, with the
  corrections `trino_semantics` makes where DuckDB answers otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from definitions.cloudtrail_tables import HiveType, Schema, load_schema
from tests.stack_queries import resources

SCHEMA = load_schema()
DAY = "timestamp"  # the day partition of every CloudTrail table


# --- types: the one definition, as DuckDB and sqlglot spell it ----------------------------------


# How each engine spells a struct, a struct's field, an array and a map.
_SPELLINGS = {"duckdb": ("STRUCT({})", '"{}" {}', "{}[]", "MAP({}, {})"),
              "sqlglot": ("STRUCT<{}>", "{} {}", "ARRAY<{}>", "MAP<{}, {}>")}


def spelled_type(hive: HiveType, engine: str) -> str:
    """A Glue column type as `engine` ("duckdb" or "sqlglot") spells it."""
    struct, field, array, mapping = _SPELLINGS[engine]
    if hive.kind == "struct":
        return struct.format(", ".join(field.format(name, spelled_type(t, engine)) for name, t in hive.fields))
    if hive.kind == "array":
        return array.format(spelled_type(hive.element, engine))
    if hive.kind == "map":
        return mapping.format(spelled_type(hive.key, engine), spelled_type(hive.value, engine))
    assert hive.name == "string", f"no type for {hive.name}: the definition has only strings"
    return "VARCHAR"


def duckdb_type(hive: HiveType) -> str:
    return spelled_type(hive, "duckdb")


def sqlglot_type(hive: HiveType) -> str:
    return spelled_type(hive, "sqlglot")


def serde_value(value: Any, hive: HiveType) -> Any:
    """A JSON value as the CloudTrail SerDe hands it to a column of type `hive`."""
    if value is None:
        return None
    if hive.kind == "struct":
        if not isinstance(value, dict):
            return None
        by_name = {key.lower(): item for key, item in value.items()}
        return {name: serde_value(by_name.get(name), t) for name, t in hive.fields}
    if hive.kind == "array":
        return [serde_value(item, hive.element) for item in value] if isinstance(value, list) else None
    if hive.kind == "map":
        return {str(k): serde_value(v, hive.value) for k, v in value.items()} if isinstance(value, dict) else None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# --- the stand-in for Athena ------------------------------------------------------------------


JODA_TO_STRFTIME = {"yyyy": ("%Y", r"\d{4}"), "MM": ("%m", r"\d{2}"), "dd": ("%d", r"\d{2}")}


class QueryRefused(Exception):
    """What Athena refuses before reading anything."""


@dataclasses.dataclass(frozen=True)
class Projection:
    """A Glue table's partition projection: its partition columns in folder order, the values each
    can take (None for an `injected` column: whatever the query's equality names), and where their
    files are."""

    names: tuple[str, ...]
    values: tuple[tuple[str, ...] | None, ...]
    pattern: re.Pattern[str]

    @staticmethod
    def of(table: dict, today: dt.date) -> Projection:
        params = table["parameters"]
        names = tuple(key["name"] for key in table["partition_keys"])
        values: list[tuple[str, ...] | None] = []
        patterns = {}
        for name in names:
            kind = params[f"projection.{name}.type"]
            if kind == "enum":
                values.append(tuple(params[f"projection.{name}.values"].split(",")))
                patterns[name] = r"[^/]+"
            elif kind == "injected":
                values.append(None)
                patterns[name] = r"[^/]+"
            else:
                assert kind == "date", f"no stand-in for the projection type {kind}"
                date_format = params[f"projection.{name}.format"]
                strftime, day_pattern = date_format, date_format
                for joda, (python, regex) in JODA_TO_STRFTIME.items():
                    strftime, day_pattern = strftime.replace(joda, python), day_pattern.replace(joda, regex)
                start_text, end_text = params[f"projection.{name}.range"].split(",")
                assert end_text == "NOW"
                start = dt.datetime.strptime(start_text, strftime).date()
                values.append(tuple((start + dt.timedelta(days=n)).strftime(strftime) for n in range((today - start).days + 1)))
                patterns[name] = day_pattern
        # Terraform JSON writes a literal `${` as `$${`; the template holds the bucket and the prefix.
        template = params["storage.location.template"].replace("$${", "${").removeprefix("s3://").split("/", 1)[1]
        parts = re.split(r"(\$\{[a-z_]+\})", template)
        regex = "".join(f"(?P<{p[2:-1]}>{patterns[p[2:-1]]})" if p.startswith("${") else re.escape(p) for p in parts)
        return Projection(names, tuple(values), re.compile(regex + r"/[^/]+"))

    def known(self, name: str) -> tuple[str, ...] | None:
        """The values the projection knows of column `name`; None for an injected one."""
        return self.values[self.names.index(name)]

    @property
    def regions(self) -> tuple[str, ...]:
        return self.known("region")

    @property
    def days(self) -> tuple[str, ...]:
        return self.known(DAY)

    def partition_of(self, key: str) -> tuple[str, ...] | None:
        """The partition of the object `key`, or None when the projection does not know it."""
        match = self.pattern.fullmatch(key)
        if not match:
            return None
        found = tuple(match[name] for name in self.names)
        return found if all(v is None or f in v for f, v in zip(found, self.values, strict=True)) else None


@dataclasses.dataclass(frozen=True)
class Run:
    columns: list[str]
    rows: list[dict[str, Any]]
    partitions: dict[str, set[tuple[str, ...]]]  # table: the partitions read
    files: set[Path]
    scanned: dict[str, int]  # table: the bytes Athena would read (whole log files; Parquet column chunks)


def column_paths(select: exp.Select, table: str) -> set[tuple[str, ...]]:
    """The column paths a SELECT over `table` reads: a column, or a struct field below it
    (`useridentity.arn` is ("useridentity", "arn")): what a Parquet reader with nested column
    pruning (Trino's dereference pushdown) fetches."""
    paths = set()
    for column in select.find_all(exp.Column):
        if column.find_ancestor(exp.Select) is not select:
            continue
        path = [part for part in (column.table, column.name) if part and part != table]
        node = column
        while isinstance(node.parent, exp.Dot) and node.parent.this is node:
            node = node.parent
            path.append(node.expression.name)
        paths.add(tuple(path))
    return paths


def parquet_bytes(path: Path, wanted: set[tuple[str, ...]]) -> int:
    """The compressed size of the column chunks of `path` below any of the `wanted` paths."""
    chunks = duckdb.connect().execute(
        "SELECT path_in_schema, total_compressed_size FROM parquet_metadata(?)", [str(path)]).fetchall()
    return sum(size for name, size in chunks if any(tuple(name.split(", "))[:len(w)] == w for w in wanted))


def conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def _trino_node(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.CountIf):
        # Trino's count_if counts a NULL condition as false (0 when all are); DuckDB's returns NULL.
        return exp.CountIf(this=exp.func("coalesce", node.this, exp.false()))
    if isinstance(node, exp.JSONExtractScalar):
        # Trino's json_extract_scalar of an object or an array is NULL; DuckDB's ->> returns its JSON text.
        value = exp.Anonymous(this="json_extract", expressions=[node.this.copy(), node.expression.copy()])
        kind = exp.Anonymous(this="json_type", expressions=[value])
        composite = exp.In(this=kind, expressions=[exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")])
        return exp.Case(ifs=[exp.If(this=composite, true=exp.null())], default=node.copy())
    return node


def trino_semantics(tree: exp.Expression) -> exp.Expression:
    """A query as DuckDB must run it to answer what Trino (Athena) answers, where the two differ."""
    return tree.transform(_trino_node)


class AthenaStandIn:
    """DuckDB serving a stack's Glue tables over a folder laid out like the trail bucket, and the
    compact table over the Parquet files the compaction statement writes (`compact`)."""

    def __init__(self, stack: dict, bucket_root: Path, today: dt.date, workdir: Path, schema: Schema = SCHEMA) -> None:
        self.schema, self.root, self.today, self.workdir = schema, bucket_root, today, workdir
        self.tables = {table["name"]: table for table in resources(stack, "aws_glue_catalog_table").values()}
        if compact := self.tables.get(schema.compact.name):
            assert "projection.enabled" not in compact["parameters"], "the compact table's partitions are registered, not projected"
            self.compact_root = workdir / "compact-table" / compact["storage_descriptor"]["location"].removeprefix("s3://")
        self.compact_partitions: dict[tuple[str, str], list[Path]] = {}  # (day, category): its files, as registered
        self.projections = {name: Projection.of(table, today) for name, table in self.tables.items() if name != schema.compact.name}
        self.files = sorted(bucket_root.rglob("*.json.gz"))
        # Each table's columns, as the stack declares them.
        self._columns = {name: [(c["name"], HiveType.parse(c["type"])) for c in table["storage_descriptor"]["columns"]]
                         for name, table in self.tables.items()}
        self._lines: dict[tuple[Path, str], list[str]] = {}  # (file, table): its rows as NDJSON lines
        self._runs = itertools.count()

    def key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _rows(self, path: Path, table: str) -> list[str]:
        """The rows of one log file in `table`, as NDJSON lines."""
        if (path, table) not in self._lines:
            partition = dict(zip(self.projections[table].names, self.projections[table].partition_of(self.key(path)), strict=True))
            lines = []
            for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
                by_name = {key.lower(): value for key, value in record.items()}
                row = {name: serde_value(by_name.get(name), hive) for name, hive in self._columns[table]}
                lines.append(json.dumps(row | partition) + "\n")
            self._lines[(path, table)] = lines
        return self._lines[(path, table)]

    def _candidates(self, table: str, on_partitions: list[exp.Expression]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """A table's partition columns, and the partitions Athena knows: projected, or registered.
        An injected column takes the values the query's equalities on it name; QueryRefused
        without one, as Athena refuses (user guide, "Injected type")."""
        if table == self.schema.compact.name:
            names = tuple(name for name, _ in self.schema.compact.partition_keys)
            return names, sorted(self.compact_partitions)
        projection = self.projections[table]
        values = []
        for name, known in zip(projection.names, projection.values, strict=True):
            if known is None:
                known = tuple(equality.expression.name for equality in on_partitions if isinstance(equality, exp.EQ)
                              and {c.name for c in equality.find_all(exp.Column)} == {name}
                              and isinstance(equality.expression, exp.Literal))
                if not known:
                    raise QueryRefused(f"CONSTRAINT_VIOLATION: for the injected projected partition column {name} of {table}, "
                                       "the WHERE clause must hold a static equality on it")
            values.append(known)
        return projection.names, list(itertools.product(*values))

    def _partition_names(self, table: str) -> tuple[str, ...]:
        return tuple(key["name"] for key in self.tables[table]["partition_keys"])

    def _selected_partitions(self, connection: duckdb.DuckDBPyConnection, tree: exp.Expression
                             ) -> tuple[dict[str, set[tuple[str, ...]]], dict[str, set[tuple[str, ...]]]]:
        """Per table, the partitions the partition predicates of the SELECTs over it select, and
        the column paths those SELECTs read."""
        selected: dict[str, set[tuple[str, ...]]] = {}
        paths: dict[str, set[tuple[str, ...]]] = {}
        for select in tree.find_all(exp.Select):
            for table in select.find_all(exp.Table):
                if table.name not in self.tables or table.find_ancestor(exp.Select) is not select:
                    continue
                names = self._partition_names(table.name)
                where = select.args.get("where")
                on_partitions = [c for c in conjuncts(where.this if where else None)
                                 if not c.find(exp.Select) and (found := {col.name for col in c.find_all(exp.Column)})
                                 and found <= set(names)]
                names, candidates = self._candidates(table.name, on_partitions)
                days = [c for c in on_partitions if any(col.name in ("timestamp", "day") for col in c.find_all(exp.Column))]
                assert days, f"a SELECT over {table.name} has no predicate on the day partition: it reads every day"
                predicate = exp.and_(*on_partitions).transform(
                    lambda node: exp.column(node.name) if isinstance(node, exp.Column) else node)
                columns = ", ".join(f'unnest(${n}) AS "{name}"' for n, name in enumerate(names, 1))
                connection.execute(f"CREATE OR REPLACE TEMP TABLE partitions AS SELECT {columns}",
                                   [[candidate[n] for candidate in candidates] for n in range(len(names))])
                quoted = ", ".join(f'"{name}"' for name in names)
                found = connection.execute(f"SELECT {quoted} FROM partitions WHERE {predicate.sql(dialect='duckdb')}").fetchall()
                selected.setdefault(table.name, set()).update(found)
                paths.setdefault(table.name, set()).update(column_paths(select, table.name) - {(n,) for n in names})
        assert selected, "the query reads no table of the catalog"
        return selected, paths

    def _serve(self, connection: duckdb.DuckDBPyConnection, tree: exp.Expression) -> tuple[
            dict[str, set[tuple[str, ...]]], set[Path], dict[str, int]]:
        """Register each table the statement reads, with the files of the partitions it selects."""
        partitions, paths = self._selected_partitions(connection, tree)
        read: set[Path] = set()
        scanned: dict[str, int] = {}
        for table, wanted in partitions.items():
            if table == self.schema.compact.name:
                files = [(path, partition) for partition in sorted(wanted) for path in self.compact_partitions[partition]]
                read.update(path for path, _ in files)
                scanned[table] = sum(parquet_bytes(path, paths[table]) for path, _ in files)
                compact = self.schema.compact
                columns = ", ".join(f'"{n}" {duckdb_type(HiveType.parse(t))}'
                                    for n, t in (*compact.columns, *compact.partition_keys))
                connection.execute(f"CREATE TABLE {table} ({columns})")
                for path, (day, category) in files:
                    connection.execute(f"INSERT INTO {table} BY NAME SELECT *, $1 AS day, $2 AS category "
                                       f"FROM read_parquet('{path}', hive_partitioning = false)", [day, category])
                continue
            files = [path for path in self.files if self.projections[table].partition_of(self.key(path)) in wanted]
            read.update(files)
            scanned[table] = sum(path.stat().st_size for path in files)  # a gzip file is read whole
            served = self.workdir / f"{next(self._runs)}-{table}.ndjson"
            with served.open("w") as out:
                for path in files:
                    out.writelines(self._rows(path, table))
            types = {name: duckdb_type(hive) for name, hive in self._columns[table]} | dict.fromkeys(self._partition_names(table), "VARCHAR")
            connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_json('{served}', format='newline_delimited', columns={types!r})")
        return partitions, read, scanned

    def _prepare(self, sql: str, parameters: Sequence[str] = ()) -> exp.Expression:
        statements_found = sqlglot.parse(sql, read="trino")
        assert len(statements_found) == 1, "one statement"
        assert not statements_found[0].find(exp.CurrentTimestamp, exp.CurrentTime), "only current_date is fixed to the corpus's today"
        today = exp.cast(exp.Literal.string(self.today.isoformat()), exp.DataType.build("DATE"))
        values = iter(parameters)

        def fixed(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.CurrentDate):
                return today.copy()
            if isinstance(node, exp.Placeholder):  # Athena's execution parameters, in order
                return sqlglot.parse_one(next(values), read="trino")
            return node
        tree = trino_semantics(statements_found[0].transform(fixed))
        assert next(values, None) is None, "as many execution parameters as `?`"
        return tree

    def run(self, sql: str) -> Run:
        tree = self._prepare(sql)
        connection = duckdb.connect()
        partitions, read, scanned = self._serve(connection, tree)
        cursor = connection.execute(tree.sql(dialect="duckdb"))
        columns = [column[0] for column in cursor.description]
        return Run(columns, [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()], partitions, read, scanned)

    def compact(self, sql: str, parameters: Sequence[str]) -> Run:
        """Run the compaction statement as Athena's INSERT INTO a Hive table does: its SELECT's
        columns by position into the table's, a Parquet file per partition written, and the new
        partitions registered at the end."""
        tree = self._prepare(sql, parameters)
        assert isinstance(tree, exp.Insert) and tree.this.name == self.schema.compact.name, "an INSERT INTO the compact table"
        connection = duckdb.connect()
        partitions, read, scanned = self._serve(connection, tree.expression)
        compact = self.schema.compact
        names = [n for n, _ in (*compact.columns, *compact.partition_keys)]
        connection.execute(f"CREATE TEMP TABLE inserted AS {tree.expression.sql(dialect='duckdb')}")
        produced = [column[0] for column in connection.execute("SELECT * FROM inserted LIMIT 0").description]
        assert len(produced) == len(names), f"the SELECT gives {len(produced)} columns; the table has {len(names)}"
        renamed = ", ".join(f'"{old}" AS "{new}"' for old, new in zip(produced, names, strict=True))
        connection.execute(f"CREATE TEMP TABLE rows AS SELECT {renamed} FROM inserted")
        stored = ", ".join(f'"{n}"' for n, _ in compact.columns)
        written = []
        for day, category in connection.execute("SELECT DISTINCT day, category FROM rows ORDER BY 1, 2").fetchall():
            folder = self.compact_root / f"day={day}" / f"category={category}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{next(self._runs):05d}.parquet"
            connection.execute(f"COPY (SELECT {stored} FROM rows WHERE day = $1 AND category = $2 ORDER BY eventtime, eventid) "
                               f"TO '{path}' (FORMAT parquet, COMPRESSION {compact.compression.lower()})", [day, category])
            written.append(((day, category), path))
        for partition, path in written:
            self.compact_partitions.setdefault(partition, []).append(path)
        count = connection.execute("SELECT count(*) FROM rows").fetchone()[0]
        return Run(["rows"], [{"rows": count}], partitions, read, scanned)
