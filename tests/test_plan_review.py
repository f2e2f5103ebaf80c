"""The review a pull request gets: each scenario is two real commits of a scratch repository holding this project,
compared with `python -m tooling.plan_diff` exactly as CI runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from tests.harness import stack_config
from tests.test_plan_diff import commit, git, section
from tooling.offline.checkout import copy_program
from tooling.offline.run import simulate
from tooling.plan_diff import Side, render_markdown


def two_commits(tmp_path: Path, stack: str, edit) -> str:
    """Commits the project, applies `edit` to the stack file's config, commits again; returns the diff."""
    project = copy_program(tmp_path)
    path = project / f"Pulumi.{stack}.yaml"
    git(project, "init", "-q")
    commit(project, "base")
    document = yaml.safe_load(path.read_text())
    edit(document["config"])
    path.write_text(yaml.safe_dump(document))
    commit(project, "change")
    result = run_diff(project, stack)
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_diff(project: Path, stack: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tooling.plan_diff", "--stack", stack, "--base", "HEAD~1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def warnings_of(markdown: str) -> str:
    return section(markdown, "#### :warning: Destructive changes")


def test_a_new_service_cidr_replaces_the_protected_cluster_and_heads_the_report(tmp_path):
    def edit(config):
        config["ack-inference:cluster"]["serviceCidr"] = "172.22.0.0/20"

    diff = two_commits(tmp_path, "prod", edit)
    cluster = section(diff, "##### `alicloud:cs/managedKubernetes:ManagedKubernetes` `ack-cluster`")
    assert "Action: **replace (create before delete)**, forced by `serviceCidr`" in cluster
    assert "cs_managed_kubernetes.go:" in cluster, "the rule names its source"
    alerts = warnings_of(diff)
    assert diff.index("#### :warning: Destructive changes") < diff.index("**Indicative monthly cost**")
    assert "**REPLACE (CREATE BEFORE DELETE)** of cluster `ack-cluster`" in alerts
    assert "It is `protect`ed: `pulumi up` refuses until it is unprotected." in alerts


def test_moving_a_prod_vswitch_to_another_zone_warns_of_the_deleted_vswitch(tmp_path):
    def edit(config):
        config["ack-inference:network"]["vswitches"][1]["zoneId"] = "cn-hangzhou-k"

    diff = two_commits(tmp_path, "prod", edit)
    alerts = warnings_of(diff)
    assert "**DELETE** of vSwitch `network-nodes-cn-hangzhou-j`" in alerts
    cluster = section(diff, "##### `alicloud:cs/managedKubernetes:ManagedKubernetes` `ack-cluster`")
    assert "Action: update in place." in cluster


def test_a_changed_deployment_selector_is_a_delete_before_create_replacement():
    from tooling.offline.recording import Registration
    from tooling.plan_diff import classify_change

    def deployment(app: str, replicas: int) -> Registration:
        return Registration(
            urn="urn:pulumi:dev::p::kubernetes:apps/v1:Deployment::d",
            type="kubernetes:apps/v1:Deployment",
            name="d",
            custom=True,
            parent="",
            provider="",
            dependencies=[],
            protect=False,
            ignore_changes=[],
            delete_before_replace=False,
            retain_on_delete=False,
            custom_timeouts={},
            inputs={
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "llm"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}},
            },
        )

    assert classify_change(deployment("a", 1), deployment("a", 2)).action == "update in place"
    verdict = classify_change(deployment("a", 1), deployment("b", 1))
    assert verdict.action == "replace (delete before create)"
    assert verdict.reasons == ("spec.selector.matchLabels.app",)


def test_renaming_the_gateway_keeps_the_urns_of_objects_whose_identity_stays(tmp_path):
    def edit(config):
        config["ack-inference:gateway"] = {"name": "llm-gateway"}

    diff = two_commits(tmp_path, "dev", edit)
    assert "SAME OBJECT, NEW URN" not in diff
    assert "#### Added" not in diff and "#### Removed" not in diff
    gateway = section(diff, "##### `kubernetes:gateway.networking.k8s.io/v1:Gateway` `inference-gateway-gateway`")
    assert "Action: **replace (create before delete)**, forced by `metadata.name`" in gateway
    assert "GatewayClass` `inference-gateway-class`" not in diff, "the GatewayClass does not change"


def test_an_object_under_a_new_urn_with_the_same_identity_is_flagged():
    def program(logical: str):
        def run() -> None:
            provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig-text"))
            k8s.core.v1.ConfigMap(
                logical,
                metadata={"name": "settings", "namespace": "llm"},
                data={"a": "b"},
                opts=pulumi.ResourceOptions(provider=provider),
            )

        return simulate(stack_config("dev"), program=run)

    markdown = render_markdown("`main`", Side(program("old"), None), Side(program("new"), None))
    assert ("- **SAME OBJECT, NEW URN**: ConfigMap `llm/settings` is removed as `old` and added as `new`.") in markdown
