"""The security objects as the pure builders make them: each validates against the Envoy Gateway CRDs of the
line ACK's add-on ships (v1.4) and of a current one (v1.7), or against the Kubernetes schemas, and says what the
issue asks for (intranet by default, API keys from a Secret, client allow-list, local rate limit, HTTPS,
isolation of the model servers' port)."""

from __future__ import annotations

import pytest

from components.inference.gateway import GatewaySpec, Timeouts, gateway
from components.inference.gateway_security import (
    ADDRESS_TYPE_ANNOTATION,
    GatewaySecuritySpec,
    RateLimit,
    api_key_secret,
    envoy_proxy,
    proxy_name,
    security_policy,
    traffic_policy,
)
from components.inference.network_policies import IngressRule, IsolatedServer, Peer, network_policy
from tests.releases import ENVOY_GATEWAY, GATEWAY_API
from tests.schemas import crd_version, validate

SPEC = GatewaySecuritySpec(gateway_name="inference-gateway", namespace="llm", address_type="intranet")
LOCKED = SPEC.model_copy(
    update={
        "address_type": "internet",
        "load_balancer_annotations": {"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-spec": "slb.s2.small"},
        "allowed_cidrs": ("203.0.113.0/24", "2001:db8::/32"),
        "api_key_clients": ("alice", "batch-jobs"),
        "rate_limit": RateLimit(requests=120, unit="Minute"),
    }
)


def valid_in_every_envoy_gateway_line(obj):
    for release in ENVOY_GATEWAY:
        assert crd_version(release, obj["apiVersion"], obj["kind"]) is not None, release
    assert validate(obj, ENVOY_GATEWAY) == []


def test_the_default_load_balancer_is_intranet_only():
    proxy = envoy_proxy(SPEC)
    valid_in_every_envoy_gateway_line(proxy)
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    assert proxy["spec"]["provider"]["type"] == "Kubernetes"
    assert service == {"type": "LoadBalancer", "annotations": {ADDRESS_TYPE_ANNOTATION: "intranet"}}
    assert proxy["metadata"] == {"name": proxy_name(SPEC), "namespace": "llm"}


def test_an_allow_list_reaches_the_load_balancer_and_keeps_the_client_address():
    proxy = envoy_proxy(LOCKED)
    valid_in_every_envoy_gateway_line(proxy)
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["annotations"] == {
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-spec": "slb.s2.small",
        ADDRESS_TYPE_ANNOTATION: "internet",
    }
    assert service["loadBalancerSourceRanges"] == ["203.0.113.0/24", "2001:db8::/32"]
    # Envoy authorizes by client address; `Cluster` would hide it behind the node's.
    assert service["externalTrafficPolicy"] == "Local"


def test_the_address_type_is_decided_by_the_spec_only():
    spec = SPEC.model_copy(update={"load_balancer_annotations": {ADDRESS_TYPE_ANNOTATION: "internet"}})
    annotations = envoy_proxy(spec)["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"]
    assert annotations[ADDRESS_TYPE_ANNOTATION] == "intranet"


def test_no_policy_without_keys_allow_list_or_limit():
    assert security_policy(SPEC) is None
    assert traffic_policy(SPEC) is None


def test_the_security_policy_checks_api_keys_from_the_secret_and_client_networks_on_the_whole_gateway():
    policy = security_policy(LOCKED)
    valid_in_every_envoy_gateway_line(policy)
    spec = policy["spec"]
    assert spec["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "inference-gateway"}
    ]
    secret = api_key_secret(LOCKED, {"alice": "k" * 20, "batch-jobs": "j" * 20})
    assert spec["apiKeyAuth"] == {
        "credentialRefs": [{"group": "", "kind": "Secret", "name": secret["metadata"]["name"]}],
        "extractFrom": [{"headers": ["x-api-key"]}],
    }
    assert secret["metadata"]["namespace"] == policy["metadata"]["namespace"] == "llm"
    assert spec["authorization"]["defaultAction"] == "Deny"
    assert [(r["action"], r["principal"]) for r in spec["authorization"]["rules"]] == [
        ("Allow", {"clientCIDRs": ["203.0.113.0/24", "2001:db8::/32"]})
    ]


@pytest.mark.parametrize(
    "update", [{"api_key_clients": ("alice",)}, {"allowed_cidrs": ("10.0.0.0/8",)}], ids=["keys", "allow-list"]
)
def test_either_protection_alone_makes_a_valid_policy(update):
    policy = security_policy(SPEC.model_copy(update=update))
    valid_in_every_envoy_gateway_line(policy)
    assert ("apiKeyAuth" in policy["spec"]) == ("api_key_clients" in update)
    assert ("authorization" in policy["spec"]) == ("allowed_cidrs" in update)


def test_the_rate_limit_is_local_and_covers_the_gateway():
    policy = traffic_policy(LOCKED)
    valid_in_every_envoy_gateway_line(policy)
    assert policy["spec"]["targetRefs"][0]["kind"] == "Gateway"
    assert policy["spec"]["rateLimit"] == {
        "type": "Local",
        "local": {"rules": [{"limit": {"requests": 120, "unit": "Minute"}}]},
    }


def test_the_api_key_secret_holds_one_entry_per_client():
    secret = api_key_secret(LOCKED, {"alice": "a" * 20, "batch-jobs": "b" * 20})
    assert secret["stringData"] == {"alice": "a" * 20, "batch-jobs": "b" * 20}
    assert validate(secret, ()) == []


def gateway_spec(**update) -> GatewaySpec:
    return GatewaySpec(
        name="inference-gateway",
        namespace="llm",
        class_name="ack-gateway",
        create_class=False,
        controller_name="gateway.envoyproxy.io/gatewayclass-controller",
        http_port=8080,
        inference_port=8081,
        timeouts=Timeouts(request="24h", backend_request="24h"),
        plain_rules=[],
        **update,
    )


def test_the_gateway_references_its_envoy_proxy():
    body = gateway(gateway_spec(proxy_config=proxy_name(SPEC)))
    assert validate(body, GATEWAY_API) == []
    assert body["spec"]["infrastructure"] == {
        "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": proxy_name(SPEC)}
    }
    assert "infrastructure" not in gateway(gateway_spec())["spec"]


def test_with_a_certificate_both_listeners_serve_https_on_their_ports():
    body = gateway(gateway_spec(tls_certificate_secret="gateway-tls"))
    assert validate(body, GATEWAY_API) == []
    certificate = [{"group": "", "kind": "Secret", "name": "gateway-tls"}]
    tls = {"mode": "Terminate", "certificateRefs": certificate}
    assert [(item["name"], item["port"], item["protocol"], item["tls"]) for item in body["spec"]["listeners"]] == [
        ("http", 8080, "HTTPS", tls),
        ("llm-gw", 8081, "HTTPS", tls),
    ]


def test_the_network_policy_admits_only_its_peers_on_the_serving_port():
    peers = (
        Peer(namespace="envoy-gateway-system"),
        Peer(namespace="envoy-gateway-system", pod_labels={"app.kubernetes.io/component": "proxy"}),
        Peer(pod_labels={"app": "llama2-ext-proc"}),
    )
    server = IsolatedServer(
        name="llama2",
        namespace="llm",
        pod_labels={"app": "llama2"},
        rules=(IngressRule(port=8000, peers=peers), IngressRule(port=9090, peers=())),
    )
    policy = network_policy(server)
    assert validate(policy, ()) == []
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "llama2"}}
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]  # a port without peers gets no rule: an empty `from` would admit everyone
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    namespace = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}}
    assert rule["from"] == [
        namespace,
        {**namespace, "podSelector": {"matchLabels": {"app.kubernetes.io/component": "proxy"}}},
        # No namespace selector: the policy's own namespace only.
        {"podSelector": {"matchLabels": {"app": "llama2-ext-proc"}}},
    ]
