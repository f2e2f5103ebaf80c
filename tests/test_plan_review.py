"""The review a pull request gets: each scenario is two real commits of a scratch repository holding this project,
compared with `python -m tooling.plan_diff` exactly as CI runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from tests.harness import custom_resource, plan_stack, stack_config
from tests.test_plan_diff import commit, git, section
from tooling.offline.checkout import copy_program
from tooling.offline.run import simulate
from tooling.plan_diff import Side, render_markdown


def two_commits(tmp_path: Path, stack: str, edit, prepare=None) -> str:
    """Commits the project (its stack config first changed by `prepare`), applies `edit` to the stack file's
    config, commits again; returns the diff."""
    project = copy_program(tmp_path)
    path = project / f"Pulumi.{stack}.yaml"
    if prepare is not None:
        document = yaml.safe_load(path.read_text())
        prepare(document["config"])
        path.write_text(yaml.safe_dump(document))
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
    assert "**0 to add, 1 to change, 0 to remove** (" in diff and "; **1 of the changes replaces**)" in diff
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
    assert "Used by protected `ack-cluster`, which must release it first." in alerts
    assert "| `network-nodes-cn-hangzhou-k` | zoneId cn-hangzhou-k; cidrBlock 10.0.16.0/20 |" in diff
    cluster = section(diff, "##### `alicloud:cs/managedKubernetes:ManagedKubernetes` `ack-cluster`")
    assert "Action: update in place." in cluster
    # The pod vSwitches are read at create only: the plan's update of them does nothing to the live cluster.
    assert "**No effect on an existing resource**: the provider ignores `podVswitchIds` after create" in cluster


def test_a_changed_deployment_selector_is_a_delete_before_create_replacement():
    from tooling.offline.recording import Registration
    from tooling.plan_diff import classify_change

    def deployment(app: str, replicas: int) -> Registration:
        return custom_resource(
            "kubernetes:apps/v1:Deployment",
            "d",
            {
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


def test_a_stack_file_new_on_the_base_means_all_created_with_the_key_inputs_of_each(tmp_path):
    project = copy_program(tmp_path)
    stack_file = (project / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.dev.yaml").unlink()
    git(project, "init", "-q")
    commit(project, "base without the dev stack")
    (project / "Pulumi.dev.yaml").write_text(stack_file)
    commit(project, "add the dev stack")
    result = run_diff(project, "dev")
    assert result.returncode == 0, result.stderr
    diff = result.stdout
    assert "has no `Pulumi.dev.yaml`: this change creates the stack, every resource is added." in diff
    assert "to add, 0 to change, 0 to remove** (0 unchanged)" in diff
    added = section(diff, diff[diff.index("#### Added (") :].split("\n", 1)[0])
    (deployment,) = [line for line in added.splitlines() if line.startswith("| `kubernetes:apps/v1:Deployment`")]
    assert "image vllm/vllm-openai:" in deployment and "nvidia.com/gpu 1" in deployment
    # In cn-hangzhou the default weights come from ModelScope.
    assert "args --model modelscope/Llama-2-7b-ms --download-dir" in deployment and "replicas 1" in deployment
    (pool,) = [line for line in added.splitlines() if "`gpu-pool`" in line]
    assert "nodes 1-2; instance types ecs.gn7i-c8g1.2xlarge" in pool


def test_a_one_line_dashboard_edit_is_one_line_of_the_diff(tmp_path):
    project = copy_program(tmp_path)
    git(project, "init", "-q")
    commit(project, "base")
    dashboard = project / "dashboards" / "vllm_inference.py"  # the generator the program renders the JSON from
    text = dashboard.read_text()
    old = "The Prometheus that scrapes the vLLM pods"
    assert text.count(old) == 1
    dashboard.write_text(text.replace(old, "The Prometheus scraping the vLLM pods"))
    commit(project, "reword the data source")
    result = run_diff(project, "dev")
    assert result.returncode == 0, result.stderr
    change = section(result.stdout, "##### `kubernetes:core/v1:ConfigMap` `vllm-dashboard-config-map`")
    # pulumi-kubernetes replaces a ConfigMap whose data changes; the fixed name means the old one goes first.
    assert "Action: **replace (delete before create)**, forced by `data.vllm-inference.json`" in change
    block = change.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    edits = [line for line in block[2:] if line[:1] in "+-"]
    assert len(edits) == 2 and "The Prometheus that scrapes" in edits[0] and "scraping" in edits[1], edits


GPU = "ecs.gn7i-c8g1.2xlarge"


def without_prices(config):
    config.pop("ack-inference:prices", None)


def test_unpriced_node_count_changes_are_shown_and_counted_in_the_headline(tmp_path):
    def edit(config):
        config["ack-inference:nodePools"] = {"gpu": {"minSize": 4, "maxSize": 8}}

    diff = two_commits(tmp_path, "dev", edit, prepare=without_prices)
    headline = next(line for line in diff.splitlines() if line.startswith("**Indicative monthly cost**"))
    assert headline.endswith("(+0.00), **1 changed item not priced**")
    assert f"| node pool gpu-pool (1-2 x {GPU}) -> node pool gpu-pool (4-8 x {GPU}) | not priced | not priced |" in diff


def test_both_sides_are_priced_with_the_working_trees_table(tmp_path):
    def prepare(config):
        config["ack-inference:prices"] = {"instanceTypes": {GPU: 1.0}}

    def edit(config):
        config["ack-inference:prices"] = {"instanceTypes": {GPU: 3.0}}

    diff = two_commits(tmp_path, "dev", edit, prepare=prepare)
    headline = next(line for line in diff.splitlines() if line.startswith("**Indicative monthly cost**"))
    assert "(+0.00)" in headline, "a price edit is no change of infrastructure"
    assert "The price table itself changed: the base is shown at the new prices." in diff


def test_a_label_with_a_pipe_is_escaped_in_the_cost_table(tmp_path):
    def edit(config):
        config["ack-inference:nodePools"] = {"system": {"size": 3}}

    diff = two_commits(tmp_path, "dev", edit, prepare=without_prices)
    row = next(line for line in diff.splitlines() if line.startswith("| node pool system"))
    assert "(2 x ecs.g7.xlarge \\| ecs.g6.xlarge) -> node pool system-pool (3 x ecs.g7.xlarge \\| ecs.g6.xlarge)" in row
    assert row.replace("\\|", "").count("|") == 4, "three cells"


def test_switching_the_inference_api_in_one_step_warns_of_the_routing_gap(tmp_path):
    def edit(config):
        config["ack-inference:routing"]["apiVersion"] = "v1"
        # v1 pools need an add-on that serves them (v1.4.0-apsara.4 or later: docs/runbook.md, section 5).
        config["ack-inference:addons"]["inferenceGateway"]["version"] = "v1.4.0-apsara.4"

    diff = two_commits(tmp_path, "v1alpha2", edit)
    alerts = warnings_of(diff)
    assert "**ROUTING GAP**: InferencePool" in alerts
    assert "from `inference.networking.x-k8s.io/v1alpha2` to `inference.networking.k8s.io/v1`" in alerts
    assert "docs/runbook.md, section 5" in alerts


def test_a_stack_with_its_own_gateway_name_keeps_its_urns_through_aliases():
    """Deployed before the gateway's logical names were fixed, such a stack's URNs carry its gateway name."""
    plan = plan_stack("dev", {"gateway": {"name": "llm-gateway"}})
    component = plan.one("ack-inference:inference:Gateway")
    assert component.name == "inference-gateway"
    assert component.aliases == [component.urn.replace("::inference-gateway", "::llm-gateway")]
    security = plan.one("ack-inference:security:GatewaySecurity")
    assert security.aliases == [security.urn.replace("::inference-gateway-security", "::llm-gateway-security")]
    assert plan_stack("dev").one("ack-inference:inference:Gateway").aliases == [], "the default name needs none"


def test_an_aliased_component_and_its_children_are_moved_not_recreated():
    class Box(pulumi.ComponentResource):
        def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
            super().__init__("test:index:Box", name, None, opts)
            provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig-text"))
            k8s.core.v1.ConfigMap(
                f"{name}-settings",
                metadata={"name": "settings", "namespace": "llm"},
                data={"a": "b"},
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            self.register_outputs({})

    def program(name: str, aliases: list):
        return simulate(stack_config("dev"), program=lambda: Box(name, pulumi.ResourceOptions(aliases=aliases)))

    base = program("old", [])
    head = program("new", [pulumi.Alias(name="old")])
    markdown = render_markdown("`main`", Side(base, None), Side(head, None))
    assert "**0 to add, 0 to change, 0 to remove** (3 unchanged)" in markdown
    moved = section(markdown, "#### Moved by an alias (2): same resource, new URN, nothing recreated")
    assert "| `kubernetes:core/v1:ConfigMap` | `old-settings` | `new-settings` |" in moved
    assert "| `test:index:Box` | `old` | `new` |" in moved
    assert "SAME OBJECT, NEW URN" not in markdown


def test_key_inputs_unknown_at_plan_time_do_not_break_the_added_table():
    from tooling.offline.recording import Registration
    from tooling.plan_diff import key_inputs

    def resource(type_token: str, inputs: dict) -> Registration:
        return custom_resource(type_token, "x", inputs)

    job = resource(
        "kubernetes:batch/v1:Job",
        {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"name": "bench", "image": "[unknown]"}]}}}},
    )
    assert key_inputs(job) == "bench: image [unknown]"
    assert key_inputs(resource("kubernetes:apps/v1:Deployment", {"spec": "[unknown]"})) == ""
    pool = resource("alicloud:cs/nodePool:NodePool", {"scalingConfig": "[unknown]", "instanceTypes": "[unknown]"})
    assert key_inputs(pool) == "nodes unknown; instance types [unknown]"


def test_pointing_a_stack_at_another_cluster_replaces_the_provider_and_everything_it_manages(tmp_path):
    def edit(config):
        config["ack-inference:cluster"]["id"] = "c11111111111111111111111111111111"

    diff = two_commits(tmp_path, "v1alpha2", edit)
    alerts = warnings_of(diff)
    line = next(line for line in alerts.splitlines() if "Kubernetes provider" in line)
    assert line.startswith("- **REPLACE** of the Kubernetes provider `kubernetes-provider` (pk8s provider.go:")
    managed = int(line.split("every object it manages (")[1].split(")")[0])
    assert managed > 10, line
