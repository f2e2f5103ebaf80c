"""The security layer in whole-stack plans: what `dev` and `prod` get by default, a locked-down internet
gateway (API keys, allow-list, rate limit, HTTPS) whose keys never appear in plain text, the model servers'
NetworkPolicies, and hardened, pinned workloads."""

from __future__ import annotations

import functools
import json

import yaml

from stacks.settings.formats import image_problem
from tests.harness import plan_stack
from tests.releases import ENVOY_GATEWAY
from tests.schemas import validate
from tooling.offline.recording import SECRET
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"
SECURITY_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy"
TRAFFIC_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ADDRESS_TYPE = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"
KEYS = {"alice": "sk-planted-alice-5c2e81f0", "batch-jobs": "sk-planted-batch-93ab17de"}
LOCKED = {
    "security": {
        "exposure": {"addressType": "internet", "allowedCidrs": ["203.0.113.0/24"]},
        "rateLimit": 600,
        "tlsCertificateSecret": "gateway-tls",
        "imagePullSecret": "acr-pull",
    },
    "apiKeys": KEYS,
    "routing": {"endpointPicker": {"mode": "selfHosted", "replicas": 2}},
}


SIMULATOR = {"models": [{"mode": "simulator"}]}


@functools.cache
def locked():
    return plan_stack("dev", LOCKED, secrets=("apiKeys",))


def envoy_service(plan):
    return plan.one(PROXY).inputs["spec"]["provider"]["kubernetes"]["envoyService"]


def test_dev_and_prod_gateways_are_intranet_and_the_gateway_uses_that_proxy():
    for stack in ("dev", "prod"):
        plan = plan_stack(stack)
        proxy, gateway = plan.one(PROXY), plan.one(GATEWAY)
        assert envoy_service(plan)["annotations"] == {ADDRESS_TYPE: "intranet"}
        reference = gateway.inputs["spec"]["infrastructure"]["parametersRef"]
        assert reference["name"] == proxy.inputs["metadata"]["name"]
        assert proxy.inputs["metadata"]["namespace"] == gateway.inputs["metadata"]["namespace"]
        assert plan.depends_on(gateway, proxy)
    # dev: nothing configured, nothing claimed: no keys, no allow-list, no limit.
    dev = plan_stack("dev")
    assert "loadBalancerSourceRanges" not in envoy_service(dev)
    assert not dev.of_type(SECURITY_POLICY) and not dev.of_type(TRAFFIC_POLICY)
    assert dev.outputs["gatewayExposure"] == "intranet load balancer"
    # prod must authenticate its clients: its allow-list on the load balancer and in Envoy.
    prod = plan_stack("prod")
    assert envoy_service(prod)["loadBalancerSourceRanges"] == ["10.10.0.0/16"]
    assert prod.outputs["gatewayExposure"] == "intranet load balancer; clients from 10.10.0.0/16"


def test_the_security_objects_use_the_cluster_provider_and_wait_for_the_crds():
    plan = locked()
    addon = plan.one("alicloud:cs/kubernetesAddon:KubernetesAddon", "addons-inference-gateway")
    component = plan.one("ack-inference:security:GatewaySecurity")
    for resource in plan.children(component):
        assert resource.provider.split("::")[-1].startswith("kubernetes-provider")
        assert plan.depends_on(resource, addon)


def test_a_locked_down_internet_gateway_is_protected_before_it_exists():
    plan = locked()
    service = envoy_service(plan)
    assert service["annotations"][ADDRESS_TYPE] == "internet"
    assert service["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    gateway = plan.one(GATEWAY)
    security, traffic = plan.one(SECURITY_POLICY), plan.one(TRAFFIC_POLICY)
    for policy in (security, traffic):
        assert policy.inputs["spec"]["targetRefs"] == [
            {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway.inputs["metadata"]["name"]}
        ]
        assert plan.depends_on(gateway, policy)
    secret = plan.one("kubernetes:core/v1:Secret", "inference-gateway-security-api-keys")
    (reference,) = security.inputs["spec"]["apiKeyAuth"]["credentialRefs"]
    assert reference["name"] == secret.inputs["metadata"]["name"]
    assert plan.depends_on(security, secret)
    # The plan shows which clients have a key, never a key.
    assert secret.inputs["stringData"] == dict.fromkeys(KEYS, SECRET)
    assert traffic.inputs["spec"]["rateLimit"]["local"]["rules"][0]["limit"] == {"requests": 600, "unit": "Minute"}
    listeners = gateway.inputs["spec"]["listeners"]
    assert {listener["protocol"] for listener in listeners} == {"HTTPS"}
    assert {listener["name"] for listener in listeners} == {"http", "llm-gw"}


def test_every_envoy_gateway_object_validates_in_both_envoy_gateway_lines():
    objects = [o for o in locked().kubernetes_objects() if o["apiVersion"].startswith("gateway.envoyproxy.io/")]
    assert sorted(o["kind"] for o in objects) == ["BackendTrafficPolicy", "EnvoyProxy", "SecurityPolicy"]
    for obj in objects:
        assert validate(obj, ENVOY_GATEWAY) == [], obj["kind"]


def test_the_api_keys_never_appear_in_the_plan_the_manifests_or_the_outputs():
    plan = locked()
    rendered = [
        json.dumps(plan.to_json(), default=str),
        yaml.safe_dump_all(plan.kubernetes_objects()),
        json.dumps(plan.outputs, default=str),
    ]
    for text in rendered:
        for key in KEYS.values():
            assert key not in text
    # The client names appear as the Secret's keys and nowhere else in the manifests.
    others = [o for o in plan.kubernetes_objects() if o["kind"] != "Secret"]
    assert "alice" not in yaml.safe_dump_all(others)
    curl = plan.outputs["curlInferenceListener"]
    assert '-H "x-api-key: ${API_KEY}"' in curl and "https://${GATEWAY_IP}:8081/" in curl


def test_only_the_gateway_pickers_and_scrapers_reach_the_model_servers():
    plan = locked()
    policies = {p.inputs["spec"]["podSelector"]["matchLabels"]["app"]: p for p in plan.of_type(NETWORK_POLICY)}
    deployments = [d for d in plan.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-deployment")]
    servers = [
        d.inputs["metadata"]["name"]
        for d in deployments
        if d.inputs["spec"]["template"]["spec"]["containers"][0]["name"] == "vllm"
    ]
    assert sorted(policies) == sorted([*servers, "inference-gateway-ext-proc"])  # and the self-hosted picker
    (rule,) = policies["vllm-llama2-7b-pool"].inputs["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}},
        {"podSelector": {"matchLabels": {"app": "inference-gateway-ext-proc"}}},
        # The self-managed Prometheus pods, by the labels the Prometheus Operator gives them.
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "prometheus",
                    "app.kubernetes.io/managed-by": "prometheus-operator",
                }
            },
        },
    ]
    for obj in plan.kubernetes_objects():
        if obj["kind"] == "NetworkPolicy":
            assert validate(obj, ()) == []


def test_network_isolation_can_be_turned_off():
    plan = plan_stack("dev", {"security": {"networkIsolation": {"enabled": False}}})
    assert plan.of_type(NETWORK_POLICY) == []


def test_every_workload_pod_is_hardened_and_pulls_with_the_configured_secret():
    plan = locked()
    workloads = [o for o in plan.kubernetes_objects() if o["kind"] in ("Deployment", "Job")]
    assert {o["kind"] for o in workloads} == {"Deployment"}
    assert len(workloads) == 2  # the model server and its self-hosted picker
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["imagePullSecrets"] == [{"name": "acr-pull"}]
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_picker_runs_as_its_image_nonroot_user_on_a_read_only_root_filesystem():
    plan = locked()
    pod = plan.one("kubernetes:apps/v1:Deployment", "inference-gateway-ext-proc-deployment").inputs["spec"]["template"]
    security = pod["spec"]["securityContext"]
    # distroless `nonroot`: uid and gid 65532.
    assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (True, 65532, 65532)
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Its only volume is the read-only plugin config: nothing it needs to write.
    assert [m["readOnly"] for m in container["volumeMounts"]] == [True]


def test_model_server_pods_hold_no_service_account_token():
    for plan in (plan_stack("dev"), plan_stack("prod"), locked(), plan_stack("dev", SIMULATOR)):
        servers = [
            d
            for d in plan.of_type("kubernetes:apps/v1:Deployment")
            if d.inputs["spec"]["template"]["spec"]["containers"][0]["name"] == "vllm"
        ]
        assert servers
        for server in servers:
            assert server.inputs["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_only_the_gateway_reaches_the_picker_and_only_the_scrapers_read_its_metrics():
    plan = locked()
    policy = plan.one(NETWORK_POLICY, "model-server-isolation-inference-gateway-ext-proc").inputs["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app": "inference-gateway-ext-proc"}}
    grpc, metrics = policy["ingress"]
    assert grpc == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}}],
        "ports": [{"protocol": "TCP", "port": 9002}],
    }
    # The scrapers are the monitoring mode's Prometheus pods (by the labels the Operator gives them), not every
    # pod of their namespace (Grafana runs there too).
    prometheus = {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator"}
    assert metrics == {
        "from": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                "podSelector": {"matchLabels": prometheus},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 9090}],
    }


def test_a_picker_without_scrapers_admits_nobody_on_its_metrics_port():
    # An empty `from` would admit every source: the metrics rule is left out instead.
    overrides = {**LOCKED, "observability": {"selfManaged": {"enabled": False}}}
    plan = plan_stack("dev", overrides, secrets=("apiKeys",))
    policy = plan.one(NETWORK_POLICY, "model-server-isolation-inference-gateway-ext-proc").inputs["spec"]
    assert [rule["ports"] for rule in policy["ingress"]] == [[{"protocol": "TCP", "port": 9002}]]


def test_every_image_of_every_committed_stack_is_pinned():
    for stack in available_stacks(PROJECT_DIR):
        for obj in plan_stack(stack).kubernetes_objects():
            if obj["kind"] in ("Deployment", "Job"):
                for container in obj["spec"]["template"]["spec"]["containers"]:
                    assert image_problem(container["image"]) is None, (stack, container["image"])


def test_production_spreads_model_servers_across_zones_and_keeps_capacity_through_rollouts():
    deployment = plan_stack("prod").one("kubernetes:apps/v1:Deployment", "vllm-llama2-7b-pool-deployment")
    spec = deployment.inputs["spec"]
    assert spec["template"]["spec"]["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "vllm-llama2-7b-pool"}},
        }
    ]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    dev = plan_stack("dev").one("kubernetes:apps/v1:Deployment", "vllm-llama2-7b-pool-deployment")
    assert "topologySpreadConstraints" not in dev.inputs["spec"]["template"]["spec"]


def test_several_self_hosted_pickers_keep_one_through_a_drain():
    plan = locked()
    budget = plan.one("kubernetes:policy/v1:PodDisruptionBudget", "inference-gateway-ext-proc-pdb")
    assert budget.inputs["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "inference-gateway-ext-proc"}},
    }
