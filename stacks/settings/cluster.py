"""The ACK cluster (`cluster`): how the stack gets one (`mode`), and the shape of a cluster it creates.

Three ways to get a cluster (`cluster.mode`): create one (`new`), use an ACK cluster by id (`existing`), or
use any conformant cluster through the root `kubeconfig` secret (`kubeconfig`).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from components.vocabulary import ApiEndpoint, ClusterMode, ClusterSpec, Cni, ControlPlaneComponent
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.formats import Cidr

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

# The gateway add-on (Gateway with Inference Extension) needs Kubernetes 1.30 or later.
KUBERNETES_VERSION_FLOOR = (1, 30)


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


class ControlPlaneLogsSettings(ConfigModel):
    components: list[ControlPlaneComponent] = Field(
        default_factory=lambda: ["apiserver", "kcm", "scheduler"],
        min_length=1,
        description="Control-plane components whose logs go to Simple Log Service.",
    )
    ttl_days: int = Field(30, ge=1, le=3650, description="Days the logs are kept.")
    project: str | None = Field(None, description="Existing SLS project; default: ACK creates `k8s-log-<cluster id>`.")


class ClusterSettings(ConfigModel):
    mode: ClusterMode | None = Field(
        None,
        description="`new` creates network, ACK cluster and node pools; `existing` uses the ACK cluster `id` "
        "(no network, cluster or pools); `kubeconfig` uses the root `kubeconfig` secret (no Alibaba Cloud "
        "resource at all). Default: `kubeconfig` when the `kubeconfig` secret is set, `existing` when `id` is "
        "set, otherwise `new`.",
    )
    id: str | None = Field(None, pattern=r"^c[0-9a-z]{8,}$", description="ACK cluster id (`cluster.mode: existing`).")
    name: str | None = Field(
        None,
        pattern=r"^[a-zA-Z0-9][-a-zA-Z0-9_]{0,62}$",
        description="Cluster name; default `ack-inference-<stack>`. With `kubeconfig` it only identifies the "
        "cluster to Pulumi (changing it replaces every Kubernetes object).",
    )
    spec: ClusterSpec = Field(
        "ack.pro.small", description="ACK cluster specification (Pro is needed for managed node pool features)."
    )
    kubernetes_version: str | None = Field(
        None,
        pattern=r"^1\.\d+\.\d+(-aliyun\.\d+)?$",
        description="Kubernetes version, e.g. `1.33.3-aliyun.1`, at least 1.30. Default: the newest ACK offers "
        "at creation. Raise it to upgrade; ACK cannot downgrade.",
    )
    cni: Cni = Field(
        "terway",
        description="Container network: `terway` (pods get VPC addresses from pod vSwitches) or `flannel` "
        "(pods get addresses from `podCidr`).",
    )
    pod_cidr: Cidr | None = Field(
        None, description="Flannel only: pod CIDR (default 172.20.0.0/16); must not overlap the VPC."
    )
    service_cidr: Cidr = Field(
        IPv4Network("172.21.0.0/20"),
        description="Service CIDR (/16 to /24); must not overlap the VPC or the pod CIDR. Cannot change later.",
    )
    api_endpoint: ApiEndpoint = Field(
        "public",
        description="API server endpoint. `public` adds an internet-facing load balancer: Pulumi reaches the "
        "cluster through it (the provider only fetches the public kubeconfig). `private` is refused for a new "
        "cluster for that reason; a private cluster is deployed to with `cluster.mode: kubeconfig`. Fixed at "
        "creation.",
    )
    control_plane_logs: ControlPlaneLogsSettings | None = Field(
        None, description="Collect control-plane logs into Simple Log Service; omit to turn off."
    )
    rrsa: bool = Field(True, description="RAM Roles for Service Accounts (OIDC). Once on, ACK cannot turn it off.")
    kubeconfig_ttl_minutes: int | None = Field(
        None,
        ge=15,
        le=4320,
        description="Lifetime of the kubeconfig Pulumi fetches. Default: ACK's long-lived credential. A short "
        "one is renewed on every run, but `pulumi destroy` needs a still-valid one (run `pulumi up` first).",
    )

    @field_validator("kubernetes_version")
    @classmethod
    def _version_floor(cls, version: str | None) -> str | None:
        if version is not None and _version_tuple(version) < KUBERNETES_VERSION_FLOOR:
            floor = ".".join(map(str, KUBERNETES_VERSION_FLOOR))
            raise ValueError(f"must be {floor} or later (the Gateway with Inference Extension add-on needs it)")
        return version

    @field_validator("service_cidr")
    @classmethod
    def _service_cidr_size(cls, cidr: IPv4Network) -> IPv4Network:
        if not 16 <= cidr.prefixlen <= 24:
            raise ValueError("must be a /16 to /24 block")
        return cidr


DEFAULT_POD_CIDR = IPv4Network("172.20.0.0/16")
# Cluster settings that only shape a cluster this stack creates.
NEW_CLUSTER_FIELDS = {
    "spec",
    "kubernetes_version",
    "cni",
    "pod_cidr",
    "service_cidr",
    "api_endpoint",
    "control_plane_logs",
    "rrsa",
}


def cluster_mode(settings: StackSettings) -> ClusterMode:
    if settings.cluster.mode is not None:
        return settings.cluster.mode
    if settings.kubeconfig is not None:
        return "kubeconfig"
    return "existing" if settings.cluster.id is not None else "new"


def effective_pod_cidr(settings: StackSettings) -> IPv4Network | None:
    cluster = settings.cluster
    if cluster.cni != "flannel":
        return None
    return cluster.pod_cidr or DEFAULT_POD_CIDR


def cidr_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    network, cluster = settings.network, settings.cluster
    service = cluster.service_cidr
    pod = effective_pod_cidr(settings)
    if pod is not None and pod.overlaps(service):
        yield ConfigProblem(("cluster", "serviceCidr"), "overlaps the pod CIDR; pick disjoint blocks")
    if network.vpc_id is not None:
        return  # an existing VPC's CIDR is not known here; ACK checks it at creation
    vpc = network.cidr
    if vpc.overlaps(service):
        yield ConfigProblem(("cluster", "serviceCidr"), "overlaps the VPC CIDR (`network.cidr`)")
    if pod is not None and pod.overlaps(vpc):
        key = "podCidr" if cluster.pod_cidr is not None else "cni"
        yield ConfigProblem(("cluster", key), "the Flannel pod CIDR overlaps the VPC CIDR (`network.cidr`)")
    blocks: list[tuple[tuple[str | int, ...], IPv4Network]] = []
    for index, vswitch in enumerate(network.vswitches):
        blocks.append((("network", "vswitches", index, "cidr"), vswitch.cidr))
        if vswitch.pod_cidr is not None:
            blocks.append((("network", "vswitches", index, "podCidr"), vswitch.pod_cidr))
    for position, (loc, block) in enumerate(blocks):
        if not block.subnet_of(vpc):
            yield ConfigProblem(loc, "is not inside the VPC CIDR (`network.cidr`)")
        if any(block.overlaps(other) for _, other in blocks[:position]):
            yield ConfigProblem(loc, "overlaps another vSwitch CIDR")
