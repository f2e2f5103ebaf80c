"""Observability in the whole program (`__main__.py` under the mocks): scraping of the real model-server pods, the
dashboard and the alert rules wired to what the cloud layer installs, and the stack outputs."""

from __future__ import annotations

import re

import pytest

from components.observability.grafana_dashboard import SIDECAR_LABEL
from components.observability.monitoring_stack import annotation_scrape_job
from dashboards.vllm_inference import DASHBOARD_FILE
from tests.harness import plan_stack
from tests.promtool.scrape import discovered, relabel

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ARMS_ON = {"addons": {"armsPrometheus": {"name": "arms-prometheus", "enabled": True}}}
ARMS_OFF = {"addons": {"armsPrometheus": {"name": "arms-prometheus", "enabled": False}}}
SELF_MANAGED = {"observability": {"selfManaged": {"enabled": True}}}
TWO_MODELS = {
    "models": [{"name": "llama-a"}, {"name": "llama-b", "vllmVersion": "0.10.2", "image": "vllm/vllm-openai:v0.10.2"}]
}


@pytest.fixture(scope="module")
def arms_plan():
    return plan_stack("dev", ARMS_ON)


def pod_templates(plan):
    return {d.inputs["metadata"]["name"]: d.inputs["spec"]["template"] for d in model_servers(plan)}


def model_servers(plan):
    return [d for d in plan.of_type(DEPLOYMENT) if _is_model_server(d)]


def _is_model_server(deployment) -> bool:
    annotations = deployment.inputs["spec"]["template"]["metadata"].get("annotations", {})
    return annotations.get("prometheus.io/scrape") == "true"


def test_every_model_server_pod_is_scraped_at_its_container_port(arms_plan):
    templates = pod_templates(arms_plan)
    assert templates
    for name, template in templates.items():
        annotations = template["metadata"]["annotations"]
        (container,) = [c for c in template["spec"]["containers"] if c.get("ports")]
        (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == "http"]
        assert annotations["prometheus.io/port"] == str(port), name
        target = relabel(annotation_scrape_job(), discovered(annotations, template["metadata"]["labels"], port))
        assert target is not None, name
        assert target["__address__"].endswith(f":{port}") and target["__metrics_path__"] == "/metrics"


def test_model_server_pods_carry_the_arms_inference_labels_when_arms_is_on(arms_plan):
    for name, template in pod_templates(arms_plan).items():
        labels = template["metadata"]["labels"]
        assert labels["alibabacloud.com/inference-workload"] == name
        assert labels["alibabacloud.com/inference-backend"] == "vllm"
    for template in pod_templates(plan_stack("dev", ARMS_OFF)).values():
        assert not any(key.startswith("alibabacloud.com/inference-") for key in template["metadata"]["labels"])


def test_the_rule_waits_for_the_arms_add_on_and_covers_every_model_server(arms_plan):
    rule = arms_plan.one(RULE)
    addon = next(
        r
        for r in arms_plan.of_type("alicloud:cs/kubernetesAddon:KubernetesAddon")
        if r.inputs["name"] == "arms-prometheus"
    )
    assert arms_plan.depends_on(rule, addon)
    patterns = {
        r["labels"]["model_server"]: re.search(r'pod=~"([^"]+)"', r["expr"])[1]
        for group in rule.inputs["spec"]["groups"]
        for r in group["rules"]
        if "model_server" in r["labels"]
    }
    deployments = {d.inputs["metadata"]["name"]: d for d in model_servers(arms_plan)}
    assert set(patterns) == set(deployments)
    for name, deployment in deployments.items():
        # Deployment pods are `<deployment>-<pod-template-hash>-<suffix>`.
        pod = f"{name}-6d4f9b7c8d-x2x4z"
        assert re.fullmatch(patterns[name], pod)
        assert rule.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"]


def test_the_self_managed_stack_serves_the_rule_in_the_whole_program():
    plan = plan_stack("dev", SELF_MANAGED)
    rule = plan.one(RULE)
    release = plan.one("kubernetes:helm.sh/v3:Release")
    assert plan.depends_on(rule, release)
    assert plan.outputs["alertRules"].endswith(rule.inputs["metadata"]["name"])
    assert plan.outputs["dashboard"]["grafana"].startswith("kubectl")


def test_the_dashboard_config_map_is_applied_with_the_stack():
    plan = plan_stack("dev")
    label, value = SIDECAR_LABEL
    dashboards = [
        obj
        for obj in plan.kubernetes_objects()
        if obj["kind"] == "ConfigMap" and obj["metadata"].get("labels", {}).get(label) == value
    ]
    assert len(dashboards) == 1
    assert dashboards[0]["data"] == {DASHBOARD_FILE.name: DASHBOARD_FILE.read_text()}
    assert (
        plan.outputs["dashboard"]["configMap"]
        == f"{dashboards[0]['metadata']['namespace']}/{dashboards[0]['metadata']['name']}"
    )


def test_outputs_list_every_model_servers_metrics():
    plan = plan_stack("dev", TWO_MODELS)
    assert [line.split(":")[0] for line in plan.outputs["metrics"]["modelServers"]] == [
        f"default/{name}" for name in ("llama-a", "llama-b")
    ]
