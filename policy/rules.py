"""CrossGuard rules for ack-inference stacks, importable without starting a policy pack.

Every rule reads resources as the engine hands them over: Pulumi type tokens, camelCase properties, numbers as
floats, mappings and sequences wrapped in proxies that raise on values unknown during preview. The pack runs in
its own virtualenv, so this module needs nothing but `pulumi` and `pulumi-policy`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PROJECT = "ack-inference"

SERVICE = "kubernetes:core/v1:Service"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
GATEWAY_CLASS = "kubernetes:gateway.networking.k8s.io/v1:GatewayClass"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"
SECURITY_POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy"
CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
VPC = "alicloud:vpc/network:Network"

# Pod-template path of each workload type; a Pod is its own template.
POD_TEMPLATES: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": (),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

GPU_RESOURCE = "nvidia.com/gpu"
# What puts a pod on a GPU: the GPU taint's toleration, ACK's GPU node labels, or the ACS GPU compute class.
GPU_TOLERATION_KEYS = frozenset({GPU_RESOURCE})
GPU_NODE_LABELS = frozenset({"aliyun.accelerator/nvidia_name", "aliyun.accelerator/nvidia_count"})
GPU_POD_LABELS = {"alibabacloud.com/compute-class": "gpu"}

# Alibaba Cloud load balancers face the internet unless the Service asks for an intranet address.
ADDRESS_TYPE = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"
ACL_STATUS = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-acl-status"
ACL_TYPE = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-acl-type"
# SecurityPolicy sections that authenticate a client.
AUTHENTICATION = ("apiKeyAuth", "basicAuth", "jwt", "oidc", "extAuth")


def get(value: Any, *path: str, default: Any = None) -> Any:
    """The value at `path`, or `default` where a key is missing or a step is not a mapping."""
    for key in path:
        if not (isinstance(value, Mapping) and key in value):
            return default
        value = value[key]
    return value


def elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def quantity(value: Any) -> float:
    """A whole-unit resource quantity (`"1"`, `1.0`); anything else counts as none."""
    try:
        return float(str(value))
    except ValueError:
        return 0.0


# --- pinned images ------------------------------------------------------------------------------------------------


def unpinned(image: str) -> bool:
    """An image without a digest whose tag is missing or `latest` (a registry port is not a tag)."""
    if "@" in image:
        return False
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return tag in ("", "latest")


def containers(props: Mapping[str, Any], template_path: tuple[str, ...]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    spec = get(props, *template_path, "spec", default={})
    for list_name in CONTAINER_LISTS:
        for container in elements(get(spec, list_name)):
            yield list_name, mapping(container)


def _pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    template_path = POD_TEMPLATES.get(args.resource_type)
    if template_path is None:
        return
    for list_name, container in containers(args.props, template_path):
        image = container.get("image")
        if isinstance(image, str) and unpinned(image):
            report_violation(
                f"{list_name} `{container.get('name')}` uses image `{image}`, which is not pinned; "
                "use an explicit version tag (not `latest`) or a digest",
                None,
            )


pinned_images = ResourceValidationPolicy(
    name="pinned-images",
    description="Every container image names an explicit version tag (not `latest`) or a digest.",
    validate=_pinned_images,
)


# --- GPU resources on model servers -------------------------------------------------------------------------------


def placed_on_gpu(template: Mapping[str, Any]) -> bool:
    spec = mapping(template.get("spec"))
    if any(get(t, "key") in GPU_TOLERATION_KEYS for t in elements(spec.get("tolerations"))):
        return True
    if GPU_NODE_LABELS.intersection(mapping(spec.get("nodeSelector"))):
        return True
    labels = mapping(get(template, "metadata", "labels"))
    return any(labels.get(key) == value for key, value in GPU_POD_LABELS.items())


def _gpu_resources(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    template_path = POD_TEMPLATES.get(args.resource_type)
    if template_path is None or not placed_on_gpu(mapping(get(args.props, *template_path, default={}))):
        return
    asking = []
    for list_name, container in containers(args.props, template_path):
        if list_name != "containers":
            continue
        resources = mapping(container.get("resources"))
        limit = quantity(get(resources, "limits", GPU_RESOURCE, default=0))
        request = quantity(get(resources, "requests", GPU_RESOURCE, default=0))
        if limit > 0 or request > 0:
            asking.append(container.get("name"))
        if (limit > 0 or request > 0) and limit != request:
            report_violation(
                f"container `{container.get('name')}` must request and limit the same `{GPU_RESOURCE}` count",
                None,
            )
    if not asking:
        report_violation(
            f"the pods are placed on GPU capacity but no container requests and limits `{GPU_RESOURCE}`; "
            "without it the GPU is not allocated to the model server",
            None,
        )


gpu_resources = ResourceValidationPolicy(
    name="gpu-resources-on-model-servers",
    description=f"Workloads placed on GPU nodes or ACS GPU request and limit `{GPU_RESOURCE}`.",
    validate=_gpu_resources,
)


# --- no internet exposure without authentication ------------------------------------------------------------------


def _namespace(props: Mapping[str, Any]) -> str:
    return get(props, "metadata", "namespace", default="default") or "default"


def _name(props: Mapping[str, Any]) -> str | None:
    return get(props, "metadata", "name")


def internet_facing(service_type: Any, annotations: Mapping[str, Any]) -> bool:
    """A LoadBalancer Service gets a public address on ACK unless its annotations ask for an intranet one."""
    if service_type not in (None, "LoadBalancer"):
        return False
    return str(annotations.get(ADDRESS_TYPE, "internet")).lower() != "intranet"


def restricts(cidrs: Iterable[Any]) -> bool:
    """A non-empty list of blocks that together leave some address out: `0.0.0.0/1` plus `128.0.0.0/1` is as
    open as `0.0.0.0/0` (both the Service's source ranges and Envoy's `clientCIDRs` admit a client in any block).
    An unparsable entry restricts nothing we can vouch for."""
    try:
        networks = [ipaddress.ip_network(str(c)) for c in cidrs]
    except ValueError:
        return False
    for version in (4, 6):
        family = [n for n in networks if n.version == version]
        if any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(family)):
            return False
    return bool(networks)


def source_restricted(source_ranges: Any, annotations: Mapping[str, Any]) -> bool:
    """The load balancer only admits listed sources: `loadBalancerSourceRanges` or a whitelist ACL."""
    if restricts(elements(source_ranges)):
        return True
    acl_on = str(annotations.get(ACL_STATUS, "")).lower() == "on"
    return acl_on and str(annotations.get(ACL_TYPE, "")).lower() == "white"


def _service_violation(props: Mapping[str, Any]) -> str | None:
    spec = mapping(props.get("spec"))
    annotations = mapping(get(props, "metadata", "annotations"))
    if spec.get("type") != "LoadBalancer" or not internet_facing("LoadBalancer", annotations):
        return None
    if source_restricted(spec.get("loadBalancerSourceRanges"), annotations):
        return None
    return (
        f"Service {_namespace(props)}/{_name(props)} is an internet-facing load balancer open to every source; "
        f"set `{ADDRESS_TYPE}: intranet`, `loadBalancerSourceRanges`, or expose it through the authenticated gateway"
    )


def _authenticates(policy: Mapping[str, Any]) -> bool:
    spec = mapping(policy.get("spec"))
    if any(spec.get(section) for section in AUTHENTICATION):
        return True
    authorization = mapping(spec.get("authorization"))
    # A source allow-list: deny by default, allow listed client CIDRs.
    return get(authorization, "defaultAction") == "Deny" and any(
        get(rule, "action") == "Allow" and restricts(elements(get(rule, "principal", "clientCIDRs")))
        for rule in elements(authorization.get("rules"))
    )


def _targets(policy: Mapping[str, Any], target: Mapping[str, Any], kind: str) -> Iterator[str | None]:
    """Section names (None = the whole object) of `target` that a SecurityPolicy attaches to."""
    spec = mapping(policy.get("spec"))
    if _namespace(policy) != _namespace(target):
        return
    refs = [*elements(spec.get("targetRefs")), *([spec["targetRef"]] if spec.get("targetRef") else [])]
    for ref in refs:
        if get(ref, "kind") == kind and get(ref, "name") == _name(target):
            yield get(ref, "sectionName")
    labels = mapping(get(target, "metadata", "labels"))
    for selector in elements(spec.get("targetSelectors")):
        wanted = mapping(get(selector, "matchLabels"))
        if get(selector, "kind") == kind and wanted and all(labels.get(k) == v for k, v in wanted.items()):
            yield None


def _covered(target: Mapping[str, Any], kind: str, section: str | None, policies: list[Mapping[str, Any]]) -> bool:
    return any(s is None or s == section for p in policies for s in _targets(p, target, kind))


def _envoy_service(
    gateway: Mapping[str, Any], classes: Mapping[str, Mapping[str, Any]], proxies: list[Mapping[str, Any]]
) -> Mapping[str, Any]:
    """The Service settings of the EnvoyProxy the Gateway's own or its class's parametersRef names."""
    ref = get(gateway, "spec", "infrastructure", "parametersRef")
    namespace = _namespace(gateway)
    if not ref:
        gateway_class = classes.get(get(gateway, "spec", "gatewayClassName"), {})
        ref = get(gateway_class, "spec", "parametersRef")
        namespace = get(ref, "namespace")
    if get(ref, "kind") != "EnvoyProxy":
        return {}
    for proxy in proxies:
        if _name(proxy) == get(ref, "name") and _namespace(proxy) == (namespace or "default"):
            return mapping(get(proxy, "spec", "provider", "kubernetes", "envoyService"))
    return {}


def _gateway_violations(
    gateway: Mapping[str, Any],
    classes: Mapping[str, Mapping[str, Any]],
    proxies: list[Mapping[str, Any]],
    routes: list[Mapping[str, Any]],
    policies: list[Mapping[str, Any]],
) -> Iterator[str]:
    envoy_service = _envoy_service(gateway, classes, proxies)
    annotations = mapping(envoy_service.get("annotations"))
    if not internet_facing(envoy_service.get("type"), annotations):
        return
    if source_restricted(envoy_service.get("loadBalancerSourceRanges"), annotations):
        return
    for listener in elements(get(gateway, "spec", "listeners")):
        section = get(listener, "name")
        if _covered(gateway, "Gateway", section, policies):
            continue
        attached = [route for route in routes if _attaches(route, gateway, section)]
        if attached and all(_covered(route, "HTTPRoute", None, policies) for route in attached):
            continue
        yield (
            f"Gateway {_namespace(gateway)}/{_name(gateway)} listener `{section}` faces the internet without "
            "authentication: no SecurityPolicy with authentication or a client-CIDR allow-list covers it, and its "
            f"EnvoyProxy neither sets `{ADDRESS_TYPE}: intranet` nor restricts `loadBalancerSourceRanges`"
        )


def _attaches(route: Mapping[str, Any], gateway: Mapping[str, Any], section: Any) -> bool:
    for parent in elements(get(route, "spec", "parentRefs")):
        same_gateway = get(parent, "kind", default="Gateway") == "Gateway" and get(parent, "name") == _name(gateway)
        namespace = get(parent, "namespace") or _namespace(route)
        if same_gateway and namespace == _namespace(gateway) and get(parent, "sectionName") in (None, section):
            return True
    return False


def _internet_exposure(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    by_type: dict[str, list[Any]] = {}
    for resource in args.resources:
        by_type.setdefault(resource.resource_type, []).append(resource)

    def props_of(type_token: str) -> list[Mapping[str, Any]]:
        return [mapping(r.props) for r in by_type.get(type_token, [])]

    for service in by_type.get(SERVICE, []):
        message = _service_violation(mapping(service.props))
        if message:
            report_violation(message, service.urn)
    classes = {_name(c): c for c in props_of(GATEWAY_CLASS)}
    proxies, routes, policies = props_of(ENVOY_PROXY), props_of(HTTP_ROUTE), props_of(SECURITY_POLICY)
    authenticating = [p for p in policies if _authenticates(p)]
    for gateway in by_type.get(GATEWAY, []):
        for message in _gateway_violations(mapping(gateway.props), classes, proxies, routes, authenticating):
            report_violation(message, gateway.urn)


internet_exposure = StackValidationPolicy(
    name="no-internet-exposure-without-auth",
    description="Internet-facing load balancers (Services, Envoy Gateway proxies) require authentication or a "
    "source allow-list.",
    validate=_internet_exposure,
)


# --- production protections ---------------------------------------------------------------------------------------


def stack_tier() -> str:
    """The stack's `ack-inference:tier`, which the CLI hands to the pack with the rest of the stack config."""
    return pulumi.Config(PROJECT).get("tier") or "development"


def _protection_violations(resources: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for resource in resources:
        if resource.resource_type == CLUSTER:
            if not resource.opts.protect:
                yield resource.urn, f"cluster `{resource.name}` must be protected (`protect=True`)"
            if get(resource.props, "deletionProtection") is not True:
                yield resource.urn, f"cluster `{resource.name}` must have cloud deletion protection on"
        elif resource.resource_type == VPC and not resource.opts.protect:
            yield resource.urn, f"VPC `{resource.name}` must be protected (`protect=True`)"


def _production_protections(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if stack_tier() != "production":
        return
    for urn, message in _protection_violations(args.resources):
        report_violation(f"{message} with `{PROJECT}:tier: production`", urn)


production_protections = StackValidationPolicy(
    name="production-protections",
    description="With `tier: production` the ACK cluster has Pulumi protect and deletion protection and the VPC "
    "has Pulumi protect.",
    validate=_production_protections,
)


POLICIES = [internet_exposure, pinned_images, gpu_resources, production_protections]
ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY
