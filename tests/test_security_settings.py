"""Security configuration: unsafe combinations are config errors naming the key, before any resource exists,
and messages never repeat an API key."""

from __future__ import annotations

import pytest
import yaml

from stacks import compatibility
from stacks.config_loader import parse_settings
from tests.harness import config_error, messages, plan_stack, stack_config
from tooling.offline.run import PROJECT_DIR

KEY = "sk-planted-7d1e0c9a4b"
ADDRESS_TYPE = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"
ANNOTATIONS = "security.exposure.loadBalancerAnnotations"
INTERNET = {"exposure": {"addressType": "internet"}}


def only(overrides, stack="dev", secrets=()) -> str:
    (message,) = messages(config_error(stack, overrides, secrets))
    assert KEY not in message
    return message


def test_the_defaults_are_an_intranet_gateway_with_isolated_model_servers():
    security = parse_settings({}).security
    assert security.exposure.address_type == "intranet"
    assert security.network_isolation.enabled
    assert security.rate_limit is None and security.tls_certificate_secret is None


def test_internet_exposure_without_keys_or_allow_list_is_refused():
    message = only({"security": INTERNET})
    assert message.startswith("ack-inference:security.exposure.addressType: ")
    assert "apiKeys" in message and "allowedCidrs" in message


def test_an_allow_list_open_to_everyone_is_no_protection():
    message = only({"security": {"exposure": {"addressType": "internet", "allowedCidrs": ["0.0.0.0/0"]}}})
    assert message.startswith("ack-inference:security.exposure.addressType: ")


@pytest.mark.parametrize(
    "cidrs",
    [["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"], ["::/1", "8000::/1"]],
    ids=["ipv4-halves", "ipv4-quarters", "ipv6-halves"],
)
def test_an_allow_list_whose_blocks_cover_every_address_is_no_protection(cidrs):
    message = only({"security": {"exposure": {"addressType": "internet", "allowedCidrs": cidrs}}})
    assert message.startswith("ack-inference:security.exposure.addressType: ")


def test_production_needs_client_authentication():
    message = only({"security": None}, stack="prod")
    assert message.startswith("ack-inference:security.exposure: ")
    assert "apiKeys" in message and "allowedCidrs" in message and "allowUnauthenticated" in message


def test_in_production_an_allow_list_covering_every_address_is_no_authentication():
    message = only({"security": {"exposure": {"allowedCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}}}, stack="prod")
    assert message.startswith("ack-inference:security.exposure: ")


@pytest.mark.parametrize(
    ("overrides", "secrets"),
    [
        ({"security": None, "apiKeys": {"alice": KEY}}, ("apiKeys",)),
        ({"security": {"exposure": {"allowedCidrs": ["0.0.0.0/1"]}}}, ()),
        ({"security": {"exposure": {"allowUnauthenticated": True}}}, ()),
    ],
    ids=["api-keys", "half-the-addresses", "explicit-opt-out"],
)
def test_production_accepts_keys_a_real_allow_list_or_the_explicit_opt_out(overrides, secrets):
    settings = parse_settings(*stack_config("prod", overrides, secrets).project_values())
    assert settings.production


def test_the_opt_out_cannot_open_production_to_the_internet():
    exposure = {"addressType": "internet", "allowUnauthenticated": True}
    message = only({"security": {"exposure": exposure}}, stack="prod")
    assert message.startswith("ack-inference:security.exposure.addressType: ")


def test_the_opt_out_is_refused_outside_production():
    message = only({"security": {"exposure": {"allowUnauthenticated": True}}})
    assert message.startswith("ack-inference:security.exposure.allowUnauthenticated: ")


def test_the_committed_prod_stack_authenticates_its_clients():
    policy = plan_stack("prod").one("kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy")
    assert policy.inputs["spec"]["authorization"]["defaultAction"] == "Deny"


@pytest.mark.parametrize(
    ("overrides", "secrets"),
    [
        ({"security": INTERNET, "apiKeys": {"alice": KEY}}, ("apiKeys",)),
        ({"security": {"exposure": {"addressType": "internet", "allowedCidrs": ["203.0.113.0/24"]}}}, ()),
    ],
    ids=["api-keys", "allow-list"],
)
def test_internet_exposure_with_a_protection_is_accepted(overrides, secrets):
    settings = parse_settings(*stack_config("dev", overrides, secrets).project_values())
    assert settings.security.exposure.address_type == "internet"


def test_api_keys_stored_in_plain_text_are_refused_without_echoing_them():
    message = only({"apiKeys": {"alice": KEY}})
    assert message.startswith("ack-inference:apiKeys: is stored in plain text but must be a secret")


def test_a_short_api_key_is_refused_without_echoing_it():
    short = "sk-123"
    (message,) = messages(config_error("dev", {"apiKeys": {"alice": short}}, ("apiKeys",)))
    assert message.startswith("ack-inference:apiKeys.alice: ")
    assert short not in message


def test_a_client_name_must_be_a_secret_data_key():
    (message,) = messages(config_error("dev", {"apiKeys": {"alice smith": KEY}}, ("apiKeys",)))
    assert "apiKeys" in message and KEY not in message


@pytest.mark.parametrize(
    ("security", "path"),
    [
        ({"exposure": {"loadBalancerAnnotations": {ADDRESS_TYPE: "internet"}}}, ANNOTATIONS),
        ({"exposure": {"loadBalancerAnnotations": {"example.com/other": "x"}}}, ANNOTATIONS),
        ({"exposure": {"allowedCidrs": ["203.0.113.7/24"]}}, "security.exposure.allowedCidrs"),
        ({"exposure": {"allowedCidrs": ["everyone"]}}, "security.exposure.allowedCidrs"),
        ({"apiKeyHeader": "x-api-key: $(id)"}, "security.apiKeyHeader"),
        ({"rateLimit": 0}, "security.rateLimit"),
        ({"rateLimitUnit": "Month"}, "security.rateLimitUnit"),
        ({"networkIsolation": {"scraperNamespaces": ["Monitoring"]}}, "security.networkIsolation.scraperNamespaces[0]"),
    ],
)  # fmt: skip
def test_malformed_security_keys_are_refused_by_path(security, path):
    assert only({"security": security}).startswith(f"ack-inference:{path}: ")


def test_the_address_type_can_only_be_changed_by_its_own_key():
    message = only({"security": {"exposure": {"loadBalancerAnnotations": {ADDRESS_TYPE: "internet"}}}})
    assert "addressType" in message


def test_the_benchmark_cannot_run_behind_keys_or_https():
    message = only(
        {"benchmark": {"enabled": True}, "models": [{"replicas": 2}], "security": {"tlsCertificateSecret": "gw-tls"}}
    )
    assert message.startswith("ack-inference:benchmark.enabled: ")


def test_production_needs_two_self_hosted_pickers_because_envoy_fails_closed():
    message = only({"routing": {"endpointPicker": {"mode": "selfHosted"}}}, stack="prod")
    assert message.startswith("ack-inference:routing.endpointPicker.replicas: ")
    assert "fails closed" in message


def test_production_rollouts_never_drop_below_the_serving_capacity():
    message = only({"models": [{"replicas": 2, "maxSurge": 0, "chatTemplate": "llama-2"}]}, stack="prod")
    assert message.startswith("ack-inference:models[0].maxSurge: ")


# --- Fail closed: exposure and isolation only where something enforces them ---------------------------------

GATEWAY_CRD = PROJECT_DIR / "schemas/crds/gateway-api-v1.2.1/gateway.networking.k8s.io_gateways.yaml"


def test_the_oldest_gateway_api_accepted_serves_the_gateway_infrastructure_field():
    crd = yaml.safe_load(GATEWAY_CRD.read_text())
    bundle = crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
    assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    infrastructure = served["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["infrastructure"]
    assert "parametersRef" in infrastructure["properties"]
    # The rule's floor is at or below a release whose standard CRD serves it.
    released = tuple(int(part) for part in bundle.lstrip("v").split("."))
    assert released >= compatibility.GATEWAY_INFRASTRUCTURE_MINIMUM


@pytest.mark.parametrize("stack", ["dev", "v1alpha1"])
def test_gateway_api_crds_that_drop_spec_infrastructure_are_refused(stack):
    gateway_api = {"name": "gateway-api", "version": "v1.1.0"}
    addons = {"gatewayApi": gateway_api}
    if stack == "v1alpha1":
        addons |= {
            "manage": False,
            "inferenceGateway": {"name": "ack-gateway-with-inference-extension", "version": "v1.3.0-aliyun.1"},
        }
    message = only({"addons": addons}, stack=stack)
    assert message.startswith("ack-inference:addons.gatewayApi.version: must be v1.2.0 or newer")
    assert "internet load balancer" in message


def test_a_stack_that_does_not_install_the_gateway_api_must_declare_its_version():
    addons = {
        "manage": False,
        "inferenceGateway": {"name": "ack-gateway-with-inference-extension", "version": "v1.3.0-aliyun.1"},
    }
    message = only({"addons": addons}, stack="v1alpha1")
    assert message.startswith("ack-inference:addons.gatewayApi.version: must be the Gateway API version installed")


def test_a_new_flannel_cluster_cannot_claim_isolation():
    message = only({"cluster": {"cni": "flannel"}})
    assert message.startswith("ack-inference:security.networkIsolation.enabled: ACK's Flannel does not enforce")


def test_acs_isolation_needs_poseidon_and_a_virtual_node_that_supports_it():
    old_node = {
        "compute": {"mode": "acs"},
        "addons": {"virtualNode": {"name": "ack-virtual-node", "version": "v2.9.1"}},
    }
    assert only(old_node).startswith("ack-inference:addons.virtualNode.version: must be v2.10.0 or newer")
    existing = {"mode": "existing", "id": "c0123456789abcdef"}
    unmanaged = {"cluster": existing, "network": None, "compute": {"mode": "acs"}, "addons": {"manage": False}}
    unmanaged["addons"]["gatewayApi"] = {"name": "gateway-api", "version": "v1.2.1"}
    assert only(unmanaged).startswith("ack-inference:addons.poseidon.version: must name the Poseidon add-on")
