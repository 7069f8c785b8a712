"""The one reader of TOML content: a file into typed, frozen dataclasses, every problem at once.

Every content file (`data/*.toml`) and the environment files go through here, so a mistake reads
the same wherever it is: one line per problem, `FILE: KEY: PROBLEM`, collected into one
`ConfigError`. A dataclass declares the shape: each field's type annotation is the type the reader
enforces (`str`, `int`, `bool`, `tuple[X, ...]` for a list, `tuple[X, Y]` for a fixed pair,
`dict[str, X]` for a table of named entries, `X | Y`, or another dataclass for a nested table),
a field without a default is required, and an optional `problems()` method yields
`(key, problem)` for values the types alone cannot refuse.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from definitions.errors import ConfigError
from definitions.paths import relative

_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def load_toml(path: Path, where: str | None = None) -> dict[str, Any]:
    """The parsed file; ConfigError naming the file (as `where`, default its path from the
    repository root) when it cannot be read or is not TOML."""
    where = where or relative(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{where}: (file): invalid TOML: {err}"]) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{where}: (file): cannot be read: {err}"]) from err


def describe(hint: Any) -> str:
    """What a value of type `hint` is, in words: "a list of strings"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in _NAMES:
        return _NAMES[hint]
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(arg) for arg in args)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return "a list of " + _plural(describe(args[0]))
    if origin is tuple:
        return "a list [" + ", ".join(describe(arg).split(" ", 1)[-1] for arg in args) + "]"
    if hint is dict or origin is dict or dataclasses.is_dataclass(hint):
        return "a table"
    return getattr(hint, "__name__", str(hint))


def _plural(words: str) -> str:
    """'a string' -> 'strings', 'a list [string, string]' -> 'lists [string, string]', 'a table' -> 'tables'."""
    article, _, rest = words.partition(" ")
    noun, _, tail = rest.partition(" ")
    return f"{noun}s{' ' + tail if tail else ''}" if article in ("a", "an") else words


def type_problem(value: Any, hint: Any) -> str | None:
    """Why `value` (as TOML parsed it) is not of type `hint`, or None. Dataclasses are checked by
    `read_dataclass`, so here only their being a table."""
    if not _conforms(value, hint):
        return f"must be {describe(hint)}, got {type(value).__name__} {value!r}"
    return None


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint in (str, bool):
        return isinstance(value, hint)
    if origin in (types.UnionType, typing.Union):
        return any(_conforms(value, arg) for arg in args)
    if origin is tuple:
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(item, args[0]) for item in value)
        return len(value) == len(args) and all(_conforms(item, arg) for item, arg in zip(value, args, strict=True))
    if hint is dict or dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(item, args[1]) for item in value.values())
    raise TypeError(f"the typed TOML reader cannot check {hint!r}")


@functools.cache
def fields(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    """(field, type hint) of each key of a dataclass; fields marked `internal` are not keys."""
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls) if not f.metadata.get("internal"))


def read_dataclass(cls: type, table: Any, where: str, label: str, problems: list[str]) -> Any:
    """`table` as an instance of `cls`, or None when it has problems (appended to `problems`, each
    `where: label.key: problem`). Nested dataclasses, lists and tables of them are read alike."""
    if not isinstance(table, dict):
        problems.append(f"{where}: {label}: must be a table, got {type(table).__name__} {table!r}")
        return None
    prefix = f"{label}." if label else ""
    found = [f"{where}: {prefix}{key}: unknown key" for key in sorted(set(table) - {f.name for f, _ in fields(cls)})]
    values: dict[str, Any] = {}
    for field, hint in fields(cls):
        if field.name not in table:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                found.append(f"{where}: {prefix}{field.name}: missing required key")
            continue
        value = read_value(table[field.name], hint, where, f"{prefix}{field.name}", found)
        if value is not _INVALID:
            values[field.name] = value
    if not found:
        instance = cls(**values)
        found = [f"{where}: {prefix}{key}: {problem}" for key, problem in getattr(instance, "problems", _none)()]
    problems += found
    return None if found else instance


_INVALID = object()


def _none() -> Iterator[tuple[str, str]]:
    return iter(())


def read_value(value: Any, hint: Any, where: str, label: str, problems: list[str]) -> Any:
    """`value` converted to `hint` (lists to tuples, tables to dataclasses), or _INVALID with its
    problems appended. An entry of a list is labelled by its `name` when it has one, else `[index]`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        instance = read_dataclass(hint, value, where, label, problems)
        return _INVALID if instance is None else instance
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            problems.append(f"{where}: {label}: must be {describe(hint)}, got {type(value).__name__} {value!r}")
            return _INVALID
        before = len(problems)
        items = [read_value(item, args[0], where, _entry_label(label, index, item), problems) for index, item in enumerate(value)]
        return _INVALID if len(problems) > before else tuple(items)
    if origin is dict and (dataclasses.is_dataclass(args[1]) or typing.get_origin(args[1]) in (tuple, dict)):
        if not isinstance(value, dict):
            problems.append(f"{where}: {label}: must be a table, got {type(value).__name__} {value!r}")
            return _INVALID
        before = len(problems)
        items = {key: read_value(item, args[1], where, f"{label}.{key}" if label else key, problems) for key, item in value.items()}
        return _INVALID if len(problems) > before else items
    if problem := type_problem(value, hint):
        problems.append(f"{where}: {label}: {problem}")
        return _INVALID
    return _frozen(value)


def _entry_label(label: str, index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) and name else f"{label}[{index}]"


def _frozen(value: Any) -> Any:
    """Lists become tuples, all the way down."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def unique_names(kind: str, entries: Sequence[Any]) -> Iterator[tuple[str, str]]:
    """(key, problem) when a file defines no `kind` entry, or one name twice: for a `problems()`
    of a file whose entries each have a `name`."""
    if not entries:
        yield kind, "none defined"
    names = [entry.name for entry in entries]
    for name in sorted({n for n in names if names.count(n) > 1}):
        yield f"{name}.name", "defined more than once"


@functools.cache
def read_file(cls: type, path: Path) -> Any:
    """The whole file `path` as an instance of `cls`, read once; ConfigError listing every problem."""
    problems: list[str] = []
    instance = read_dataclass(cls, load_toml(path), relative(path), "", problems)
    if problems:
        raise ConfigError(problems)
    return instance


@functools.cache
def read_named_tables(entry: type, path: Path) -> dict[str, Any]:
    """A file whose top-level tables are all entries of one kind, by name: {name: entry instance}; read once."""
    problems: list[str] = []
    tables = read_value(load_toml(path), dict[str, entry], relative(path), "", problems)
    if problems:
        raise ConfigError(problems)
    return tables
