"""The README and the documents under docs/ say what the code does: their commands exist, their
generated tables are the schema's and the query files', their links resolve, and the README stays a
short front door that links every document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli.update_docs import TABLES, query_table, section
from definitions.paths import DOCS_DIR, QUERIES_DIR, README, ROOT, relative
from environments.config import markdown_table

MAKEFILE = (ROOT / "Makefile").read_text()
DOCUMENTS = [README, *sorted(DOCS_DIR.glob("*.md"))]
README_MAX_LINES = 200
# A Markdown link or image: [text](target "optional title").
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """`text` without its fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    """Every link target of the Markdown file at `path`, as written."""
    return LINK.findall(prose(path.read_text()))


def relative_links(path: Path) -> list[tuple[str, Path, str]]:
    """(link as written, file it names, anchor or "") for every link of `path` that is not a URL."""
    found = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        file, _, anchor = target.partition("#")
        found.append((target, (path.parent / file).resolve() if file else path.resolve(), anchor))
    return found


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of `path`: lower case, punctuation dropped, spaces as
    hyphens, a repeated heading numbered."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        counts[slug] = counts.get(slug, 0) + 1
        found.add(slug if counts[slug] == 1 else f"{slug}-{counts[slug] - 1}")
    return found


def make_commands(text: str) -> set[str]:
    """The make targets `text` names: in code spans (`make X ...`) and on command lines of its sh blocks."""
    spans = set(re.findall(r"`make ([a-z][a-z-]*)", text))
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
    lines = {match for block in blocks for match in re.findall(r"^make ([a-z][a-z-]*)", block, re.M)}
    return spans | lines


def test_readme_begins_with_the_two_commands():
    text = README.read_text()
    after_title = text.split("\n\n", 1)[1]
    assert after_title.startswith("```sh\n"), "the README opens, under its title, with the two commands"
    first_block = after_title.removeprefix("```sh\n").split("```", 1)[0]
    lines = first_block.strip().splitlines()
    assert [line.split("#")[0].strip() for line in lines] == ["make synth", "make test"]
    assert all("#" in line and line.split("#", 1)[1].strip() for line in lines), "each command says what it does"


def test_the_readme_is_a_front_door():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail into docs/ (at most {README_MAX_LINES})"


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_make_command_mentioned_exists(document: Path):
    targets = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.M))
    mentioned = make_commands(document.read_text())
    assert mentioned - targets == set(), f"{relative(document)} names make targets the Makefile lacks"


def test_the_command_finder_sees_spans_and_sh_lines():
    text = "Run `make diff BASE=main`.\n\n```sh\nmake up ENV=dev   # start\nterraform init\n```\n"
    assert make_commands(text) == {"diff", "up"}


def test_every_document_is_linked_from_the_readme():
    linked = {file for _, file, _ in relative_links(README)}
    documents = {path.resolve() for path in DOCS_DIR.rglob("*") if path.is_file()}
    assert documents, "docs/ holds the documents"
    assert documents - linked == set(), "README.md must link every file under docs/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_relative_link_resolves(document: Path):
    broken = [target for target, file, _ in relative_links(document) if not file.exists()]
    assert not broken, f"{relative(document)} links files that do not exist: {broken}"
    unknown = [target for target, file, anchor in relative_links(document)
               if anchor and file.suffix == ".md" and anchor not in anchors(file)]
    assert not unknown, f"{relative(document)} links headings that do not exist: {unknown}"


def test_the_link_finder_sees_links_but_not_code(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\nSee [b](b.md#part), [c](https://example.com) and `[x](x.md)`.\n\n"
                    "```\n[y](y.md)\n```\n\n## Part two: `code`, too\n")
    assert links(page) == ["b.md#part", "https://example.com"]
    assert relative_links(page) == [("b.md#part", (tmp_path / "b.md").resolve(), "part")]
    assert anchors(page) == {"a-title", "part-two-code-too"}


def test_key_table_is_generated_from_the_schema():
    assert section((DOCS_DIR / "configuration.md").read_text(), "keys") == markdown_table()


def test_query_table_is_generated_from_the_sql_files():
    table = section((DOCS_DIR / "investigations.md").read_text(), "queries")
    assert table == query_table()
    assert len(table.splitlines()) == 2 + len(list(QUERIES_DIR.glob("*.sql")))


@pytest.mark.parametrize("name", TABLES)
def test_every_generated_table_is_in_its_document_alone(name: str):
    path, generate = TABLES[name]
    assert section(path.read_text(), name) == generate(), f"{relative(path)}: run `make docs`"
    elsewhere = [relative(doc) for doc in DOCUMENTS if doc.resolve() != path.resolve() and f"<!-- {name}:start -->" in doc.read_text()]
    assert not elsewhere, f"the {name} table belongs in {relative(path)} alone"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
