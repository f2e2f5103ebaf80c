"""The Gateway: its GatewayClass, the Gateway with the `http` and `llm-gw` listeners, and the plain
HTTPRoute `backend` that spreads requests on `http` evenly over the model servers' Services.

The route builders are shared with the inference routing component, whose HTTPRoute on `llm-gw` has the same
rule shape with InferencePool backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components import kube

GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = f"{GATEWAY_API_GROUP}/v1"
ENVOY_GATEWAY_GROUP = "gateway.envoyproxy.io"
HTTP_LISTENER = "http"
INFERENCE_LISTENER = "llm-gw"
PLAIN_ROUTE_NAME = "backend"
# The add-on parses the OpenAI request body and sets this header, so routes can match on the model name.
MODEL_NAME_HEADER = "X-Gateway-Model-Name"


class RouteRule(BaseModel):
    """One HTTPRoute rule: requests for `model_names` (every request when empty) go to `backends`."""

    model_config = ConfigDict(frozen=True)

    model_names: tuple[str, ...] = ()
    backends: tuple[dict[str, Any], ...]


class Timeouts(BaseModel):
    model_config = ConfigDict(frozen=True)

    request: str
    backend_request: str


def service_backend(name: str, port: int, weight: int | None = None) -> dict[str, Any]:
    backend: dict[str, Any] = {"group": "", "kind": "Service", "name": name, "port": port}
    if weight is not None:
        backend["weight"] = weight
    return backend


def _matches(model_names: tuple[str, ...]) -> list[dict[str, Any]]:
    prefix = {"type": "PathPrefix", "value": "/"}
    if not model_names:
        return [{"path": prefix}]
    return [
        {"path": prefix, "headers": [{"type": "Exact", "name": MODEL_NAME_HEADER, "value": name}]}
        for name in model_names
    ]


def http_route(
    name: str, namespace: str, *, gateway_name: str, listener: str, rules: list[RouteRule], timeouts: Timeouts
) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": kube.metadata(name, namespace),
        "spec": {
            "parentRefs": [
                {"group": GATEWAY_API_GROUP, "kind": "Gateway", "name": gateway_name, "sectionName": listener}
            ],
            "rules": [
                {
                    "matches": _matches(rule.model_names),
                    "backendRefs": [dict(backend) for backend in rule.backends],
                    "timeouts": {"request": timeouts.request, "backendRequest": timeouts.backend_request},
                }
                for rule in rules
            ],
        },
    }


class GatewaySpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    class_name: str
    create_class: bool
    controller_name: str
    http_port: int
    inference_port: int
    timeouts: Timeouts
    plain_rules: list[RouteRule]
    # The Envoy Gateway EnvoyProxy (same namespace) that shapes this Gateway's proxies and load balancer.
    proxy_config: str | None = None
    # An existing TLS Secret in the namespace: every listener then terminates HTTPS with it.
    tls_certificate_secret: str | None = None


def gateway_class(spec: GatewaySpec) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "GatewayClass",
        "metadata": kube.metadata(spec.class_name, None),
        "spec": {"controllerName": spec.controller_name},
    }


def listeners(spec: GatewaySpec) -> dict[str, int]:
    return {HTTP_LISTENER: spec.http_port, INFERENCE_LISTENER: spec.inference_port}


def _listener(spec: GatewaySpec, name: str, port: int) -> dict[str, Any]:
    if spec.tls_certificate_secret is None:
        return {"name": name, "protocol": "HTTP", "port": port}
    certificate = {"group": "", "kind": "Secret", "name": spec.tls_certificate_secret}
    return {
        "name": name,
        "protocol": "HTTPS",
        "port": port,
        "tls": {"mode": "Terminate", "certificateRefs": [certificate]},
    }


def gateway(spec: GatewaySpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "gatewayClassName": spec.class_name,
        "listeners": [_listener(spec, listener, port) for listener, port in listeners(spec).items()],
    }
    if spec.proxy_config is not None:
        # On the Gateway rather than the GatewayClass: it works with a shared class the stack does not own
        # (ACK's `ack-gateway`), and it replaces, for this Gateway only, any EnvoyProxy the class names.
        body["infrastructure"] = {
            "parametersRef": {"group": ENVOY_GATEWAY_GROUP, "kind": "EnvoyProxy", "name": spec.proxy_config}
        }
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "Gateway",
        "metadata": kube.metadata(spec.name, spec.namespace),
        "spec": body,
    }


def plain_route(spec: GatewaySpec) -> dict[str, Any]:
    return http_route(
        PLAIN_ROUTE_NAME,
        spec.namespace,
        gateway_name=spec.name,
        listener=HTTP_LISTENER,
        rules=spec.plain_rules,
        timeouts=spec.timeouts,
    )


@dataclass(frozen=True)
class GatewayArgs:
    spec: GatewaySpec
    # What installs the Gateway API CRDs (the gateway add-ons).
    crd_installers: list[pulumi.Resource] = field(default_factory=list)
    # The Services the plain route sends to: the route waits for them.
    backends: list[pulumi.Resource] = field(default_factory=list)
    # What protects the Gateway (its EnvoyProxy and policies): the Gateway waits for it.
    protection: list[pulumi.Resource] = field(default_factory=list)


class Gateway(pulumi.ComponentResource):
    # The Gateway object: the inference route attaches to it.
    gateway: pulumi.CustomResource
    # Listener name -> port.
    listeners: dict[str, int]

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:Gateway", name, None, opts)
        spec = args.spec
        installers = list(args.crd_installers)
        if spec.create_class:
            installers.append(
                kube.create(
                    f"{name}-class", gateway_class(spec), pulumi.ResourceOptions(parent=self, depends_on=installers)
                )
            )
        self.gateway = kube.create(
            f"{name}-gateway",
            gateway(spec),
            pulumi.ResourceOptions(parent=self, depends_on=[*installers, *args.protection]),
        )
        kube.create(
            f"{name}-route-{PLAIN_ROUTE_NAME}",
            plain_route(spec),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.crd_installers, self.gateway, *args.backends]),
        )
        self.listeners = listeners(spec)
        self.register_outputs({"gateway": self.gateway, "listeners": self.listeners})
