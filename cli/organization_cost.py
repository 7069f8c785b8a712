"""`make org-cost [EVENTS=<management events per account a month>]`: what the organization trail of
`organization.toml` costs a month, line by line (operations/organization_cost.py). Exit status 2,
one line per problem, when there is no organization file or it is invalid."""

from __future__ import annotations

import sys

from definitions.alarm_definitions import load_alarm_definitions
from definitions.errors import ConfigError
from definitions.paths import environments_dir, organization_file, relative
from environments.config import load_environments
from environments.organization import load_organization
from operations.organization_cost import Volume, markdown, monthly_costs, second_copy_accounts


def main(argv: list[str]) -> int:
    events = argv[0] if argv else ""
    if events and not events.isdigit():
        print(f"EVENTS: must be a whole number of management events per account a month, got {events!r}", file=sys.stderr)
        return 2
    try:
        envs = load_environments(environments_dir())
        org = load_organization(organization_file(), envs)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    if org is None:
        print(f"{relative(organization_file())}: no such file: describe the organization first (docs/configuration.md)",
              file=sys.stderr)
        return 2
    volume = Volume(management_events=int(events)) if events else Volume()
    lines = monthly_costs(len(org.accounts), second_copy_accounts(org, envs), len(load_alarm_definitions()), volume)
    print(f"{volume.management_events:,} management events per account a month (assumed; EVENTS= to change)\n")
    print(markdown([(f"{org.settings.id}: {len(org.accounts):,} accounts", lines)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
