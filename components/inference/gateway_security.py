"""The gateway's protection, as Envoy Gateway objects beside the Gateway:

- an `EnvoyProxy` the Gateway references (`spec.infrastructure.parametersRef`): its LoadBalancer Service carries
  the ACK load-balancer annotations (intranet by default) and, with an allow-list, `loadBalancerSourceRanges`
  and `externalTrafficPolicy: Local` (so Envoy sees the client address);
- a `SecurityPolicy` (API keys from a Secret, client-CIDR authorization) and a `BackendTrafficPolicy` (local
  rate limit). Both target the Gateway itself, so they cover every listener (`http` and `llm-gw`) and every
  route on them, including routes added later; a policy on a route would override them for that route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components import kube
from components.constants import ADDRESS_TYPE_ANNOTATION
from components.inference.gateway import ENVOY_GATEWAY_GROUP, GATEWAY_API_GROUP
from components.vocabulary import AddressType, RateLimitUnit

ENVOY_GATEWAY_API_VERSION = f"{ENVOY_GATEWAY_GROUP}/v1alpha1"


class RateLimit(BaseModel):
    model_config = ConfigDict(frozen=True)

    requests: int
    unit: RateLimitUnit


class GatewaySecuritySpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    gateway_name: str
    namespace: str
    address_type: AddressType
    load_balancer_annotations: dict[str, str] = {}
    allowed_cidrs: tuple[str, ...] = ()
    # Names of the API-key clients (the keys themselves travel as secret Outputs); empty: no authentication.
    api_key_clients: tuple[str, ...] = ()
    api_key_header: str = "x-api-key"
    rate_limit: RateLimit | None = None

    def object_name(self, role: str) -> str:
        return f"{self.gateway_name}-{role}"


def proxy_name(spec: GatewaySecuritySpec) -> str:
    return spec.object_name("proxy")


def _gateway_target(spec: GatewaySecuritySpec) -> list[dict[str, str]]:
    return [{"group": GATEWAY_API_GROUP, "kind": "Gateway", "name": spec.gateway_name}]


def envoy_proxy(spec: GatewaySecuritySpec) -> dict[str, Any]:
    service: dict[str, Any] = {
        "type": "LoadBalancer",
        "annotations": {**spec.load_balancer_annotations, ADDRESS_TYPE_ANNOTATION: spec.address_type},
    }
    if spec.allowed_cidrs:
        service |= {"externalTrafficPolicy": "Local", "loadBalancerSourceRanges": list(spec.allowed_cidrs)}
    return {
        "apiVersion": ENVOY_GATEWAY_API_VERSION,
        "kind": "EnvoyProxy",
        "metadata": kube.metadata(proxy_name(spec), spec.namespace),
        "spec": {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": service}}},
    }


def api_key_secret(spec: GatewaySecuritySpec, keys: Mapping[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Envoy Gateway reads each data key as a client id and its value as that client's API key."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": kube.metadata(spec.object_name("api-keys"), spec.namespace),
        "type": "Opaque",
        "stringData": dict(keys),
    }


def security_policy(spec: GatewaySecuritySpec) -> dict[str, Any] | None:
    policy: dict[str, Any] = {"targetRefs": _gateway_target(spec)}
    if spec.api_key_clients:
        policy["apiKeyAuth"] = {
            "credentialRefs": [{"group": "", "kind": "Secret", "name": spec.object_name("api-keys")}],
            "extractFrom": [{"headers": [spec.api_key_header]}],
        }
    if spec.allowed_cidrs:
        policy["authorization"] = {
            "defaultAction": "Deny",
            "rules": [
                {"name": "allowed-clients", "action": "Allow", "principal": {"clientCIDRs": list(spec.allowed_cidrs)}}
            ],
        }
    if len(policy) == 1:
        return None
    return {
        "apiVersion": ENVOY_GATEWAY_API_VERSION,
        "kind": "SecurityPolicy",
        "metadata": kube.metadata(spec.object_name("security"), spec.namespace),
        "spec": policy,
    }


def traffic_policy(spec: GatewaySecuritySpec) -> dict[str, Any] | None:
    if spec.rate_limit is None:
        return None
    limit = {"requests": spec.rate_limit.requests, "unit": spec.rate_limit.unit}
    return {
        "apiVersion": ENVOY_GATEWAY_API_VERSION,
        "kind": "BackendTrafficPolicy",
        "metadata": kube.metadata(spec.object_name("rate-limit"), spec.namespace),
        "spec": {
            "targetRefs": _gateway_target(spec),
            "rateLimit": {"type": "Local", "local": {"rules": [{"limit": limit}]}},
        },
    }


@dataclass(frozen=True)
class GatewaySecurityArgs:
    spec: GatewaySecuritySpec
    # Client name -> API key, each a secret Output; the names must be `spec.api_key_clients`.
    api_keys: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    # What installs the Envoy Gateway CRDs (the gateway add-on), and the namespace.
    crd_installers: list[pulumi.Resource] = field(default_factory=list)


class GatewaySecurity(pulumi.ComponentResource):
    """The EnvoyProxy the Gateway references and the policies on the Gateway; the Gateway waits for all of them,
    so it is never programmed without its protection."""

    # The EnvoyProxy's name (the Gateway's `infrastructure.parametersRef`), the load balancer's address type and
    # the names of the policies attached to the Gateway.
    envoy_proxy: str
    address_type: str
    policies: list[str]

    def __init__(self, name: str, args: GatewaySecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:security:GatewaySecurity", name, None, opts)
        spec = args.spec
        if sorted(args.api_keys) != sorted(spec.api_key_clients):
            raise ValueError(f"gateway security {name}: the API keys do not match the configured clients")
        child = pulumi.ResourceOptions(parent=self, depends_on=args.crd_installers)
        kube.create(f"{name}-proxy", envoy_proxy(spec), child)
        policy_ready: list[pulumi.Resource] = []
        if args.api_keys:
            # Wrapped again so that a caller's plain value can never reach the state unencrypted.
            keys = {client: pulumi.Output.secret(key) for client, key in args.api_keys.items()}
            policy_ready.append(kube.create(f"{name}-api-keys", api_key_secret(spec, keys), child))
        policies = [body for body in (security_policy(spec), traffic_policy(spec)) if body is not None]
        for body in policies:
            kube.create(
                f"{name}-{body['kind'].lower()}",
                body,
                pulumi.ResourceOptions(parent=self, depends_on=[*args.crd_installers, *policy_ready]),
            )
        self.envoy_proxy = proxy_name(spec)
        self.address_type = spec.address_type
        self.policies = [body["metadata"]["name"] for body in policies]
        self.register_outputs(
            {"envoyProxy": self.envoy_proxy, "addressType": self.address_type, "policies": self.policies}
        )
