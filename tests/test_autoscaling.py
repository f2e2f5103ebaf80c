"""Autoscaling of model servers: the HorizontalPodAutoscaler on the waiting-queue depth per pod (valid against the
Kubernetes schemas, aimed at the Deployment), the Deployment leaving `spec.replicas` to it, the GPU pool's room
for every pod it may add, and the config rejections."""

from __future__ import annotations

import functools

import pytest

from stacks.settings.autoscaling import DEFAULT_WAITING_METRIC
from stacks.settings.models import default_models
from tests.harness import config_error, messages, plan_stack
from tests.schemas import validate
from tooling.offline.recording import Plan, Registration

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVER = default_models()[0].name
# dev's GPU pool: at most 2 nodes of one A10 each.
DEV_GPUS = 2


def default_model(**changes) -> dict:
    """The default model server as a stack file writes it, with `changes` on top."""
    return {**default_models()[0].model_dump(mode="json", by_alias=True, exclude_unset=True), **changes}


AUTOSCALED = {"enabled": True, "minReplicas": 1, "maxReplicas": 2, "targetWaitingRequests": 8}


@functools.cache
def autoscaled_dev() -> Plan:
    return plan_stack("dev", {"models": [default_model(autoscaling=AUTOSCALED)]})


def hpa_body(plan: Plan) -> dict:
    return next(o for o in plan.kubernetes_objects() if o["kind"] == "HorizontalPodAutoscaler")


def deployment(plan: Plan) -> Registration:
    return plan.one(DEPLOYMENT, f"{SERVER}-deployment")


def only(overrides: dict, stack: str = "dev") -> str:
    found = messages(config_error(stack, overrides))
    assert len(found) == 1, found
    return found[0]


def test_the_autoscaler_targets_the_deployment_and_validates():
    plan = autoscaled_dev()
    body = hpa_body(plan)
    assert validate(body, releases=()) == []
    target = body["spec"]["scaleTargetRef"]
    deployed = deployment(plan).inputs
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployed["apiVersion"],
        deployed["kind"],
        deployed["metadata"]["name"],
    )
    assert body["metadata"]["namespace"] == deployed["metadata"]["namespace"]
    assert (body["spec"]["minReplicas"], body["spec"]["maxReplicas"]) == (1, 2)


def test_the_autoscaler_holds_the_waiting_queue_per_pod_at_the_target():
    [metric] = hpa_body(autoscaled_dev())["spec"]["metrics"]
    assert metric == {
        "type": "Pods",
        "pods": {
            "metric": {"name": DEFAULT_WAITING_METRIC},
            "target": {"type": "AverageValue", "averageValue": "8"},
        },
    }


def test_the_autoscaler_scales_up_at_once_and_down_slowly():
    behavior = hpa_body(autoscaled_dev())["spec"]["behavior"]
    up, down = behavior["scaleUp"], behavior["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 0
    # Removing a pod costs a model load to undo: wait longer than the HPA's 5-minute default, one pod at a time.
    assert down["stabilizationWindowSeconds"] > 300
    assert down["selectPolicy"] == "Min"
    assert all(p["type"] == "Pods" and p["value"] == 1 for p in down["policies"])
    assert max(p["value"] for p in up["policies"] if p["type"] == "Pods") > 1


def test_the_autoscaler_is_a_model_server_child_on_the_cluster_provider_after_the_deployment():
    plan = autoscaled_dev()
    hpa = plan.one(HPA, f"{SERVER}-autoscaler")
    server = plan.one("ack-inference:inference:ModelServer", SERVER)
    assert hpa.parent == server.urn
    assert hpa.provider == deployment(plan).provider != ""
    assert plan.depends_on(hpa, deployment(plan))


def test_an_autoscaled_deployment_leaves_replicas_to_the_autoscaler():
    deployed = deployment(autoscaled_dev())
    assert deployed.ignore_changes == ["spec.replicas"]
    assert deployed.inputs["spec"]["replicas"] == AUTOSCALED["minReplicas"]


def test_without_autoscaling_the_deployment_owns_its_replicas():
    plan = plan_stack("dev")
    assert plan.of_type(HPA) == []
    assert deployment(plan).ignore_changes == []


def test_production_autoscaling_keeps_the_floor_and_the_disruption_budget():
    scaling = {"enabled": True, "minReplicas": 2, "maxReplicas": 4, "metricName": "vllm_waiting"}
    plan = plan_stack("prod", {"models": [{"chatTemplate": "llama-2", "autoscaling": scaling}]})
    body = hpa_body(plan)
    assert validate(body, releases=()) == []
    assert body["spec"]["metrics"][0]["pods"]["metric"]["name"] == "vllm_waiting"
    assert deployment(plan).inputs["spec"]["replicas"] == 2
    budget = next(o for o in plan.kubernetes_objects() if o["kind"] == "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("scaling", "key", "says"),
    [
        ({"enabled": True, "minReplicas": 2, "maxReplicas": 1}, "autoscaling.maxReplicas", "at least `minReplicas`"),
        ({"enabled": True, "metricName": "vllm-waiting"}, "autoscaling.metricName", "pattern"),
        ({"enabled": True, "targetWaitingRequests": 0}, "autoscaling.targetWaitingRequests", "greater than"),
    ],
)
def test_autoscaling_rejections_name_the_key(scaling, key, says):
    message = only({"models": [default_model(autoscaling=scaling)]})
    assert message.startswith(f"ack-inference:models[0].{key}: "), message
    assert says in message


def test_replicas_next_to_autoscaling_is_rejected():
    message = only({"models": [default_model(replicas=1, autoscaling={"enabled": True})]})
    assert message.startswith("ack-inference:models[0].replicas: is owned by the autoscaler")


def test_production_needs_two_replicas_at_the_least_load():
    scaling = {"enabled": True, "minReplicas": 1, "maxReplicas": 4}
    message = only({"models": [{"chatTemplate": "llama-2", "autoscaling": scaling}]}, stack="prod")
    assert message.startswith("ack-inference:models[0].autoscaling.minReplicas: must be at least 2")


def test_the_gpu_pool_must_hold_every_pod_the_autoscaler_may_add():
    scaling = {"enabled": True, "maxReplicas": DEV_GPUS + 1}
    message = only({"models": [default_model(autoscaling=scaling)]})
    assert message.startswith("ack-inference:nodePools.gpu.maxSize: ")
    assert f"need {DEV_GPUS + 1} " in message


def test_the_capacity_check_counts_fixed_servers_and_skips_simulators():
    servers = [
        default_model(autoscaling={"enabled": True, "maxReplicas": DEV_GPUS}),
        {"name": "fixed", "servedModelName": "other", "replicas": 1},
        {
            "name": "sim",
            "mode": "simulator",
            "servedModelName": "sim",
            "autoscaling": {"enabled": True, "maxReplicas": 9},
        },
    ]
    message = only({"models": servers, "routing": {"attachment": "backendRef"}})
    assert message.startswith("ack-inference:nodePools.gpu.maxSize: ")
    assert f"need {DEV_GPUS + 1} " in message


def test_disabled_autoscaling_does_not_reserve_its_maximum():
    plan = plan_stack("dev", {"models": [default_model(autoscaling={"enabled": False, "maxReplicas": DEV_GPUS + 5})]})
    assert plan.of_type(HPA) == []
