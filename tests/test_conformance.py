"""Conformance of the planned Kubernetes objects: every object of every committed stack (and of a stack that
turns every inference feature on) validates against the real schemas for its Inference Extension API version,
and the objects fit together: pools select the model-server pods on their container port, every reference
resolves to an object in the plan, routes attach to existing listeners. The v1alpha1 stack reproduces the
tutorial's objects field by field."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import yaml

from stacks.config_loader import parse_settings
from stacks.settings import StackSettings
from tests.harness import plan_stack, stack_config
from tests.releases import ENVOY_GATEWAY, GATEWAY_API, PROMETHEUS_OPERATOR
from tests.releases import INFERENCE_EXTENSION as RELEASES
from tests.schemas import apply_defaults, crd_version, validate
from tooling.offline.recording import Plan
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

POOL_GROUPS = {"v1alpha1": "inference.networking.x-k8s.io", "v1alpha2": "inference.networking.x-k8s.io",
               "v1": "inference.networking.k8s.io"}  # fmt: skip

# Every inference feature at once, on top of `dev`: two served names (one a 80/20 canary across a Hugging Face
# and an OSS server, with LoRA), a simulator, self-hosted HA pickers, objectives, the benchmark, own namespace.
ADAPTERS = [{"name": "sql-lora", "path": "yard1/llama-2-7b-sql-lora-test"}]
EVERYTHING = {
    "gateway": {"namespace": "llm", "className": "ack-gateway", "createClass": False},
    "routing": {
        "routingStrategy": "PREFIX_CACHE",
        "failureMode": "FailClose",
        "endpointPicker": {"mode": "selfHosted", "replicas": 2, "tls": "plaintext"},
    },
    "models": [
        {
            "name": "llama2",
            "servedModelName": "llama-2-7b",
            "source": {
                "type": "huggingFace",
                "repo": "meta-llama/Llama-2-7b-hf",
                "revision": "01c7f73d771dfac7d292323805ebc428287df4f9",
                "cacheStorageClass": "alibabacloud-cnfs-nas",
            },
            "chatTemplate": "llama-2",
            "lora": {"maxLoras": 2, "maxCpuLoras": 4, "adapters": ADAPTERS},
            "maxModelLen": 4096,
            "prefixCaching": True,
            "weight": 80,
            "replicas": 2,
        },
        {
            "name": "llama2-canary",
            "servedModelName": "llama-2-7b",
            "source": {
                "type": "oss",
                "bucket": "models",
                "endpoint": "oss-cn-hangzhou-internal.aliyuncs.com",
                "path": "/llama-2-7b-hf",
                "credentialsSecret": "oss-credentials",
            },
            "lora": {"maxLoras": 2, "adapters": ADAPTERS},
            "weight": 20,
            "criticality": "Standard",
        },
        {"name": "qwen-sim", "mode": "simulator", "servedModelName": "qwen2.5-1.5b", "criticality": "Sheddable"},
    ],
    "nodePools": {"gpu": {"maxSize": 4}},
    "benchmark": {"enabled": True, "model": "llama2"},
    "hfToken": "hf-planted-token",
}
SECRETS = ("hfToken",)
VARIANTS = [*available_stacks(PROJECT_DIR), "everything"]


@functools.cache
def planned(variant: str) -> tuple[Plan, StackSettings]:
    stack, overrides, secrets = ("dev", EVERYTHING, SECRETS) if variant == "everything" else (variant, None, ())
    settings = parse_settings(*stack_config(stack, overrides, secrets).project_values())
    plan = plan_stack(stack, overrides, secrets) if overrides else plan_stack(stack)
    return plan, settings


def api_version(variant: str) -> str:
    return planned(variant)[1].routing.api_version


def objects(variant: str) -> list[dict[str, Any]]:
    # Secrets are checked as planned: redaction keeps a Secret's `stringData` a map of strings.
    return planned(variant)[0].kubernetes_objects()


def index(variant: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Objects by (kind, namespace, name)."""
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects(variant)}


def of_kind(variant: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects(variant) if o["kind"] == kind]


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def pod_specs(variant: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) of every Deployment and Job."""
    return [(o, o["spec"]["template"]) for o in objects(variant) if o["kind"] in ("Deployment", "Job")]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_against_the_real_schemas(variant):
    api = api_version(variant)
    # Every release of each project that serves a kind checks it: Gateway API 1.2.1 and 1.4.1, both Envoy
    # Gateway and both Prometheus Operator releases. The rule groups are also run by promtool (test_alert_rules).
    releases = (*RELEASES[api], *GATEWAY_API, *ENVOY_GATEWAY, *PROMETHEUS_OPERATOR)
    failures = {
        f"{o['kind']} {o['metadata']['name']}": errors for o in objects(variant) if (errors := validate(o, releases))
    }
    assert failures == {}
    assert of_kind(variant, "InferencePool"), "the plan has no InferencePool"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pool_selects_the_pods_of_one_model_server_on_its_container_port(variant):
    api = api_version(variant)
    for pool in of_kind(variant, "InferencePool"):
        assert group_of(pool["apiVersion"]) == POOL_GROUPS[api]
        spec = pool["spec"]
        selector = spec["selector"]["matchLabels"] if api == "v1" else spec["selector"]
        port = spec["targetPorts"][0]["number"] if api == "v1" else spec["targetPortNumber"]
        selected = [
            (workload, template)
            for workload, template in pod_specs(variant)
            if workload["metadata"]["namespace"] == pool["metadata"]["namespace"]
            and selector.items() <= template["metadata"]["labels"].items()
        ]
        assert [w["metadata"]["name"] for w, _ in selected] == [pool["metadata"]["name"]]
        workload, template = selected[0]
        assert workload["kind"] == "Deployment"
        assert selector.items() <= workload["spec"]["selector"]["matchLabels"].items()
        container_ports = [p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])]
        assert port in container_ports
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_route_backend_resolves_and_every_route_attaches_to_a_listener(variant):
    found = index(variant)
    routes = of_kind(variant, "HTTPRoute")
    assert routes
    for route in routes:
        namespace = route["metadata"]["namespace"]
        for parent in route["spec"]["parentRefs"]:
            gateway = found[("Gateway", namespace, parent["name"])]
            listeners = {listener["name"] for listener in gateway["spec"]["listeners"]}
            assert parent["sectionName"] in listeners
        for rule in route["spec"]["rules"]:
            for backend in rule["backendRefs"]:
                target = found.get((backend.get("kind", "Service"), namespace, backend["name"]))
                assert target is not None, f"{route['metadata']['name']} -> {backend}"
                assert group_of(target["apiVersion"]) == backend.get("group", ""), backend
                if target["kind"] == "Service":
                    assert backend["port"] in [p["port"] for p in target["spec"]["ports"]]
                else:
                    assert "port" not in backend


def test_each_listener_has_its_route_and_the_inference_listener_reaches_pools():
    for variant in VARIANTS:
        by_listener = {route["spec"]["parentRefs"][0]["sectionName"]: route for route in of_kind(variant, "HTTPRoute")}
        plain = by_listener["http"]
        assert {b["kind"] for r in plain["spec"]["rules"] for b in r["backendRefs"]} == {"Service"}
        attached = [
            p
            for p in of_kind(variant, "InferencePool")
            if "inference.networking.x-k8s.io/attach-to" in p["metadata"].get("annotations", {})
        ]
        if attached:
            assert "llm-gw" not in by_listener
            for pool in attached:
                target = yaml.safe_load(pool["metadata"]["annotations"]["inference.networking.x-k8s.io/attach-to"])
                gateway = index(variant)[("Gateway", pool["metadata"]["namespace"], target["name"])]
                assert target["port"] in [listener["port"] for listener in gateway["spec"]["listeners"]
                                          if listener["name"] == "llm-gw"]  # fmt: skip
        else:
            assert {b["kind"] for r in by_listener["llm-gw"]["spec"]["rules"] for b in r["backendRefs"]} == {
                "InferencePool"
            }


@pytest.mark.parametrize("variant", VARIANTS)
def test_pool_and_model_references_resolve(variant):
    found = index(variant)
    for pool in of_kind(variant, "InferencePool"):
        namespace = pool["metadata"]["namespace"]
        picker = pool["spec"].get("endpointPickerRef") or pool["spec"]["extensionRef"]
        service = found.get(("Service", namespace, picker["name"]))
        if planned(variant)[1].routing.endpoint_picker.mode == "selfHosted":
            # Self-hosted pickers: the Service the pool names is in the plan, with the port it names.
            assert service is not None
            port = picker.get("port", {}).get("number") or picker.get("portNumber")
            ports = {p["port"]: p for p in service["spec"]["ports"]}
            assert ports[port]["appProtocol"] == "http2"
        else:
            assert service is None  # the add-on runs it
    for kind in ("InferenceModel", "InferenceObjective"):
        for named in of_kind(variant, kind):
            ref = named["spec"]["poolRef"]
            pool = found[("InferencePool", named["metadata"]["namespace"], ref["name"])]
            assert group_of(pool["apiVersion"]) == ref["group"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_workload_references_resolve(variant):
    """Services, budgets, volumes, service accounts and role bindings point at objects in the plan."""
    found = index(variant)
    for workload, template in pod_specs(variant):
        namespace = workload["metadata"]["namespace"]
        pod = template["spec"]
        if "serviceAccountName" in pod:
            assert ("ServiceAccount", namespace, pod["serviceAccountName"]) in found
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert ("ConfigMap", namespace, volume["configMap"]["name"]) in found
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim", namespace, volume["persistentVolumeClaim"]["claimName"]) in found
        for container in pod["containers"]:
            for env in container.get("env", []):
                secret = env.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert ("Secret", namespace, secret["name"]) in found
            names = {p.get("name") for p in container.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                assert port is None or port in names
    labelled = [t["metadata"]["labels"] for _, t in pod_specs(variant)]
    for kind in ("Service", "PodDisruptionBudget"):
        for selecting in of_kind(variant, kind):
            selector = selecting["spec"]["selector"]
            selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
            assert any(selector.items() <= labels.items() for labels in labelled), selecting["metadata"]["name"]
    for claim in of_kind(variant, "PersistentVolumeClaim"):
        if claim["spec"].get("volumeName"):
            volume = found[("PersistentVolume", "", claim["spec"]["volumeName"])]
            assert volume["spec"]["claimRef"] == {
                "namespace": claim["metadata"]["namespace"],
                "name": claim["metadata"]["name"],
            }
    # Service accounts a Helm release of the plan creates: the chart names them `<release>-<component>`.
    plan, _ = planned(variant)
    charted = [(r.inputs["namespace"], r.inputs["name"]) for r in plan.of_type("kubernetes:helm.sh/v3:Release")]
    for binding in of_kind(variant, "RoleBinding") + of_kind(variant, "ClusterRoleBinding"):
        role_kind = binding["roleRef"]["kind"]
        namespace = binding["metadata"].get("namespace", "") if role_kind == "Role" else ""
        assert (role_kind, namespace, binding["roleRef"]["name"]) in found
        for subject in binding["subjects"]:
            from_chart = any(subject["namespace"] == ns and subject["name"].startswith(f"{r}-") for ns, r in charted)
            assert from_chart or ("ServiceAccount", subject["namespace"], subject["name"]) in found


def test_the_everything_stack_routes_each_served_name_by_header_with_canary_weights():
    routes = {r["metadata"]["name"]: r for r in of_kind("everything", "HTTPRoute")}
    for name, backend_kind in (("backend", "Service"), ("llm-route", "InferencePool")):
        rules = routes[name]["spec"]["rules"]
        headers = [
            sorted(h["value"] for m in rule["matches"] for h in m["headers"] if h["name"] == "X-Gateway-Model-Name")
            for rule in rules
        ]
        assert headers == [["llama-2-7b", "sql-lora"], ["qwen2.5-1.5b"]]
        weights = [{b["name"]: b.get("weight") for b in rule["backendRefs"]} for rule in rules]
        assert weights == [{"llama2": 80, "llama2-canary": 20}, {"qwen-sim": None}]
        assert {b["kind"] for rule in rules for b in rule["backendRefs"]} == {backend_kind}
    objectives = {o["metadata"]["name"]: o["spec"]["priority"] for o in of_kind("everything", "InferenceObjective")}
    assert objectives == {"llama2-canary": -1, "qwen-sim": -2}
    assert not of_kind("everything", "GatewayClass")
    assert of_kind("everything", "Gateway")[0]["spec"]["gatewayClassName"] == "ack-gateway"


# The tutorial's objects, as issue 4 states them (InferencePool/InferenceModel v1alpha1, GatewayClass, Gateway,
# plain HTTPRoute); compared as the API server stores them, i.e. with the CRD defaults applied to both sides.
TUTORIAL = {
    ("GatewayClass", "inference-gateway"): {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
    },
    ("Gateway", "inference-gateway"): {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "spec": {
            "gatewayClassName": "inference-gateway",
            "listeners": [
                {"name": "http", "protocol": "HTTP", "port": 8080},
                {"name": "llm-gw", "protocol": "HTTP", "port": 8081},
            ],
            # Not the tutorial's: its public load balancer becomes an intranet one (issue 6).
            "infrastructure": {
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": "inference-gateway-proxy",
                }
            },
        },
    },
    ("HTTPRoute", "backend"): {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "spec": {
            "parentRefs": [{"name": "inference-gateway", "sectionName": "http"}],
            "rules": [
                {
                    "backendRefs": [{"name": "vllm-llama2-7b-pool", "port": 8000}],
                    "timeouts": {"request": "24h", "backendRequest": "24h"},
                }
            ],
        },
    },
    ("InferencePool", "vllm-llama2-7b-pool"): {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "spec": {
            "targetPortNumber": 8000,
            "selector": {"app": "vllm-llama2-7b-pool"},
            "extensionRef": {"name": "inference-gateway-ext-proc"},
        },
    },
    ("InferenceModel", "inferencemodel-sample"): {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "spec": {
            "modelName": "/model/llama2",
            "criticality": "Critical",
            "poolRef": {
                "group": "inference.networking.x-k8s.io",
                "kind": "InferencePool",
                "name": "vllm-llama2-7b-pool",
            },
            "targetModels": [{"name": "/model/llama2", "weight": 100}],
        },
    },
}
TUTORIAL_RELEASES = ("gie-v0.1.0", *GATEWAY_API)


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    release = next(r for r in TUTORIAL_RELEASES if crd_version(r, obj["apiVersion"], obj["kind"]))
    return apply_defaults(obj, crd_version(release, obj["apiVersion"], obj["kind"]).schema)


@pytest.mark.parametrize(("kind", "name"), list(TUTORIAL), ids=[f"{k}/{n}" for k, n in TUTORIAL])
def test_the_v1alpha1_stack_reproduces_the_tutorial_objects(kind, name):
    matches = [o for o in of_kind("v1alpha1", kind) if o["metadata"]["name"] == name]
    assert len(matches) == 1
    actual = matches[0]
    expected = {"kind": kind, "metadata": {"name": name}, **TUTORIAL[(kind, name)]}
    assert actual["apiVersion"] == expected["apiVersion"]
    assert stored(actual)["spec"] == stored(expected)["spec"]


def test_the_v1alpha1_pool_attaches_to_the_inference_listener_by_annotation():
    (pool,) = of_kind("v1alpha1", "InferencePool")
    attach_to = yaml.safe_load(pool["metadata"]["annotations"]["inference.networking.x-k8s.io/attach-to"])
    assert attach_to == {"name": "inference-gateway", "port": 8081}
    assert [r["metadata"]["name"] for r in of_kind("v1alpha1", "HTTPRoute")] == ["backend"]
    (service,) = of_kind("v1alpha1", "Service")
    assert service["metadata"]["name"] == "vllm-llama2-7b-pool"
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("http", 8000)]
    (deployment,) = of_kind("v1alpha1", "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "vllm-llama2-7b-pool"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
