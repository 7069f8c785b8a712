"""The Athena named queries: one `.sql` file each, a template rendered at synth. An environment's are
in `data/queries/`, the organization's (over every account's logs) in `data/organization_queries/`.
No cdktf imports.

- The first line, `-- <description>`, is the named query's description.
- `{{name}}` placeholders stand for this environment's resources (PLACEHOLDERS), or the
  organization's (ORGANIZATION_PLACEHOLDERS); rendering fills every one, and refuses a template
  naming another. They only ever stand inside single-quoted SQL
  literals, so that a template reads as SQL. A value may be a Terraform reference (the data key's
  ARN is known only at apply): the SQL uses single quotes only, because cdktf's HCL output
  mis-escapes a double quote next to a reference.
- OBJECT_KEY_PLACEHOLDER is not rendered: Athena named queries take no parameters, so a query about
  one object carries this sentinel for the investigator to replace; as it is, it matches nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from collections.abc import Mapping
from pathlib import Path

from definitions.errors import ConfigError
from definitions.paths import DATA_DIR, ORGANIZATION_QUERIES_DIR, QUERIES_DIR, relative

PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
PLACEHOLDERS = {
    "account_id": "the account's 12 digits",
    "home_region": "the stack's region, where the data bucket and the data key are",
    "data_bucket": "the data bucket's name",
    "results_bucket": "the Athena results bucket's name",
    "trail_bucket": "the trail bucket's name",
    "trail_name": "the trail's name",
    "trail_arn": "the trail's ARN",
    "data_key_arn": "the data key's ARN (a Terraform reference)",
    "application_role_arn": "the application role's ARN",
}
ORGANIZATION_PLACEHOLDERS = {
    "organization_accounts": "the topology's accounts, comma-separated, in order",
    "management_account": "the management account's 12 digits",
    "organizations_region": "the region where CloudTrail records AWS Organizations' calls (the partition's global region)",
}
OBJECT_KEY_PLACEHOLDER = "OBJECT-KEY-TO-INVESTIGATE"
# The organization runs an environment's investigations on one account's logs through
# `account_cloudtrail`, whose account is an injected partition: the investigator puts the account
# in place of this sentinel (as it is, Athena reads nothing: no folder has that name).
ACCOUNT_PLACEHOLDER = "ACCOUNT-TO-INVESTIGATE"
ACCOUNT_TABLE = "account_cloudtrail"
_COMPACT_NOTE = re.compile(r" ?Past days are read from the compact table[^.]*\(\d\d:\d\d UTC\)\.")
_COMPACT_DAY = re.compile(r"\bday ([<>]=?) date_format\((.*), '%Y-%m-%d'\)")
_LOG_TABLE = re.compile(r"\bFROM (cloudtrail_compact|cloudtrail|home_region_events)\b")
COMPACTION_FILE = DATA_DIR / "compaction.sql"
# When the compaction runs each day (UTC): a log file lands in the folder of its delivery day, so
# yesterday's folders are complete at midnight (a late call is in today's folder). The long
# investigations read days before today from the compact table: until the run ends, yesterday is
# missing from them.
COMPACTION_TIME = datetime.time(0, 5)


@dataclasses.dataclass(frozen=True)
class QueryTemplate:
    name: str
    description: str
    text: str

    @property
    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.text))

    @property
    def reads_data_events_only(self) -> bool:
        """Whether it looks at data events alone: all an environment's trail records when the
        organization trail records its management events."""
        return "eventcategory = 'Data'" in self.text

    @property
    def one_line(self) -> str:
        """The statement on one line, its `--` comment lines left out: text that JSON carries
        without an escape (cdktf's HCL output drops the backslash of a JSON escape)."""
        lines = [line.strip() for line in self.text.splitlines()]
        code = [line for line in lines if line and not line.startswith("--")]
        if any("--" in line or '"' in line or "\\" in line for line in code):
            raise ValueError(f"{self.name}.sql: a comment after code, a double quote or a backslash cannot go on one line")
        return " ".join(code)

    def render(self, values: Mapping[str, str]) -> str:
        """The query for one environment; ValueError when a placeholder has no value."""
        if missing := sorted(self.placeholders - set(values)):
            raise ValueError(f"{self.name}.sql: no value for {', '.join(missing)}")
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], self.text)


def on_one_account(template: QueryTemplate) -> QueryTemplate:
    """An environment's investigation as the organization runs it on one account of its trail:
    every read of the logs (`cloudtrail`; `home_region_events`, with the home region; the compact
    table's past days, which the organization reads from the logs themselves) goes to
    `account_cloudtrail` with `account = '{{account_id}}'`. It still names the environment's
    placeholders.

    The templates read the logs in one shape: a `FROM` line, then a `WHERE` line on the day
    partition (`timestamp`, or the compact table's `day` with `category`); ValueError when a read
    is not in that shape."""
    first, *lines = template.text.splitlines()
    body, reads, pinned, home_region = [], 0, 0, False
    for line in lines:
        if line.strip().startswith("--"):  # the comments speak of the environment's tables
            continue
        if table := _LOG_TABLE.search(line):
            reads += 1
            home_region = table.group(1) == "home_region_events"
            line = _LOG_TABLE.sub(f"FROM {ACCOUNT_TABLE}", line)
        line = _COMPACT_DAY.sub(r"timestamp \1 date_format(\2, '%Y/%m/%d')", line)
        line = re.sub(r"\bcategory = 'Management'", "coalesce(eventcategory, 'Management') = 'Management'", line)
        body.append(line)
        if where := re.match(r"(\s*)WHERE timestamp ", line):
            body.append(f"{where.group(1)}  AND account = '{{{{account_id}}}}'")
            body += [f"{where.group(1)}  AND region = '{{{{home_region}}}}'"] if home_region else []
            pinned += 1
    if not reads or reads != pinned:
        raise ValueError(f"{template.name}.sql: (file): {reads} reads of the logs, {pinned} of them on the day partition: "
                         "each read must be a FROM line followed by a WHERE line on the day")
    description = _COMPACT_NOTE.sub("", first[3:]).strip()
    generated = f"-- {description}\n-- The environment's {template.name}.sql, on one account's logs in account_cloudtrail.\n"
    return QueryTemplate(name=template.name, description=description, text=generated + "\n".join(body) + "\n")


def for_one_account(template: QueryTemplate) -> QueryTemplate | None:
    """`on_one_account` for any account: the investigator puts its id in place of
    ACCOUNT_PLACEHOLDER. None for an investigation that names the environment's resources or its
    home region: it runs only for that environment, with its names (OrganizationTables'
    `environment_queries`)."""
    variant = on_one_account(template)
    if variant.placeholders - {"account_id"}:
        return None
    description = f"{variant.description} One account of the organization's trail: replace {ACCOUNT_PLACEHOLDER} with its id."
    body = variant.text.split("\n", 1)[1]  # after the description line
    return QueryTemplate(name=variant.name, description=description,
                         text=f"-- {description}\n{body}".replace("{{account_id}}", ACCOUNT_PLACEHOLDER))


def _read_template(path: Path, known: Mapping[str, str] = PLACEHOLDERS) -> tuple[QueryTemplate | None, list[str]]:
    """The template of one `.sql` file, or None with its problems: no description line, a double
    quote, an unknown placeholder, unreadable."""
    where = relative(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, [f"{where}: (file): cannot be read: {err}"]
    first = text.splitlines()[0] if text else ""
    found = []
    if not first.startswith("-- ") or not first[3:].strip():
        found.append(f"{where}: line 1: must be a '-- description' comment (the named query's description)")
    if '"' in text:
        line = next(n for n, content in enumerate(text.splitlines(), 1) if '"' in content)
        found.append(f"{where}: line {line}: use single quotes only (cdktf's HCL output mis-escapes a double quote near a reference)")
    template = QueryTemplate(name=path.stem, description=first[3:].strip(), text=text)
    if unknown := sorted(template.placeholders - set(known)):
        found.append(f"{where}: placeholders: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    return (None if found else template), found


@functools.cache
def load_queries(directory: Path = QUERIES_DIR) -> tuple[QueryTemplate, ...]:
    """Every `.sql` file of `directory`, by name, read once. ConfigError lists every file without
    its description line, with a double quote, or naming a placeholder the folder's queries do not
    know (ORGANIZATION_PLACEHOLDERS in the organization's folder, PLACEHOLDERS elsewhere), and a
    folder without queries."""
    known = ORGANIZATION_PLACEHOLDERS if directory == ORGANIZATION_QUERIES_DIR else PLACEHOLDERS
    queries, problems = [], []
    for path in sorted(directory.glob("*.sql")):
        template, found = _read_template(path, known)
        problems += found
        if template:
            queries.append(template)
    if not queries and not problems:
        problems.append(f"{relative(directory)}/: (directory): no queries (*.sql)")
    if problems:
        raise ConfigError(problems)
    return tuple(queries)


@functools.cache
def load_organization_queries() -> tuple[QueryTemplate, ...]:
    """The organization's investigations: its own (data/organization_queries/*.sql), then each of
    an environment's that the organization runs on one account (`for_one_account`), by name."""
    own = load_queries(ORGANIZATION_QUERIES_DIR)
    variants, problems = [], []
    for template in load_queries():
        try:
            variant = for_one_account(template)
        except ValueError as err:
            problems.append(f"{relative(QUERIES_DIR)}/{err}")
            continue
        variants += [variant] if variant else []
    problems += [f"{relative(ORGANIZATION_QUERIES_DIR)}/{name}.sql: (file): an environment's investigation has this name"
                 for name in sorted({t.name for t in own} & {t.name for t in variants})]
    if problems:
        raise ConfigError(problems)
    return tuple(sorted((*own, *variants), key=lambda template: template.name))


@functools.cache
def load_compaction(path: Path = COMPACTION_FILE) -> QueryTemplate:
    """The compaction statement: one day of the cloudtrail table into the compact table. Its `?`
    parameters are the schedule's time, passed by Athena's execution parameters."""
    template, problems = _read_template(path)
    if problems:
        raise ConfigError(problems)
    return template
