"""Deterministic plans and the production protections of the dev and prod stacks."""

from __future__ import annotations

import pytest

from tests.harness import plan_stack, stack_config
from tooling.graph import render_mermaid
from tooling.offline.recording import Plan, Registration
from tooling.offline.run import simulate
from tooling.plan import render_kubernetes_yaml, render_plan_json

CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
VPC = "alicloud:vpc/network:Network"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
MODEL_SERVER = "ack-inference:inference:ModelServer"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"


def rendered(plan: Plan) -> tuple[str, str, str]:
    return render_plan_json(plan), render_kubernetes_yaml(plan), render_mermaid(plan)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_planning_twice_gives_identical_output(stack):
    first, second = (simulate(stack_config(stack)) for _ in range(2))
    assert rendered(first) == rendered(second)
    assert first.outputs == second.outputs


def test_prod_protects_the_cluster_and_the_vpc():
    plan = plan_stack("prod")
    cluster, vpc = plan.one(CLUSTER), plan.one(VPC)
    assert cluster.protect and vpc.protect
    assert cluster.inputs["deletionProtection"] is True


def test_dev_leaves_the_cluster_and_the_vpc_unprotected():
    plan = plan_stack("dev")
    cluster, vpc = plan.one(CLUSTER), plan.one(VPC)
    assert not cluster.protect and not vpc.protect
    assert cluster.inputs.get("deletionProtection") in (None, False)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_kubernetes_object_uses_the_explicit_provider(stack):
    plan = plan_stack(stack)
    provider = plan.one(KUBERNETES_PROVIDER)
    kubernetes = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert kubernetes
    assert {r.provider for r in kubernetes} == {provider.urn}


def model_servers(plan: Plan) -> list[Registration]:
    servers = [d for c in plan.of_type(MODEL_SERVER) for d in plan.children(c) if d.type == DEPLOYMENT]
    assert servers
    return servers


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def test_prod_model_servers_keep_two_replicas_and_a_disruption_budget():
    plan = plan_stack("prod")
    budgets = [pdb.inputs for pdb in plan.of_type(PDB)]
    for server in model_servers(plan):
        spec = server.inputs["spec"]
        namespace = server.inputs["metadata"]["namespace"]
        assert spec["replicas"] >= 2
        # A rollout adds a pod before it removes one, so serving capacity never drops.
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pod_labels = spec["template"]["metadata"]["labels"]
        covering = [
            b for b in budgets if b["metadata"]["namespace"] == namespace and selects(b["spec"]["selector"], pod_labels)
        ]
        assert len(covering) == 1, server.name
        budget = covering[0]["spec"]
        allowed_down = budget.get("maxUnavailable", spec["replicas"] - budget.get("minAvailable", spec["replicas"]))
        assert 0 < allowed_down < spec["replicas"]
