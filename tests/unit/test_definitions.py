"""The alarm definitions file is validated like an environment file: every problem at once, one
line each naming the file, the alarm and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from definitions.alarm_definitions import (
    ALARMS_FILE,
    SYSTEM_PLACEHOLDERS,
    AlarmDefinition,
    load_alarm_definitions,
    load_system_alarms,
)
from definitions.audit_path_rules import load_audit_path_rules
from definitions.errors import ConfigError
from definitions.queries import ACCOUNT_PLACEHOLDER, QueryTemplate, for_one_account, load_compaction

GOOD = '''[[alarm]]
name = "RootAccountUsage"
control = "CloudWatch.1"
description = "Root account used"
pattern = '{$.userIdentity.type="Root"}'
'''


def write(tmp_path: Path, text: str, name: str = "security_alarms.toml") -> Path:
    path = tmp_path / "data" / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def problems(path: Path, load=load_alarm_definitions) -> list[str]:
    """The problems `load` finds in the file, each shown as `data/<file>: ...` after checking that
    it names the file it was read from."""
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert all(line.startswith(f"{path}: ") for line in caught.value.problems), caught.value.problems
    return [line.replace(str(path), f"data/{path.name}", 1) for line in caught.value.problems]


def test_the_shipped_definitions_load_with_their_defaults():
    alarms = load_alarm_definitions()
    assert alarms and all(isinstance(a, AlarmDefinition) for a in alarms)
    assert load_alarm_definitions(ALARMS_FILE) is alarms  # read once


def test_a_good_file_gives_typed_definitions(tmp_path: Path):
    text = GOOD + 'threshold = 5\nperiod = 3600\nevaluation_periods = 24\n'
    (alarm,) = load_alarm_definitions(write(tmp_path, text))
    assert (alarm.name, alarm.threshold, alarm.period, alarm.evaluation_periods) == ("RootAccountUsage", 5, 3600, 24)


@pytest.mark.parametrize(("extra", "line"), [
    ("period = 90\n", "RootAccountUsage.period: must be 10, 30 or a multiple of 60 seconds, got 90"),
    ("period = 3600\nevaluation_periods = 25\n", "RootAccountUsage.evaluation_periods: must be at least 1 and cover at most a day, got 25"),
    ("threshold = 0\n", "RootAccountUsage.threshold: must be at least 1 event, got 0"),
    ("threshold = '1'\n", "RootAccountUsage.threshold: must be an integer, got str '1'"),
    ("colour = 'red'\n", "RootAccountUsage.colour: unknown key"),
])
def test_a_bad_entry_names_the_file_the_alarm_and_the_key(tmp_path: Path, extra: str, line: str):
    assert problems(write(tmp_path, GOOD + extra)) == [f"data/security_alarms.toml: {line}"]


def test_every_problem_is_reported_at_once(tmp_path: Path):
    text = GOOD + GOOD.replace('pattern = ', 'pattern = "no braces"\n#') + '[[alarm]]\nname = "Bad Name"\n'
    found = problems(write(tmp_path, text))
    assert sorted(found) == [
        "data/security_alarms.toml: Bad Name.control: missing required key",
        "data/security_alarms.toml: Bad Name.description: missing required key",
        "data/security_alarms.toml: Bad Name.pattern: missing required key",
        "data/security_alarms.toml: RootAccountUsage.pattern: must be a JSON metric filter pattern: '{ ... }'",
    ]


def test_a_name_defined_twice_is_refused(tmp_path: Path):
    assert problems(write(tmp_path, GOOD + GOOD)) == [
        "data/security_alarms.toml: RootAccountUsage.name: defined more than once"]


def test_a_cis_pattern_may_not_name_a_placeholder(tmp_path: Path):
    text = GOOD.replace('{$.userIdentity.type="Root"}', '{ $.requestParameters.bucketName = "${data_bucket}" }')
    assert problems(write(tmp_path, text)) == [
        "data/security_alarms.toml: RootAccountUsage.pattern: names unknown placeholders ['data_bucket'] (known: none)"]


def test_a_system_pattern_names_only_the_systems_placeholders(tmp_path: Path):
    text = GOOD.replace('{$.userIdentity.type="Root"}', '{ ($.requestParameters.bucketName = "${data_bucket}") && ($.x = "${trail_bucket}") }')
    (line,) = problems(write(tmp_path, text, "system_alarms.toml"), load_system_alarms)
    assert line == ("data/system_alarms.toml: RootAccountUsage.pattern: names unknown placeholders ['trail_bucket'] "
                    f"(known: {sorted(SYSTEM_PLACEHOLDERS)})")
    (alarm,) = load_system_alarms(write(tmp_path / "good", text.replace("${trail_bucket}", "${data_bucket}"), "system_alarms.toml"))
    assert alarm.filled({"data_bucket": "acme-data"}) == '{ ($.requestParameters.bucketName = "acme-data") && ($.x = "acme-data") }'


def test_a_pattern_longer_than_cloudwatch_takes_is_refused(tmp_path: Path):
    text = GOOD.replace('{$.userIdentity.type="Root"}', "{ " + "x" * 1023 + " }")
    assert problems(write(tmp_path, text)) == [
        "data/security_alarms.toml: RootAccountUsage.pattern: must be at most 1024 characters, got 1027"]


RULE = '''[[rule]]
name = "key-disabled"
description = "A key was disabled"
source = "aws.kms"
event_names = ["DisableKey"]
watches = "keys"
'''


def test_the_shipped_audit_path_rules_load():
    rules = load_audit_path_rules()
    assert {rule.watches for rule in rules} == {"keys", "trail", "trail_bucket"}
    assert all(rule.event_source.endswith(".amazonaws.com") for rule in rules)


@pytest.mark.parametrize(("old", "new", "line"), [
    ('"key-disabled"', '"Key Disabled"', "name: must be 1-40 lowercase letters, digits or '-' (it ends the rule's name), got 'Key Disabled'"),
    ('"aws.kms"', '"kms"', "source: must be an AWS service's event source such as 'aws.kms', got 'kms'"),
    ('["DisableKey"]', '[]', "event_names: must be one or more API operation names, got []"),
    ('["DisableKey"]', '"DisableKey"', "event_names: must be a list of strings, got str 'DisableKey'"),
    ('"keys"', '"the-keys"', "watches: must be one of ['keys', 'trail', 'trail_bucket'], got 'the-keys'"),
])
def test_a_bad_audit_path_rule_names_the_file_the_rule_and_the_key(tmp_path: Path, old: str, new: str, line: str):
    name = "Key Disabled" if new == '"Key Disabled"' else "key-disabled"
    found = problems(write(tmp_path, RULE.replace(old, new), "audit_path_rules.toml"), load_audit_path_rules)
    assert found == [f"data/audit_path_rules.toml: {name}.{line}"]


def test_the_compaction_statement_goes_on_one_line_without_its_comments():
    statement = load_compaction()
    assert statement.one_line.startswith("INSERT INTO ") and "\n" not in statement.one_line and "--" not in statement.one_line
    assert statement.one_line.count("?") == statement.text.count("?") == 2


@pytest.mark.parametrize("line", ["SELECT 1 -- a trailing comment", "SELECT 'a\\\\b'"])
def test_what_one_line_cannot_carry_is_refused(line: str):
    template = QueryTemplate(name="example", description="an example", text=f"-- an example\n{line}\n")
    with pytest.raises(ValueError, match="example.sql: a comment after code"):
        _ = template.one_line


def _template(name: str, body: str) -> QueryTemplate:
    return QueryTemplate(name=name, description="d", text=f"-- d\n{body}")


def test_an_investigation_runs_on_one_account_when_it_reads_the_logs_in_the_known_shape():
    compacted = _template("past", "-- the compact table\nSELECT eventname\nFROM cloudtrail_compact\n"
                                  "WHERE day >= date_format(current_date - INTERVAL '3' DAY, '%Y-%m-%d')\n"
                                  "  AND category = 'Management'\n  AND eventcategory = 'Management';\n")
    variant = for_one_account(compacted)
    assert variant is not None and variant.name == "past" and ACCOUNT_PLACEHOLDER in variant.description
    lines = variant.text.splitlines()
    assert lines[2:] == ["SELECT eventname", "FROM account_cloudtrail",
                         "WHERE timestamp >= date_format(current_date - INTERVAL '3' DAY, '%Y/%m/%d')",
                         f"  AND account = '{ACCOUNT_PLACEHOLDER}'", "  AND coalesce(eventcategory, 'Management') = 'Management'",
                         "  AND eventcategory = 'Management';"]
    # About the environment's own resources, or its home region's table: it stays with the environment.
    assert for_one_account(_template("bucket", "SELECT 1 FROM cloudtrail\nWHERE timestamp = '{{data_bucket}}';\n")) is None
    assert for_one_account(_template("home", "SELECT 1 FROM home_region_events\nWHERE timestamp = '1';\n")) is None
    # A read whose day predicate is not its WHERE line's first would go unpinned: refused.
    with pytest.raises(ValueError, match=r"^odd\.sql: \(file\): 1 reads of the logs, 0 of them"):
        for_one_account(_template("odd", "SELECT 1 FROM cloudtrail\nWHERE eventname = 'x' AND timestamp = '1';\n"))
