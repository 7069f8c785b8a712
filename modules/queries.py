"""The Athena named queries: one `queries/<name>.sql` file each, a template rendered at synth for
one environment. No cdktf imports.

- The first line, `-- <description>`, is the named query's description.
- `{{name}}` placeholders stand for this environment's resources (PLACEHOLDERS); rendering fills
  every one, and refuses a template naming another. They only ever stand inside single-quoted SQL
  literals, so that a template reads as SQL. A value may be a Terraform reference (the data key's
  ARN is known only at apply): the SQL uses single quotes only, because cdktf's HCL output
  mis-escapes a double quote next to a reference.
- OBJECT_KEY_PLACEHOLDER is not rendered: Athena named queries take no parameters, so a query about
  one object carries this sentinel for the investigator to replace; as it is, it matches nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parent.parent / "queries"
PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
PLACEHOLDERS = {
    "account_id": "the account's 12 digits",
    "data_bucket": "the data bucket's name",
    "results_bucket": "the Athena results bucket's name",
    "trail_bucket": "the trail bucket's name",
    "trail_name": "the trail's name",
    "trail_arn": "the trail's ARN",
    "data_key_arn": "the data key's ARN (a Terraform reference)",
    "application_role_arn": "the application role's ARN",
}
OBJECT_KEY_PLACEHOLDER = "OBJECT-KEY-TO-INVESTIGATE"


@dataclasses.dataclass(frozen=True)
class QueryTemplate:
    name: str
    description: str
    text: str

    @property
    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.text))

    def render(self, values: Mapping[str, str]) -> str:
        """The query for one environment; ValueError when a placeholder has no value."""
        if missing := sorted(self.placeholders - set(values)):
            raise ValueError(f"queries/{self.name}.sql: no value for {', '.join(missing)}")
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], self.text)


def load_queries(directory: Path = QUERIES_DIR) -> list[QueryTemplate]:
    """Every `.sql` file of `directory`, by name; ValueError on a file without its description
    line, with a double quote, or naming an unknown placeholder."""
    queries = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        first = text.splitlines()[0] if text else ""
        if not first.startswith("-- ") or not first[3:].strip():
            raise ValueError(f"{path.name}: the first line must be a '-- description' comment")
        if '"' in text:
            raise ValueError(f"{path.name}: use single quotes only (cdktf's HCL output mis-escapes a double quote near a reference)")
        template = QueryTemplate(name=path.stem, description=first[3:].strip(), text=text)
        if unknown := sorted(template.placeholders - set(PLACEHOLDERS)):
            raise ValueError(f"{path.name}: unknown placeholders {', '.join(unknown)}; known: {', '.join(PLACEHOLDERS)}")
        queries.append(template)
    return queries
