"""Inference-aware routing on the `llm-gw` listener: one InferencePool per model server, the objects that name
its models (InferenceModel in v1alpha1/v1alpha2, InferenceObjective in v1) and the HTTPRoute whose backends are
the pools.

The shapes differ per API version (gateway-api-inference-extension releases): v1alpha1 (v0.1.0, the tutorial),
v1alpha2 (v0.2.0-v0.5.1 with InferenceModel) and v1 (v1.0.0+, group `inference.networking.k8s.io`). A pool may
have its own version, so that a migration runs v1alpha2 and v1 pools side by side behind one route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components import kube
from components.inference.gateway import INFERENCE_LISTENER, RouteRule, Timeouts, http_route
from components.vocabulary import Attachment, Criticality, FailureMode, InferenceApiVersion, RoutingStrategy

X_K8S_GROUP = "inference.networking.x-k8s.io"
POOL_GROUPS: dict[InferenceApiVersion, str] = {
    "v1alpha1": X_K8S_GROUP,
    "v1alpha2": X_K8S_GROUP,
    "v1": "inference.networking.k8s.io",
}
# InferenceObjective (v1 companion of the v1 pool) stayed in the experimental group.
OBJECTIVE_API_VERSION = f"{X_K8S_GROUP}/v1alpha2"
INFERENCE_ROUTE_NAME = "llm-route"
# ACK's annotations: attach a pool to a gateway listener without an HTTPRoute, and pick the routing strategy.
ATTACH_TO_ANNOTATION = "inference.networking.x-k8s.io/attach-to"
ROUTING_STRATEGY_ANNOTATION = "inference.networking.x-k8s.io/routing-strategy"
# v1 priority per criticality: >= 0 is never shed; negative is shed first when the pool is saturated (GIE docs).
# Critical keeps the default 0, so it needs no InferenceObjective.
PRIORITIES = {"Critical": 0, "Standard": -1, "Sheddable": -2}
# InferenceModel traffic split: all of a model name's requests go to that name.
FULL_WEIGHT = 100


def pool_api_version(api: InferenceApiVersion) -> str:
    return f"{POOL_GROUPS[api]}/{api}"


class PoolSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    selector: dict[str, str]
    target_port: int
    picker_name: str
    picker_port: int
    # Every model name the pool serves (served name first, then LoRA adapters) and their InferenceModel names.
    model_names: tuple[str, ...]
    objective_name: str
    criticality: Criticality
    # This pool's own API version while a migration runs pools of both versions side by side; None: the routing's.
    api: InferenceApiVersion | None = None


class RoutingSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The API of every pool without its own.
    api: InferenceApiVersion
    namespace: str
    attachment: Attachment
    gateway_name: str
    inference_port: int
    routing_strategy: RoutingStrategy | None = None
    failure_mode: FailureMode | None = None
    timeouts: Timeouts
    pools: list[PoolSpec]
    # The `llm-gw` route's rules (attachment `backendRef`); backends from `pool_backend`.
    rules: list[RouteRule] = []


def pool_backend(api: InferenceApiVersion, pool: str, weight: int | None = None) -> dict[str, Any]:
    """An HTTPRoute backendRef to a pool: its group must be the pool's, and it has no port."""
    backend: dict[str, Any] = {"group": POOL_GROUPS[api], "kind": "InferencePool", "name": pool}
    if weight is not None:
        backend["weight"] = weight
    return backend


def pool_api(spec: RoutingSpec, pool: PoolSpec) -> InferenceApiVersion:
    return pool.api or spec.api


def _picker_ref(spec: RoutingSpec, pool: PoolSpec) -> dict[str, Any]:
    api = pool_api(spec, pool)
    if api == "v1alpha1":
        ref: dict[str, Any] = {"name": pool.picker_name}
    elif api == "v1alpha2":
        ref = {"group": "", "kind": "Service", "name": pool.picker_name, "portNumber": pool.picker_port}
    else:
        ref = {"group": "", "kind": "Service", "name": pool.picker_name, "port": {"number": pool.picker_port}}
    if spec.failure_mode is not None:
        ref["failureMode"] = spec.failure_mode
    return ref


def inference_pool(spec: RoutingSpec, pool: PoolSpec) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if spec.attachment == "annotation":
        annotations[ATTACH_TO_ANNOTATION] = f"name: {spec.gateway_name}\nport: {spec.inference_port}\n"
    if spec.routing_strategy is not None:
        annotations[ROUTING_STRATEGY_ANNOTATION] = spec.routing_strategy
    api = pool_api(spec, pool)
    if api == "v1":
        body = {
            "targetPorts": [{"number": pool.target_port}],
            "selector": {"matchLabels": dict(pool.selector)},
            "endpointPickerRef": _picker_ref(spec, pool),
        }
    else:
        body = {
            "targetPortNumber": pool.target_port,
            "selector": dict(pool.selector),
            "extensionRef": _picker_ref(spec, pool),
        }
    return {
        "apiVersion": pool_api_version(api),
        "kind": "InferencePool",
        "metadata": kube.metadata(pool.name, spec.namespace, annotations=annotations),
        "spec": body,
    }


def inference_model_name(pool: PoolSpec, model_name: str) -> str:
    """The served name's InferenceModel is the objective name; each adapter's adds its index."""
    index = pool.model_names.index(model_name)
    return pool.objective_name if index == 0 else f"{pool.objective_name}-adapter-{index}"


def inference_models(spec: RoutingSpec, pool: PoolSpec) -> list[dict[str, Any]]:
    """v1alpha1/v1alpha2: one InferenceModel per model name the pool serves."""
    api = pool_api(spec, pool)
    return [
        {
            "apiVersion": pool_api_version(api),
            "kind": "InferenceModel",
            "metadata": kube.metadata(inference_model_name(pool, model_name), spec.namespace),
            "spec": {
                "modelName": model_name,
                "criticality": pool.criticality,
                "poolRef": {"group": POOL_GROUPS[api], "kind": "InferencePool", "name": pool.name},
                "targetModels": [{"name": model_name, "weight": FULL_WEIGHT}],
            },
        }
        for model_name in pool.model_names
    ]


def inference_objective(spec: RoutingSpec, pool: PoolSpec) -> dict[str, Any] | None:
    """v1: an InferenceObjective only when the pool's priority is not the default 0."""
    priority = PRIORITIES[pool.criticality]
    if priority == 0:
        return None
    return {
        "apiVersion": OBJECTIVE_API_VERSION,
        "kind": "InferenceObjective",
        "metadata": kube.metadata(pool.objective_name, spec.namespace),
        "spec": {
            "poolRef": {"group": POOL_GROUPS[pool_api(spec, pool)], "kind": "InferencePool", "name": pool.name},
            "priority": priority,
        },
    }


def inference_route(spec: RoutingSpec) -> dict[str, Any] | None:
    if spec.attachment != "backendRef":
        return None
    return http_route(
        INFERENCE_ROUTE_NAME,
        spec.namespace,
        gateway_name=spec.gateway_name,
        listener=INFERENCE_LISTENER,
        rules=spec.rules,
        timeouts=spec.timeouts,
    )


def routing_objects(spec: RoutingSpec) -> dict[str, list[dict[str, Any]]]:
    """Per pool, the pool and its model objects."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for pool in spec.pools:
        named = inference_models(spec, pool) if pool_api(spec, pool) != "v1" else [inference_objective(spec, pool)]
        objects[pool.name] = [inference_pool(spec, pool), *(body for body in named if body is not None)]
    return objects


@dataclass(frozen=True)
class InferenceRoutingArgs:
    spec: RoutingSpec
    # What installs the Inference Extension and Gateway API CRDs.
    crd_installers: list[pulumi.Resource] = field(default_factory=list)
    # The Gateway the route attaches to.
    gateway: pulumi.Resource | None = None


class InferenceRouting(pulumi.ComponentResource):
    # The InferencePools' names.
    pools: list[str]

    def __init__(self, name: str, args: InferenceRoutingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:InferenceRouting", name, None, opts)
        spec = args.spec
        installed = pulumi.ResourceOptions(parent=self, depends_on=args.crd_installers)
        pools: dict[str, pulumi.Resource] = {}
        for pool_name, (pool, *named) in routing_objects(spec).items():
            pools[pool_name] = kube.create(f"{name}-{pool_name}-pool", pool, installed)
            for body in named:
                kube.create(
                    f"{name}-{body['metadata']['name']}-{body['kind'].lower()}",
                    body,
                    pulumi.ResourceOptions(parent=self, depends_on=[*args.crd_installers, pools[pool_name]]),
                )
        route = inference_route(spec)
        if route is not None:
            gateway = [args.gateway] if args.gateway else []
            kube.create(
                f"{name}-route-{INFERENCE_ROUTE_NAME}",
                route,
                pulumi.ResourceOptions(parent=self, depends_on=[*args.crd_installers, *gateway, *pools.values()]),
            )
        self.pools = list(pools)
        self.register_outputs({"pools": self.pools})
