"""The CrossGuard rules (policy/rules.py) against the real offline plans, and against mutated copies of them.

Arguments are built the way the analyzer builds them (pulumi_policy.policy._PolicyAnalyzerServicer): properties
go through a protobuf Struct (so every number is a float), are deserialized and wrapped in the unknown-checking
proxies; stack config reaches `pulumi.Config` like the config the CLI hands to the pack.
"""

from __future__ import annotations

import contextvars
import copy
import re
import runpy
import sys
from typing import Any
from unittest import mock

import pulumi
import pulumi_policy
import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy
from pulumi_policy.version import VERSION as POLICY_SDK_VERSION

from policy import rules
from tests.harness import custom_resource, plan_stack, stack_config
from tooling.offline.recording import Plan, Registration
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import StackConfig, available_stacks

POLICY_DIR = PROJECT_DIR / "policy"
MODEL_SERVER = "vllm-llama2-7b-pool-deployment"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
_SECONDS = {"h": 3600, "m": 60, "s": 1}


def engine_props(inputs: dict[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    struct.update(inputs)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def seconds(duration: str | None) -> float:
    return sum(float(n) * _SECONDS[unit] for n, unit in _DURATION.findall(duration or ""))


def options(resource: Registration) -> PolicyResourceOptions:
    timeouts = resource.custom_timeouts
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=resource.delete_before_replace or None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(*(seconds(timeouts.get(k)) for k in ("create", "update", "delete"))),
        additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def provider_of(plan: Plan, resource: Registration) -> PolicyProviderResource | None:
    # Only explicit providers are recorded; the rules never read the provider.
    if not resource.provider:
        return None
    provider = plan.by_urn(resource.provider)
    return PolicyProviderResource(provider.type, engine_props(provider.inputs), provider.urn, provider.name)


def resource_args(plan: Plan, resource: Registration) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource.type,
        engine_props(resource.inputs),
        resource.urn,
        resource.name,
        options(resource),
        provider_of(plan, resource),
    )


def stack_args(plan: Plan) -> StackValidationArgs:
    resources = {
        r.urn: PolicyResource(
            r.type, engine_props(r.inputs), r.urn, r.name, options(r), provider_of(plan, r), None, [], {}
        )
        for r in plan.resources
    }
    for registration in plan.resources:
        resource = resources[registration.urn]
        resource.parent = resources.get(registration.parent)
        resource.dependencies = [resources[urn] for urn in registration.dependencies if urn in resources]
    return StackValidationArgs(list(resources.values()), None)


def violations(plan: Plan, config: StackConfig) -> dict[str, list[tuple[str, str]]]:
    """Every rule's violations as (message, urn), keyed by rule; rules without any are left out."""

    def run() -> dict[str, list[tuple[str, str]]]:
        pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
        found: dict[str, list[tuple[str, str]]] = {}
        for policy in rules.POLICIES:
            if isinstance(policy, ResourceValidationPolicy):
                for resource in plan.resources:
                    report = _reporter(found, policy.name, resource.urn)
                    policy.validate(resource_args(plan, resource), report)
            else:
                policy.validate(stack_args(plan), _reporter(found, policy.name, None))
        return found

    return contextvars.Context().run(run)


def _reporter(found: dict[str, list[tuple[str, str]]], policy: str, resource_urn: str | None):
    def report(message: str, urn: str | None = None) -> None:
        # The analyzer's own report_violation rejects anything else.
        assert isinstance(message, str) and message and (urn is None or isinstance(urn, str))
        found.setdefault(policy, []).append((message, urn or resource_urn))

    return report


def mutable(stack: str) -> tuple[Plan, StackConfig]:
    return copy.deepcopy(plan_stack(stack)), stack_config(stack)


def model_server(plan: Plan) -> Registration:
    return plan.one("kubernetes:apps/v1:Deployment", MODEL_SERVER)


def add(plan: Plan, type_token: str, name: str, inputs: dict[str, Any]) -> Registration:
    resource = custom_resource(type_token, name, inputs, stack=plan.stack, project=plan.project, parent=plan.stack_urn)
    plan.resources.append(resource)
    return resource


@pytest.mark.parametrize("stack", available_stacks(PROJECT_DIR))
def test_the_real_stacks_pass_every_rule(stack):
    assert violations(plan_stack(stack), stack_config(stack)) == {}


def test_acs_model_servers_are_recognised_by_their_compute_class_label():
    config = stack_config("dev", {"compute": {"mode": "acs"}})
    plan = plan_stack("dev", {"compute": {"mode": "acs"}})
    template = model_server(plan).inputs["spec"]["template"]
    assert template["metadata"]["labels"]["alibabacloud.com/compute-class"] == "gpu"
    assert "tolerations" not in template["spec"]
    assert violations(plan, config) == {}

    for container in template["spec"]["containers"]:
        container["resources"].pop("limits")
    assert set(violations(plan, config)) == {"gpu-resources-on-model-servers"}


@pytest.mark.parametrize(
    "image",
    ["vllm/vllm-openai:latest", "vllm/vllm-openai", "registry.example.com:5000/vllm/vllm-openai", "busybox:latest"],
)
def test_unpinned_images_are_flagged(image):
    plan, config = mutable("dev")
    deployment = model_server(plan)
    deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"] = image

    found = violations(plan, config)

    assert list(found) == ["pinned-images"]
    [(message, urn)] = found["pinned-images"]
    assert urn == deployment.urn
    assert image in message


@pytest.mark.parametrize(
    ("type_token", "body"),
    [
        ("kubernetes:core/v1:Pod", {"spec": {"containers": [{"name": "shell", "image": "busybox"}]}}),
        (
            "kubernetes:batch/v1:CronJob",
            {
                "spec": {
                    "jobTemplate": {
                        "spec": {"template": {"spec": {"containers": [{"name": "shell", "image": "busybox"}]}}}
                    }
                }
            },
        ),
    ],
)
def test_pods_and_cron_jobs_are_checked(type_token, body):
    plan, config = mutable("dev")
    workload = add(plan, type_token, "extra", body)
    assert violations(plan, config) == {"pinned-images": [(mock.ANY, workload.urn)]}


def test_unpinned_init_containers_are_flagged():
    plan, config = mutable("dev")
    spec = model_server(plan).inputs["spec"]["template"]["spec"]
    spec["initContainers"] = [{"name": "fetch", "image": "busybox"}]
    [(message, _)] = violations(plan, config)["pinned-images"]
    assert "initContainers `fetch`" in message


def test_values_unknown_during_preview_are_not_judged():
    # The analyzer turns UnknownValueError into an advisory "can't run during preview", not a violation.
    plan, config = mutable("dev")
    model_server(plan).inputs["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    with pytest.raises(UnknownValueError):
        violations(plan, config)


@pytest.mark.parametrize(
    "image",
    ["registry.example.com:5000/vllm/vllm-openai:v0.8.5", "vllm/vllm-openai@sha256:" + "a" * 64, "busybox:1.37"],
)
def test_versioned_and_digest_images_pass(image):
    plan, config = mutable("dev")
    model_server(plan).inputs["spec"]["template"]["spec"]["containers"][0]["image"] = image
    assert violations(plan, config) == {}


def test_gpu_model_server_without_gpu_limits_is_flagged():
    plan, config = mutable("prod")
    deployment = model_server(plan)
    template = deployment.inputs["spec"]["template"]
    assert template["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    for container in template["spec"]["containers"]:
        for bound in container["resources"].values():
            bound.pop("nvidia.com/gpu")

    found = violations(plan, config)

    assert list(found) == ["gpu-resources-on-model-servers"]
    assert [urn for _, urn in found["gpu-resources-on-model-servers"]] == [deployment.urn]


def test_gpu_request_without_matching_limit_is_flagged():
    plan, config = mutable("dev")
    container = model_server(plan).inputs["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"].pop("nvidia.com/gpu")
    [(message, _)] = violations(plan, config)["gpu-resources-on-model-servers"]
    assert "`vllm` must request and limit the same" in message


def test_gpu_node_selector_marks_a_model_server():
    plan, config = mutable("dev")
    spec = model_server(plan).inputs["spec"]["template"]["spec"]
    spec.pop("tolerations")
    spec["nodeSelector"] = {"aliyun.accelerator/nvidia_name": "NVIDIA-A10"}
    assert violations(plan, config) == {}
    spec["containers"][0]["resources"] = {}
    assert list(violations(plan, config)) == ["gpu-resources-on-model-servers"]


def test_cpu_workloads_need_no_gpu():
    plan, config = mutable("dev")
    spec = model_server(plan).inputs["spec"]["template"]["spec"]
    spec.pop("tolerations")
    spec["containers"][0]["resources"] = {}
    assert violations(plan, config) == {}


@pytest.mark.parametrize(
    ("type_token", "name", "mutate", "expected"),
    [
        (rules.CLUSTER, "ack-cluster", lambda r: r.inputs.update(deletionProtection=False), "deletion protection"),
        (rules.CLUSTER, "ack-cluster", lambda r: r.inputs.pop("deletionProtection"), "deletion protection"),
        (rules.CLUSTER, "ack-cluster", lambda r: setattr(r, "protect", False), "`ack-cluster` must be protected"),
        (rules.VPC, "network-vpc", lambda r: setattr(r, "protect", False), "VPC `network-vpc` must be protected"),
    ],
)
def test_prod_without_protections_is_flagged(type_token, name, mutate, expected):
    plan, config = mutable("prod")
    resource = plan.one(type_token, name)
    mutate(resource)

    found = violations(plan, config)

    assert list(found) == ["production-protections"]
    [(message, urn)] = found["production-protections"]
    assert expected in message
    assert urn == resource.urn


def test_development_stacks_need_no_protections():
    plan = plan_stack("dev")
    cluster, vpc = plan.one(rules.CLUSTER), plan.one(rules.VPC)
    assert not cluster.protect and not vpc.protect and not cluster.inputs.get("deletionProtection")
    assert violations(plan, stack_config("dev")) == {}
    # The tier, not the stack name, decides: dev set to production is held to the production rules.
    production = stack_config(
        "dev",
        {"tier": "production", "models": [{"replicas": 2}], "security": {"exposure": {"allowUnauthenticated": True}}},
    )
    assert len(violations(plan, production)["production-protections"]) == 3


def test_the_stacks_own_envoy_proxy_keeps_the_gateway_off_the_internet():
    plan, config = mutable("dev")
    envoy_service = plan.one(rules.ENVOY_PROXY).inputs["spec"]["provider"]["kubernetes"]["envoyService"]
    assert envoy_service["annotations"][rules.ADDRESS_TYPE] == "intranet"
    envoy_service["annotations"][rules.ADDRESS_TYPE] = "internet"
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]


def test_internet_exposure_with_the_stacks_api_keys_passes_until_its_security_policy_is_gone():
    overrides = {
        "security": {"exposure": {"addressType": "internet"}},
        "apiKeys": {"client-a": "a-long-enough-api-key-0123"},
    }
    config = stack_config("dev", overrides, secrets=("apiKeys",))
    plan = copy.deepcopy(plan_stack("dev", overrides, secrets=("apiKeys",)))
    assert violations(plan, config) == {}

    plan.resources = [r for r in plan.resources if r.type != rules.SECURITY_POLICY]
    found = violations(plan, config)
    assert list(found) == ["no-internet-exposure-without-auth"]
    assert {urn for _, urn in found["no-internet-exposure-without-auth"]} == {plan.one(rules.GATEWAY).urn}


def load_balancer(plan: Plan, annotations: dict[str, str], **spec: Any) -> Registration:
    service = plan.one(rules.SERVICE, "vllm-llama2-7b-pool-service")
    service.inputs["metadata"]["annotations"] = annotations
    service.inputs["spec"].update(type="LoadBalancer", **spec)
    return service


@pytest.mark.parametrize("annotations", [{rules.ADDRESS_TYPE: "internet"}, {}])
def test_internet_load_balancer_service_is_flagged(annotations):
    plan, config = mutable("dev")
    service = load_balancer(plan, annotations)

    found = violations(plan, config)

    assert list(found) == ["no-internet-exposure-without-auth"]
    [(message, urn)] = found["no-internet-exposure-without-auth"]
    assert urn == service.urn
    assert "default/vllm-llama2-7b-pool" in message


@pytest.mark.parametrize(
    ("annotations", "spec"),
    [
        ({rules.ADDRESS_TYPE: "intranet"}, {}),
        ({rules.ADDRESS_TYPE: "internet"}, {"loadBalancerSourceRanges": ["203.0.113.0/24"]}),
        ({rules.ADDRESS_TYPE: "internet", rules.ACL_STATUS: "on", rules.ACL_TYPE: "white"}, {}),
    ],
)
def test_intranet_or_source_restricted_load_balancers_pass(annotations, spec):
    plan, config = mutable("dev")
    load_balancer(plan, annotations, **spec)
    assert violations(plan, config) == {}


@pytest.mark.parametrize("ranges", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"]], ids=["slash-0", "two-halves"])
def test_load_balancer_open_to_every_source_is_flagged(ranges):
    plan, config = mutable("dev")
    load_balancer(plan, {rules.ADDRESS_TYPE: "internet"}, loadBalancerSourceRanges=ranges)
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]


def expose_gateway(plan: Plan, envoy_service: dict[str, Any], *security_policies: dict[str, Any]) -> Registration:
    """The plan's Gateway behind a test EnvoyProxy and SecurityPolicies (replacing any the stack has)."""
    plan.resources = [r for r in plan.resources if r.type not in (rules.ENVOY_PROXY, rules.SECURITY_POLICY)]
    gateway = plan.one(rules.GATEWAY)
    namespace = gateway.inputs["metadata"]["namespace"]
    gateway.inputs["spec"]["infrastructure"] = {
        "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "test-proxy"}
    }
    proxy = {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": envoy_service}}}
    add(plan, rules.ENVOY_PROXY, "test-proxy", _object("EnvoyProxy", "test-proxy", namespace, proxy))
    for index, spec in enumerate(security_policies):
        name = f"test-policy-{index}"
        add(plan, rules.SECURITY_POLICY, name, _object("SecurityPolicy", name, namespace, spec))
    return gateway


def _object(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace}
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


INTERNET = {"annotations": {rules.ADDRESS_TYPE: "internet"}}
API_KEYS = {"apiKeyAuth": {"credentialRefs": [{"name": "api-keys"}], "extractFrom": [{"headers": ["x-api-key"]}]}}


def gateway_target(gateway: Registration, **extra: str) -> dict[str, Any]:
    name = gateway.inputs["metadata"]["name"]
    return {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name, **extra}


def test_internet_gateway_without_security_policy_is_flagged_per_listener():
    plan, config = mutable("dev")
    gateway = expose_gateway(plan, INTERNET)

    found = violations(plan, config)

    assert list(found) == ["no-internet-exposure-without-auth"]
    listeners = [listener["name"] for listener in gateway.inputs["spec"]["listeners"]]
    assert len(found["no-internet-exposure-without-auth"]) == len(listeners) >= 2
    for (message, urn), listener in zip(found["no-internet-exposure-without-auth"], listeners, strict=True):
        assert urn == gateway.urn
        assert f"listener `{listener}`" in message


def test_gateway_class_parameters_ref_is_followed():
    plan, config = mutable("dev")
    gateway = expose_gateway(plan, INTERNET)
    reference = gateway.inputs["spec"].pop("infrastructure")["parametersRef"]
    gateway_class = plan.one(rules.GATEWAY_CLASS)
    gateway_class.inputs["spec"]["parametersRef"] = {**reference, "namespace": gateway.inputs["metadata"]["namespace"]}
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]
    plan.one(rules.ENVOY_PROXY).inputs["spec"]["provider"]["kubernetes"]["envoyService"] = {
        "annotations": {rules.ADDRESS_TYPE: "intranet"}
    }
    assert violations(plan, config) == {}


@pytest.mark.parametrize(
    "envoy_service",
    [
        {"annotations": {rules.ADDRESS_TYPE: "intranet"}},
        {"type": "ClusterIP"},
        {**INTERNET, "loadBalancerSourceRanges": ["198.51.100.0/24"]},
    ],
)
def test_intranet_or_restricted_gateway_needs_no_security_policy(envoy_service):
    plan, config = mutable("dev")
    expose_gateway(plan, envoy_service)
    assert violations(plan, config) == {}


def test_api_key_security_policy_on_the_gateway_allows_internet_exposure():
    plan, config = mutable("dev")
    gateway = plan.one(rules.GATEWAY)
    expose_gateway(plan, INTERNET, {"targetRefs": [gateway_target(gateway)], **API_KEYS})
    assert violations(plan, config) == {}


def test_security_policy_on_one_listener_leaves_the_other_flagged():
    plan, config = mutable("dev")
    gateway = plan.one(rules.GATEWAY)
    expose_gateway(plan, INTERNET, {"targetRefs": [gateway_target(gateway, sectionName="http")], **API_KEYS})
    [(message, _)] = violations(plan, config)["no-internet-exposure-without-auth"]
    assert "listener `llm-gw`" in message


def test_security_policies_on_every_attached_route_cover_the_listeners():
    plan, config = mutable("dev")
    routes = plan.of_type(rules.HTTP_ROUTE)
    targets = [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": r.inputs["metadata"]["name"]}
        for r in routes
    ]
    expose_gateway(plan, INTERNET, {"targetRefs": targets, **API_KEYS})
    assert violations(plan, config) == {}
    expose_gateway(plan, INTERNET, {"targetRefs": targets[:1], **API_KEYS})
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]


def test_client_cidr_allow_list_counts_and_allow_by_default_does_not():
    plan, config = mutable("dev")
    gateway = plan.one(rules.GATEWAY)
    rule = {"action": "Allow", "principal": {"clientCIDRs": ["203.0.113.0/24"]}}
    allow_list = {"targetRefs": [gateway_target(gateway)], "authorization": {"defaultAction": "Deny", "rules": [rule]}}
    expose_gateway(plan, INTERNET, allow_list)
    assert violations(plan, config) == {}
    allow_list["authorization"]["defaultAction"] = "Allow"
    expose_gateway(plan, INTERNET, allow_list)
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]
    allow_list["authorization"]["defaultAction"] = "Deny"
    rule["principal"]["clientCIDRs"] = ["0.0.0.0/1", "128.0.0.0/1"]
    expose_gateway(plan, INTERNET, allow_list)
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]


def test_security_policy_in_another_namespace_does_not_cover_the_gateway():
    plan, config = mutable("dev")
    gateway = plan.one(rules.GATEWAY)
    expose_gateway(plan, INTERNET, {"targetRefs": [gateway_target(gateway)], **API_KEYS})
    plan.one(rules.SECURITY_POLICY).inputs["metadata"]["namespace"] = "elsewhere"
    assert list(violations(plan, config)) == ["no-internet-exposure-without-auth"]


def test_pack_entry_point_constructs_the_pack_from_the_rules(monkeypatch):
    constructed = []

    class RecordingPack:
        def __init__(self, **kwargs):
            constructed.append(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordingPack)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "rules", raising=False)
    # As the analyzer host starts it: `runpy.run_path(<pack dir>)`, which puts the pack dir on sys.path.
    runpy.run_path(str(POLICY_DIR), run_name="__main__")
    sys.modules.pop("rules", None)

    [pack] = constructed
    assert pack["name"] == "ack-inference"
    assert [p.name for p in pack["policies"]] == [p.name for p in rules.POLICIES]
    assert pack["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY


def test_pack_metadata_and_requirements_are_pinned():
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    requirements = (POLICY_DIR / "requirements.txt").read_text().splitlines()
    dev_requirements = (POLICY_DIR.parent / "requirements-dev.txt").read_text().splitlines()
    pinned = [line for line in requirements if line and not line.startswith("#")]
    assert pinned and all("==" in line for line in pinned)
    assert f"pulumi-policy=={POLICY_SDK_VERSION}" in pinned
    assert f"pulumi-policy=={POLICY_SDK_VERSION}" in dev_requirements
