"""Cloud foundation settings: network, ACK cluster, node pools, compute placement, add-ons.

Three ways to get a cluster (`cluster.mode`): create one (`new`), use an ACK cluster by id (`existing`), or
use any conformant cluster through the root `kubeconfig` secret (`kubeconfig`). GPU capacity comes from a
GPU node pool or from ACS serverless GPU (`compute.mode`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import BeforeValidator, Field, field_validator, model_validator

from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

if TYPE_CHECKING:
    from stacks.settings import StackSettings
    from stacks.settings.inference import ModelSettings

# The gateway add-on (Gateway with Inference Extension) needs Kubernetes 1.30 or later.
KUBERNETES_VERSION_FLOOR = (1, 30)


def _cidr_text(value: object) -> object:
    # IPv4Network also accepts integers (and booleans), which are never what a stack file means by a CIDR.
    if isinstance(value, str | IPv4Network):
        return value
    raise ValueError("must be a CIDR in text form, such as `10.0.0.0/16`")


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr_text)]


class Gpu(NamedTuple):
    model: str
    memory_gib: int


# ECS GPU instance families by the GPU they carry (ECS naming: v = V100 16 GB, e = V100 32 GB; ACK's inference
# tutorial: gn6i = T4 16 GB is too small, gn7i = A10 24 GB). A family not listed here needs `gpuMemoryGib`.
GPU_FAMILIES: dict[str, Gpu] = {
    "gn6i": Gpu("NVIDIA T4", 16),
    "gn6v": Gpu("NVIDIA V100", 16),
    "gn6e": Gpu("NVIDIA V100", 32),
    "gn7i": Gpu("NVIDIA A10", 24),
    "gn8is": Gpu("NVIDIA L20", 48),
}
# ACS GPU model series (pod label `alibabacloud.com/gpu-model-series`). ACK recommends GN8IS for this sample.
ACS_GPU_SERIES: dict[str, Gpu] = {"GN8IS": Gpu("NVIDIA L20", 48)}

# ecs.<family>[-c<vCPUs per GPU>g1 | -<GPUs>x].<n>xlarge, where n xlarge = 4n vCPUs.
_INSTANCE_TYPE = re.compile(
    r"^ecs\.(?P<family>[a-z]+[0-9]+[a-z]*)(?:-c(?P<vcpus_per_gpu>\d+)g1|-(?P<gpus>\d+)x)?\.(?P<size>\d*)xlarge$"
)


def gpu_family(instance_type: str) -> Gpu | None:
    match = _INSTANCE_TYPE.match(instance_type)
    return GPU_FAMILIES.get(match["family"]) if match else None


def gpus_in(instance_type: str) -> int | None:
    """GPUs per instance, read from the type name; None when the name does not say."""
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None:
        return None
    if match["gpus"]:
        return int(match["gpus"])
    if match["vcpus_per_gpu"]:
        vcpus = 4 * int(match["size"] or 1)
        per_gpu = int(match["vcpus_per_gpu"])
        return vcpus // per_gpu if vcpus % per_gpu == 0 else None
    return 1


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


class VSwitchSettings(ConfigModel):
    zone_id: str = Field(
        pattern=r"^[a-z]{2}-[a-z0-9-]+$",
        description="Zone of this vSwitch, e.g. `cn-hangzhou-i`. Pick zones that offer the GPU instance types.",
    )
    cidr: Cidr = Field(description="CIDR of the node vSwitch in this zone (inside `network.cidr`).")
    pod_cidr: Cidr | None = Field(
        None,
        description="Terway only: CIDR of a dedicated pod vSwitch in this zone (inside `network.cidr`). Without "
        "it, Terway gives pods addresses from the node vSwitch.",
    )


class NetworkSettings(ConfigModel):
    cidr: Cidr = Field(IPv4Network("10.0.0.0/16"), description="CIDR of the new VPC.")
    vswitches: list[VSwitchSettings] = Field(
        default_factory=lambda: [
            VSwitchSettings(zone_id="cn-hangzhou-i", cidr=IPv4Network("10.0.0.0/20")),
            VSwitchSettings(zone_id="cn-hangzhou-j", cidr=IPv4Network("10.0.16.0/20")),
        ],
        max_length=6,
        description="vSwitches of the new VPC, one per zone, at least two zones. The default suits region "
        "`cn-hangzhou`; set your own zones for any other region.",
    )
    vpc_id: str | None = Field(
        None, pattern=r"^vpc-[a-z0-9]+$", description="Existing VPC id; then `vswitchIds` is required."
    )
    vswitch_ids: list[str] = Field(
        default_factory=list,
        max_length=6,
        description="Existing node vSwitch ids (with `vpcId`), ideally in two or more zones.",
    )
    pod_vswitch_ids: list[str] = Field(
        default_factory=list, max_length=6, description="Existing pod vSwitch ids for Terway (with `vpcId`)."
    )
    nat_gateway: bool | None = Field(
        None,
        description="Create a NAT gateway with an EIP and SNAT so nodes can pull public images. Default: on for "
        "a new VPC. Turn it off when images come from a VPC registry endpoint (ACR). Not available with `vpcId` "
        "(an existing VPC keeps its own egress).",
    )
    egress_bandwidth_mbps: int = Field(
        100, ge=1, le=500, description="Bandwidth cap of the NAT gateway's EIP (pay by traffic), in Mbit/s."
    )

    @field_validator("vswitch_ids", "pod_vswitch_ids")
    @classmethod
    def _vswitch_ids(cls, ids: list[str]) -> list[str]:
        if any(not re.fullmatch(r"vsw-[a-z0-9]+", i) for i in ids):
            raise ValueError("every entry must be a vSwitch id (`vsw-...`)")
        return ids


class ControlPlaneLogsSettings(ConfigModel):
    components: list[Literal["apiserver", "kcm", "scheduler", "ccm", "controlplane-events"]] = Field(
        default_factory=lambda: ["apiserver", "kcm", "scheduler"],
        min_length=1,
        description="Control-plane components whose logs go to Simple Log Service.",
    )
    ttl_days: int = Field(30, ge=1, le=3650, description="Days the logs are kept.")
    project: str | None = Field(None, description="Existing SLS project; default: ACK creates `k8s-log-<cluster id>`.")


class ClusterSettings(ConfigModel):
    mode: Literal["new", "existing", "kubeconfig"] | None = Field(
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
    spec: Literal["ack.standard", "ack.pro.small", "ack.pro.xlarge", "ack.pro.2xlarge", "ack.pro.4xlarge"] = Field(
        "ack.pro.small", description="ACK cluster specification (Pro is needed for managed node pool features)."
    )
    kubernetes_version: str | None = Field(
        None,
        pattern=r"^1\.\d+\.\d+(-aliyun\.\d+)?$",
        description="Kubernetes version, e.g. `1.33.3-aliyun.1`, at least 1.30. Default: the newest ACK offers "
        "at creation. Raise it to upgrade; ACK cannot downgrade.",
    )
    cni: Literal["terway", "flannel"] = Field(
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
    api_endpoint: Literal["public", "private"] = Field(
        "public",
        description="API server endpoint. `public` adds an internet-facing load balancer; it is needed when "
        "Pulumi runs outside the VPC. `private` requires running Pulumi inside the VPC. Fixed at creation.",
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


class SystemPoolSettings(ConfigModel):
    instance_types: list[str] = Field(
        default_factory=lambda: ["ecs.g7.xlarge", "ecs.g6.xlarge"],
        min_length=1,
        max_length=10,
        description="CPU instance types, tried in order.",
    )
    size: int = Field(2, ge=2, le=50, description="Nodes (fixed; at least 2 for system pods and the gateway).")
    system_disk_gib: int = Field(120, ge=40, le=2048, description="ESSD system disk per node, GiB.")


class GpuPoolSettings(ConfigModel):
    instance_types: list[str] = Field(
        default_factory=lambda: ["ecs.gn7i-c8g1.2xlarge"],
        min_length=1,
        max_length=10,
        description="GPU instance types, tried in order; each must fit every model (GPU memory and count).",
    )
    min_size: int = Field(1, ge=0, le=100, description="Autoscaling minimum nodes.")
    max_size: int = Field(2, ge=1, le=100, description="Autoscaling maximum nodes.")
    system_disk_gib: int = Field(
        200, ge=100, le=2048, description="ESSD system disk per node, GiB (model-server images are many GB)."
    )
    spot: bool = Field(False, description="Use preemptible (spot) instances at market price.")
    nvidia_driver_version: str | None = Field(
        None,
        pattern=r"^\d+\.\d+(\.\d+)?$",
        description="Pin the NVIDIA driver (e.g. `550.144.03`); applies to nodes added afterwards.",
    )
    gpu_memory_gib: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="GPU memory per GPU for instance types whose family is not in the known table (required for them).",
    )
    gpus_per_node: int | None = Field(
        None,
        ge=1,
        le=16,
        description="GPUs per node, for instance types whose name does not tell (e.g. bare metal).",
    )

    @field_validator("instance_types")
    @classmethod
    def _ecs_types(cls, types: list[str]) -> list[str]:
        if any(not t.startswith("ecs.") for t in types):
            raise ValueError("every entry must be an ECS instance type (`ecs.<family>.<size>`)")
        return types

    @model_validator(mode="after")
    def _size_range(self) -> GpuPoolSettings:
        if self.min_size > self.max_size:
            raise ValueError("minSize must not be larger than maxSize")
        return self


class NodePoolsSettings(ConfigModel):
    system: SystemPoolSettings = Field(
        default_factory=SystemPoolSettings, description="CPU pool for system pods, the gateway and the endpoint picker."
    )
    gpu: GpuPoolSettings = Field(
        default_factory=GpuPoolSettings, description="GPU pool for the model servers (`compute.mode: nodePool`)."
    )
    key_pair_name: str | None = Field(
        None, description="Existing ECS key pair for SSH to nodes; default: no SSH login."
    )


class AcsSettings(ConfigModel):
    gpu_model_series: str = Field(
        "GN8IS",
        pattern=r"^[A-Z0-9][A-Z0-9-]*$",
        description="ACS GPU model series (pod label `alibabacloud.com/gpu-model-series`).",
    )
    gpu_memory_gib: int | None = Field(
        None, ge=1, le=1024, description="GPU memory of a series not in the known table (required for it)."
    )


class ComputeSettings(ConfigModel):
    mode: Literal["nodePool", "acs"] = Field(
        "nodePool",
        description="`nodePool`: model servers run on the GPU node pool. `acs`: on ACS serverless GPU through "
        "the `ack-virtual-node` add-on (ACS GPU is an invitational preview: open a ticket first).",
    )
    acs: AcsSettings = Field(default_factory=AcsSettings, description="ACS serverless GPU (`mode: acs`).")


class AddonSettings(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][-a-z0-9]*$", description="Add-on name as the ACK API knows it.")
    version: str | None = Field(None, description="Add-on version; default: the newest offered at install.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Add-on configuration (merged into the add-on's server-side configuration; to clear a key "
        "set it to an empty value).",
    )


class OptionalAddonSettings(AddonSettings):
    enabled: bool = Field(False, description="Install this add-on.")


class AddonsSettings(ConfigModel):
    manage: bool | None = Field(
        None,
        description="Install and manage the add-ons. Default: on for `new` and `existing` clusters. With an "
        "`existing` cluster, `false` means they are already installed. Not available with `kubeconfig`.",
    )
    gateway_api: AddonSettings = Field(
        default_factory=lambda: AddonSettings(name="gateway-api"),
        description="The Gateway API CRDs add-on (installed before the gateway add-on).",
    )
    inference_gateway: AddonSettings = Field(
        default_factory=lambda: AddonSettings(
            name="ack-gateway-with-inference-extension", config={"enableInferenceExtension": True}
        ),
        description="ACK Gateway with Inference Extension, with the inference extension turned on.",
    )
    virtual_node: AddonSettings = Field(
        default_factory=lambda: AddonSettings(name="ack-virtual-node"),
        description="ACK Virtual Node, installed with `compute.mode: acs`.",
    )
    arms_prometheus: OptionalAddonSettings = Field(
        default_factory=lambda: OptionalAddonSettings(name="arms-prometheus"),
        description="Managed Prometheus (ARMS) add-on.",
    )


DEFAULT_POD_CIDR = IPv4Network("172.20.0.0/16")
# Cluster settings that only shape a cluster this stack creates.
_NEW_CLUSTER_FIELDS = {
    "spec",
    "kubernetes_version",
    "cni",
    "pod_cidr",
    "service_cidr",
    "api_endpoint",
    "control_plane_logs",
    "rrsa",
}
_RESERVED_TAG_PREFIXES = ("aliyun", "acs:")


def cluster_mode(settings: StackSettings) -> Literal["new", "existing", "kubeconfig"]:
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


def creates_nat_gateway(settings: StackSettings) -> bool:
    network = settings.network
    return network.vpc_id is None and network.nat_gateway is not False


def manages_addons(settings: StackSettings) -> bool:
    if settings.addons.manage is not None:
        return settings.addons.manage
    return cluster_mode(settings) != "kubeconfig"


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from _mode_problems(settings)
    if cluster_mode(settings) == "new":
        yield from _network_problems(settings)
        yield from _cidr_problems(settings)
    yield from _gpu_problems(settings)
    yield from _tag_problems(settings.tags)


def _mode_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    cluster, mode = settings.cluster, cluster_mode(settings)
    if mode == "existing" and cluster.id is None:
        yield ConfigProblem(("cluster", "id"), "is required with `cluster.mode: existing` (the ACK cluster id)")
    if mode != "existing" and cluster.id is not None:
        yield ConfigProblem(("cluster", "id"), "is only used with `cluster.mode: existing`")
    if mode == "kubeconfig" and settings.kubeconfig is None:
        yield ConfigProblem(
            ("kubeconfig",),
            "is required with `cluster.mode: kubeconfig`; set it with "
            "`pulumi config set --secret kubeconfig < kubeconfig.yaml`",
        )
    if mode != "kubeconfig" and settings.kubeconfig is not None:
        yield ConfigProblem(("kubeconfig",), "is only used with `cluster.mode: kubeconfig`")
    if mode == "kubeconfig" and settings.addons.manage:
        yield ConfigProblem(
            ("addons", "manage"), "needs an ACK cluster; with `cluster.mode: kubeconfig` install them yourself"
        )
    if mode == "new" and settings.addons.manage is False:
        yield ConfigProblem(("addons", "manage"), "must stay on for a new cluster (the gateway add-ons are needed)")
    compute_mode = settings.compute.mode
    if compute_mode == "acs" and "gpu" in settings.node_pools.model_fields_set:
        yield ConfigProblem(("nodePools", "gpu"), "is only used with `compute.mode: nodePool` (mode is `acs`)")
    if compute_mode == "nodePool" and "acs" in settings.compute.model_fields_set:
        yield ConfigProblem(("compute", "acs"), "is only used with `compute.mode: acs`")
    if mode != "new":
        creation_only = {
            "network": settings.network != NetworkSettings(),
            "nodePools": settings.node_pools != NodePoolsSettings(),
        }
        for key, changed in creation_only.items():
            if changed:
                yield ConfigProblem((key,), f"is only used with `cluster.mode: new` (mode is `{mode}`)")
        for field in sorted(cluster.model_fields_set & _NEW_CLUSTER_FIELDS):
            yield ConfigProblem(("cluster", _camel(field)), f"is only used with `cluster.mode: new` (mode is `{mode}`)")
    if mode == "kubeconfig" and cluster.kubeconfig_ttl_minutes is not None:
        yield ConfigProblem(("cluster", "kubeconfigTtlMinutes"), "is for a kubeconfig fetched from ACK")


def _network_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    network, cni = settings.network, settings.cluster.cni
    if network.vpc_id is None:
        if len(network.vswitches) < 2:
            yield ConfigProblem(("network", "vswitches"), "needs at least two vSwitches in different zones")
        zones = [v.zone_id for v in network.vswitches]
        if len(set(zones)) != len(zones):
            yield ConfigProblem(("network", "vswitches"), "has two vSwitches in one zone; use one per zone")
        for existing_only in ("vswitch_ids", "pod_vswitch_ids"):
            if getattr(network, existing_only):
                yield ConfigProblem(("network", _camel(existing_only)), "is only used with `network.vpcId`")
        if cni == "flannel":
            for index, vswitch in enumerate(network.vswitches):
                if vswitch.pod_cidr is not None:
                    yield ConfigProblem(
                        ("network", "vswitches", index, "podCidr"),
                        "is for Terway; Flannel takes its pod addresses from `cluster.podCidr`",
                    )
    else:
        if not network.vswitch_ids:
            yield ConfigProblem(("network", "vswitchIds"), "is required with `network.vpcId`")
        if "vswitches" in network.model_fields_set:
            yield ConfigProblem(
                ("network", "vswitches"), "creates vSwitches in a new VPC; with `vpcId` use `vswitchIds`"
            )
        if network.nat_gateway:
            yield ConfigProblem(("network", "natGateway"), "is only available for a new VPC")
        if cni == "flannel" and network.pod_vswitch_ids:
            yield ConfigProblem(("network", "podVswitchIds"), "is for Terway; Flannel uses `cluster.podCidr`")
    if cni == "terway" and settings.cluster.pod_cidr is not None:
        yield ConfigProblem(
            ("cluster", "podCidr"),
            "is for Flannel; Terway takes pod addresses from pod vSwitches (setting both makes ACK fail with "
            "`PodCidr conflict with PodVswitch`)",
        )


def _cidr_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
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


def _gpu_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    # Simulator model servers run on CPU and need no GPU.
    models = [(index, model) for index, model in enumerate(settings.models) if model.mode == "vllm"]
    if settings.compute.mode == "acs":
        acs = settings.compute.acs
        known = ACS_GPU_SERIES.get(acs.gpu_model_series)
        memory = known.memory_gib if known else acs.gpu_memory_gib
        if memory is None:
            yield ConfigProblem(
                ("compute", "acs", "gpuMemoryGib"),
                f"is required for a GPU series not in the known table ({', '.join(sorted(ACS_GPU_SERIES))})",
            )
            return
        yield from _memory_problems(models, memory, ("compute", "acs", "gpuModelSeries"))
        return
    if cluster_mode(settings) != "new":
        return  # the GPU nodes of a cluster we did not create are not known here
    pool = settings.node_pools.gpu
    base = ("nodePools", "gpu")
    smallest_count = None
    for index, instance_type in enumerate(pool.instance_types):
        loc = (*base, "instanceTypes", index)
        family = gpu_family(instance_type)
        memory = family.memory_gib if family else pool.gpu_memory_gib
        if memory is None:
            yield ConfigProblem(
                (*base, "gpuMemoryGib"),
                f"is required: `{instance_type}` is not a known GPU family "
                f"({', '.join(sorted(GPU_FAMILIES))}); state the GPU memory per GPU in GiB",
            )
        else:
            yield from _memory_problems(models, memory, loc, instance_type)
        count = pool.gpus_per_node or gpus_in(instance_type)
        if count is None:
            yield ConfigProblem(
                (*base, "gpusPerNode"), f"is required: the name `{instance_type}` does not tell how many GPUs it has"
            )
            continue
        smallest_count = count if smallest_count is None else min(smallest_count, count)
        for model_index, model in models:
            if model.gpus_per_replica > count:
                yield ConfigProblem(
                    loc,
                    f"has {count} GPU(s) per node but models[{model_index}] needs {model.gpus_per_replica} per replica",
                )
    if smallest_count is not None:
        # Autoscaled servers count at `maxReplicas`: the pool's autoscaler must have room for every pod the HPA adds.
        needed = sum(m.peak_replicas * m.gpus_per_replica for _, m in models)
        if needed > pool.max_size * smallest_count:
            autoscaled = (
                " (autoscaled ones at `autoscaling.maxReplicas`)"
                if any(m.autoscaling.enabled for _, m in models)
                else ""
            )
            yield ConfigProblem(
                (*base, "maxSize"),
                f"allows at most {pool.max_size * smallest_count} GPU(s) but the models need {needed}{autoscaled}",
            )


def _memory_problems(
    models: Sequence[tuple[int, ModelSettings]], memory: int, loc: tuple[str | int, ...], what: str = ""
) -> Iterator[ConfigProblem]:
    for index, model in models:
        if model.gpu_memory_gib_needed > memory:
            subject = f"`{what}` has" if what else "has"
            yield ConfigProblem(
                loc,
                f"{subject} {memory} GiB per GPU but models[{index}] needs {model.gpu_memory_gib_needed} GiB; "
                "choose a GPU with more memory",
            )


def _tag_problems(tags: dict[str, str]) -> Iterator[ConfigProblem]:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith(_RESERVED_TAG_PREFIXES) or "://" in key:
            yield ConfigProblem(
                ("tags",),
                "has an invalid key: keys are 1-128 characters, must not start with `aliyun` or `acs:` and must "
                "not contain `://`",
            )
        if len(value) > 128 or value.lower().startswith(_RESERVED_TAG_PREFIXES) or "://" in value:
            yield ConfigProblem(
                ("tags",),
                "has an invalid value: values are at most 128 characters, must not start with `aliyun` or `acs:` "
                "and must not contain `://`",
            )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
