"""The GitHub Actions workflows: valid for GitHub, clean for zizmor, and doing what the runbook says they do."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR
from tooling.offline.stack_files import available_stacks
from tooling.plan_diff import argument_parser

WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
PULUMI_ACTION = "pulumi/actions@"
# The stacks CI previews and deploys; other stack files (examples of older API versions) are planned offline only.
DEPLOYED_STACKS = ["dev", "prod"]


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as True (YAML 1.1); GitHub reads it as "on".
    document = yaml.safe_load((WORKFLOWS_DIR / name).read_text())
    document["on"] = document.pop(True)
    return document


def tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is missing: install requirements-dev.txt (make test does)"
    return str(path)


def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


def test_there_are_the_two_workflows():
    assert [path.name for path in WORKFLOWS] == ["deploy.yml", "pull-request.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_githubs_schema(workflow):
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_and_no_high_severity_even_as_auditor():
    def findings(*persona: str) -> list[dict]:
        result = subprocess.run(
            [tool("zizmor"), "--offline", "--format", "json", *persona, str(WORKFLOWS_DIR)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.stdout.startswith("["), result.stderr
        return json.loads(result.stdout)

    assert findings() == []
    high = [f["ident"] for f in findings("--persona", "auditor") if f["determinations"]["severity"] == "High"]
    assert high == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_and_no_checkout_keeps_the_token(workflow):
    document = load(workflow.name)
    for job in document["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_are_granted_per_job_and_only_what_each_needs(workflow):
    document = load(workflow.name)
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        allowed = {"contents": "read"}
        if name == "preview":
            allowed["pull-requests"] = "write"
        assert job["permissions"] == allowed, name


def test_pull_requests_preview_every_stack_with_pulumi_and_comment_on_the_pr():
    document = load("pull-request.yml")
    assert set(document["on"]) == {"pull_request"}
    preview = document["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == DEPLOYED_STACKS
    assert set(DEPLOYED_STACKS) <= set(available_stacks(PROJECT_DIR))
    assert "${{ matrix.stack }}" in preview["concurrency"]["group"]
    (step,) = steps_using(preview, PULUMI_ACTION)
    assert step["with"]["command"] == "preview"
    assert step["with"]["stack-name"] == "${{ matrix.stack }}"
    assert step["with"]["comment-on-pr"] is True
    assert step["with"]["diff"] is True
    assert step["if"] == "steps.backend.outputs.available == 'true'"
    assert_state_backend_from_secrets(step)


def test_without_backend_secrets_the_offline_plan_diff_is_posted_instead():
    preview = load("pull-request.yml")["jobs"]["preview"]
    by_name = {step["name"]: step for step in preview["steps"]}
    check = by_name["Check for the state backend's secrets"]
    assert set(check["env"].values()) == {
        "${{ secrets.PULUMI_BACKEND_URL }}",
        "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        "${{ secrets.OSS_ACCESS_KEY_ID }}",
        "${{ secrets.ALICLOUD_ACCESS_KEY }}",
    }
    offline = by_name["Offline plan diff"]
    comment = by_name["Comment the offline plan diff"]
    assert offline["if"] == "steps.backend.outputs.available != 'true'"
    assert "steps.backend.outputs.available != 'true'" in comment["if"]
    # The command line the workflow runs is one the module accepts.
    command = re.search(r"python -m tooling\.plan_diff (.*?) >", offline["run"])
    assert command is not None
    parsed = argument_parser().parse_args(command.group(1).replace('"$STACK"', "dev").split())
    assert (parsed.base, parsed.stack) == ("HEAD^1", "dev")
    assert 0 < parsed.max_chars <= 65536, "a PR comment holds at most 65536 characters"
    assert "plan-diff.md" in comment["run"] and "gh pr comment" in comment["run"]
    assert "${{" not in offline["run"] + comment["run"], "values reach scripts through env, never templated"


def test_the_test_suite_runs_from_the_clone_alone():
    test = load("pull-request.yml")["jobs"]["test"]
    checkouts = steps_using(test, "actions/checkout@")
    assert [step["with"] for step in checkouts] == [{"persist-credentials": False}], "one checkout: the project"
    assert test["steps"][-1] == {"name": "make test", "run": "make test"}
    assert (PROJECT_DIR / "Makefile").read_text().count("\ntest:") == 1
    assert load("deploy.yml")["jobs"]["test"] == test, "deploys run the same test job"


def test_pushes_to_main_update_dev_then_prod_behind_its_environment():
    document = load("deploy.yml")
    assert document["on"] == {"push": {"branches": ["main"]}}
    jobs = document["jobs"]
    assert jobs["up-dev"]["needs"] == "test"
    assert jobs["up-prod"]["needs"] == "up-dev"
    for stack in DEPLOYED_STACKS:
        job = jobs[f"up-{stack}"]
        assert job["environment"] == stack
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        (step,) = steps_using(job, PULUMI_ACTION)
        assert step["with"]["command"] == "up"
        assert step["with"]["stack-name"] == stack
        assert_state_backend_from_secrets(step)


def test_both_workflows_use_one_reviewed_pulumi_action_and_cli_version():
    steps = [
        step
        for name in ("pull-request.yml", "deploy.yml")
        for job in load(name)["jobs"].values()
        for step in steps_using(job, PULUMI_ACTION)
    ]
    assert len({step["uses"] for step in steps}) == 1
    assert len({step["with"]["pulumi-version"] for step in steps}) == 1
    major, minor, _ = (int(part) for part in steps[0]["with"]["pulumi-version"].split("."))
    # 3.256 is the first CLI that uploads to OSS's S3-compatible endpoint without aws-chunked checksums.
    assert (major, minor) >= (3, 256)


def assert_state_backend_from_secrets(step: dict) -> None:
    assert step["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert step["with"]["secrets-provider"] == "passphrase"
    assert step["env"] == {
        "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        "AWS_ACCESS_KEY_ID": "${{ secrets.OSS_ACCESS_KEY_ID }}",
        "AWS_SECRET_ACCESS_KEY": "${{ secrets.OSS_ACCESS_KEY_SECRET }}",
        "ALICLOUD_ACCESS_KEY": "${{ secrets.ALICLOUD_ACCESS_KEY }}",
        "ALICLOUD_SECRET_KEY": "${{ secrets.ALICLOUD_SECRET_KEY }}",
    }
