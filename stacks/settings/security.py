"""Security settings: how the gateway's load balancer is exposed, who may call it, how fast, what may reach the
model servers, and how workloads are hardened. The API keys themselves are the root secret key `apiKeys`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, SecretStr, field_validator

from components.constants import (
    ADDRESS_TYPE_ANNOTATION,
    ARMS_NAMESPACE,
    GATEWAY_ADDON_NAMESPACE,
    LOAD_BALANCER_ANNOTATION_PREFIX,
)
from components.vocabulary import AddressType, RateLimitUnit, ZoneSpread
from stacks.errors import ConfigProblem
from stacks.settings.addons import manages_addons
from stacks.settings.base import ConfigModel
from stacks.settings.cluster import cluster_mode
from stacks.settings.formats import DNS_LABEL

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

# A Secret data key, which Envoy Gateway reads as the client id of the API key stored under it.
CLIENT_NAME = r"^[-._a-zA-Z0-9]{1,253}$"
HEADER_NAME = r"^[A-Za-z0-9][-A-Za-z0-9]{0,99}$"
PRODUCTION_MIN_PICKERS = 2
# Client name -> API key (the root secret key `apiKeys`); a key shorter than this is guessable.
MIN_API_KEY_LENGTH = 16
ApiKeys = dict[Annotated[str, Field(pattern=CLIENT_NAME)], Annotated[SecretStr, Field(min_length=MIN_API_KEY_LENGTH)]]


class ExposureSettings(ConfigModel):
    address_type: AddressType = Field(
        "intranet",
        description="Address of the gateway's load balancer (ACK annotation `" + ADDRESS_TYPE_ANNOTATION + "`): "
        "`intranet` (reachable from the VPC only, the default) or `internet` (a public IP; needs `apiKeys` or "
        "`allowedCidrs`).",
    )
    load_balancer_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="More ACK load-balancer annotations on the gateway's Service (keys `"
        f"{LOAD_BALANCER_ANNOTATION_PREFIX}*`), e.g. `...-spec`, `...-instance-charge-type`, `...-vswitch-id`, "
        "`...-id` to reuse a CLB. The address type is set by `addressType` only.",
    )
    allowed_cidrs: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Client networks allowed to call the gateway: the Service's `loadBalancerSourceRanges` (a "
        "firewall where ACK's controller applies it) and an Envoy Gateway authorization rule on the client IP "
        "(kept by `externalTrafficPolicy: Local`). Empty, or blocks that together cover every IPv4 or every IPv6 "
        "address: every client that can reach the address.",
    )
    allow_unauthenticated: bool = Field(
        False,
        description="`tier: production` only: serve clients that present no API key from any address (no "
        "`apiKeys`, no `allowedCidrs`). Set it only when something in front authenticates every caller (an API "
        "gateway or mesh that alone reaches this intranet load balancer). Internet exposure still needs a "
        "protection.",
    )

    @field_validator("load_balancer_annotations")
    @classmethod
    def _annotations(cls, annotations: dict[str, str]) -> dict[str, str]:
        for key in annotations:
            if key == ADDRESS_TYPE_ANNOTATION:
                raise ValueError("must not set the address type; use `addressType`")
            if not key.startswith(LOAD_BALANCER_ANNOTATION_PREFIX):
                raise ValueError(f"keys must start with `{LOAD_BALANCER_ANNOTATION_PREFIX}`")
        return annotations

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError("entries must be CIDR blocks without host bits, e.g. `203.0.113.0/24`") from None
        return cidrs

    @property
    def allows_everyone(self) -> bool:
        """No allow-list, or one whose blocks together cover a whole address family: `0.0.0.0/1` plus
        `128.0.0.0/1` admits every IPv4 client just like `0.0.0.0/0`. Both enforcement points OR the blocks: the
        Service's `loadBalancerSourceRanges` (Kubernetes ServiceSpec) and the SecurityPolicy's `clientCIDRs`
        (Envoy Gateway: a principal matches when the client address is in any of them)."""
        networks = [ipaddress.ip_network(c) for c in self.allowed_cidrs]
        if not networks:
            return True
        for version in (4, 6):
            family = [n for n in networks if n.version == version]
            if any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(family)):
                return True
        return False


class NetworkIsolationSettings(ConfigModel):
    enabled: bool = Field(
        True,
        description="NetworkPolicies on the model servers and self-hosted pickers: only the gateway, the endpoint "
        "pickers and the metrics scrapers reach them. Enforced by Terway with NetworkPolicy support on nodes and by "
        "the Poseidon add-on on ACS pods (installed with `compute.mode: acs`); a new Flannel cluster is a config "
        "error unless this is `false`.",
    )
    gateway_namespace: str = Field(
        GATEWAY_ADDON_NAMESPACE,
        pattern=DNS_LABEL,
        description="Namespace of the gateway add-on's Envoy proxies (and of the pickers it manages).",
    )
    gateway_pod_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels of the allowed pods in `gatewayNamespace`; empty: every pod there (the add-on's "
        "proxies and managed pickers, whose labels ACK does not document).",
    )
    scraper_namespaces: list[Annotated[str, Field(pattern=DNS_LABEL)]] | None = Field(
        None,
        max_length=16,
        description="Namespaces whose pods may scrape the model servers' metrics. Default: the Prometheus pods "
        "(by the Prometheus Operator's pod labels) of the self-managed monitoring namespace when it is enabled and "
        f"of `observability.prometheusOperator.namespace` when that is, and every pod of `{ARMS_NAMESPACE}` with "
        "the ARMS add-on.",
    )


class SecuritySettings(ConfigModel):
    exposure: ExposureSettings = Field(
        default_factory=ExposureSettings, description="The gateway's load balancer (an Envoy Gateway EnvoyProxy)."
    )
    api_key_header: str = Field(
        "x-api-key",
        pattern=HEADER_NAME,
        description="Request header that carries the API key when `apiKeys` is set.",
    )
    rate_limit: int | None = Field(
        None,
        ge=1,
        le=4_294_967_295,
        description="Local rate limit on the gateway (Envoy Gateway BackendTrafficPolicy): requests per "
        "`rateLimitUnit`, counted by each Envoy replica; over it clients get HTTP 429. Unset: no limit.",
    )
    rate_limit_unit: RateLimitUnit = Field("Minute", description="Interval of `rateLimit`.")
    tls_certificate_secret: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="Existing `kubernetes.io/tls` Secret in the gateway namespace: both listeners then serve "
        "HTTPS with it (on the same ports). Unset: plain HTTP.",
    )
    network_isolation: NetworkIsolationSettings = Field(
        default_factory=NetworkIsolationSettings, description="Who may reach the model servers' port."
    )
    image_pull_secret: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="Existing docker-registry Secret in the gateway namespace for a private registry (ACR); used "
        "by the model servers, endpoint pickers and the benchmark.",
    )
    zone_spread: ZoneSpread = Field(
        "ScheduleAnyway",
        description="`tier: production` spreads each model server's pods across zones: `ScheduleAnyway` (prefer "
        "other zones) or `DoNotSchedule` (never two more pods in one zone than in another; pods wait when a zone "
        "has no GPU capacity).",
    )


# The labels the Prometheus Operator gives every Prometheus pod it runs (`makeSelectorLabels` in
# pkg/prometheus/server/operator.go, the same in v0.79.2 and v0.93.0): the self-managed stack's and your own.
OPERATOR_PROMETHEUS_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/managed-by": "prometheus-operator",
}


def scrapers(settings: StackSettings) -> list[tuple[str, dict[str, str]]]:
    """Who scrapes the model servers, as (namespace, pod labels; empty: every pod there): the configured
    namespaces, else the chosen mode's Prometheus pods (an Operator's, by its labels; ARMS's agents, whose
    labels ARMS does not document, by namespace)."""
    configured = settings.security.network_isolation.scraper_namespaces
    if configured is not None:
        return [(namespace, {}) for namespace in configured]
    observability = settings.observability
    found = []
    if observability.self_managed.enabled:
        found.append((observability.self_managed.namespace, OPERATOR_PROMETHEUS_POD_LABELS))
    if observability.prometheus_operator.enabled:
        found.append((observability.prometheus_operator.namespace, OPERATOR_PROMETHEUS_POD_LABELS))
    if settings.addons.arms_prometheus.enabled:
        found.append((ARMS_NAMESPACE, {}))
    return found


# ACK: "In elastic container instances of ACK Serverless clusters or ACK Pro clusters, network policies are
# implemented by Poseidon", which needs ACK Virtual Node 2.10.0 or later (ACK docs, "Use network policies" for
# serverless pods). ACK's Flannel plugin does not implement NetworkPolicy at all (only Terway does, with its
# NetworkPolicy option, which new clusters get).
VIRTUAL_NODE_POLICY_MINIMUM = (2, 10, 0)
_ADDON_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def isolation_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    """Isolation is claimed only where something enforces it: Terway on nodes, Poseidon on ACS pods."""
    if not settings.security.network_isolation.enabled:
        return
    enabled = ("security", "networkIsolation", "enabled")
    if cluster_mode(settings) == "new" and settings.cluster.cni == "flannel":
        yield ConfigProblem(
            enabled,
            "ACK's Flannel does not enforce NetworkPolicies, so the model servers would not be isolated; use "
            "`cluster.cni: terway` or set this to `false` (any pod in the cluster can then call them)",
        )
    if settings.compute.mode != "acs":
        return
    addons = settings.addons
    if not manages_addons(settings) and addons.poseidon.version is None:
        yield ConfigProblem(
            ("addons", "poseidon", "version"),
            "must name the Poseidon add-on installed in the cluster: ACS pods enforce NetworkPolicies only with "
            "it and the stack does not install add-ons here; or set `security.networkIsolation.enabled: false`",
        )
    match = _ADDON_VERSION.match(addons.virtual_node.version or "")
    if match and tuple(int(part) for part in match.groups()) < VIRTUAL_NODE_POLICY_MINIMUM:
        yield ConfigProblem(
            ("addons", "virtualNode", "version"),
            "must be v2.10.0 or newer while `security.networkIsolation.enabled`: ACK enforces NetworkPolicies on "
            "ACS pods (Poseidon) from that version",
        )


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from isolation_problems(settings)
    security = settings.security
    exposure = security.exposure
    if exposure.address_type == "internet" and not settings.api_keys and exposure.allows_everyone:
        yield ConfigProblem(
            ("security", "exposure", "addressType"),
            "`internet` publishes the gateway on a public IP; also set `apiKeys` (a secret) or "
            "`security.exposure.allowedCidrs` that do not together cover every address, or use `intranet`",
        )
    benchmark = settings.benchmark
    if benchmark.enabled and (settings.api_keys or security.tls_certificate_secret):
        yield ConfigProblem(
            ("benchmark", "enabled"),
            "the benchmark Job calls the listeners over plain HTTP without an API key; it cannot run while "
            "`apiKeys` or `security.tlsCertificateSecret` is set",
        )
    if not settings.production:
        if exposure.allow_unauthenticated:
            yield ConfigProblem(
                ("security", "exposure", "allowUnauthenticated"),
                "is only read with `tier: production` (other tiers never require client authentication); remove it",
            )
        return
    if not settings.api_keys and exposure.allows_everyone and not exposure.allow_unauthenticated:
        # Production traffic is authenticated by the gateway itself: an intranet address alone still admits every
        # pod, peered VPC and CEN-attached network.
        yield ConfigProblem(
            ("security", "exposure"),
            "`tier: production` needs client authentication: set `apiKeys` (a secret) or "
            "`security.exposure.allowedCidrs` that do not together cover every address; or, when something in "
            "front authenticates every caller, `security.exposure.allowUnauthenticated: true`",
        )
    picker = settings.routing.endpoint_picker
    if picker.mode == "selfHosted" and picker.replicas < PRODUCTION_MIN_PICKERS:
        yield ConfigProblem(
            ("routing", "endpointPicker", "replicas"),
            f"must be at least {PRODUCTION_MIN_PICKERS} with `tier: production`: Envoy fails closed, so while "
            "no picker answers every inference request fails",
        )
    for index, model in enumerate(settings.models):
        if model.max_surge == 0:
            yield ConfigProblem(
                ("models", index, "maxSurge"),
                "must be at least 1 with `tier: production`: a rollout then adds a pod before it removes one "
                "and never drops below the serving capacity",
            )
