"""Builds the cloud layer from settings: network, ACK cluster, node pools, add-ons and the Kubernetes provider.

`cluster.mode` decides how much is created: everything (`new`), add-ons only on an ACK cluster by id
(`existing`), or nothing on Alibaba Cloud (`kubeconfig`). `compute.mode` decides where the model servers run
(GPU node pool or ACS serverless GPU); the two differ only in the placement handed to the workloads.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.cloud.ack_cluster import AckCluster, AckClusterArgs, ControlPlaneLogs
from components.cloud.availability import AvailabilityArgs, PoolTypes, Wanted, check_availability
from components.cloud.cluster_addons import AddonSpec, ClusterAddons, ClusterAddonsArgs
from components.cloud.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.cloud.kubernetes_access import KubernetesAccess, KubernetesAccessArgs
from components.cloud.network import Network, NetworkArgs, ZoneSubnets
from components.cloud.node_pool import Autoscaling, NodePool, NodePoolArgs, Taint
from components.placement import Placement
from stacks.errors import PROJECT, key_path
from stacks.layers import CloudLayer
from stacks.settings import StackSettings
from stacks.settings.addons import AddonSettings, manages_addons
from stacks.settings.cluster import cluster_mode, effective_pod_cidr
from stacks.settings.network import creates_nat_gateway

# Node label that tells the pools apart; the placements select on it.
POOL_LABEL = "ack-inference/pool"
# GPU nodes repel everything that does not tolerate GPUs, so system pods stay on the CPU pool.
GPU_TAINT = Taint(key="nvidia.com/gpu", value="true", effect="NoSchedule")
# ACK reads this node label to install a given NVIDIA driver version on new nodes.
DRIVER_VERSION_LABEL = "ack.aliyun.com/nvidia-driver-version"


def default_tags(settings: StackSettings) -> dict[str, str]:
    """Tags on every Alibaba Cloud resource: ours first, the stack's `tags` over them."""
    return {"project": PROJECT, "stack": pulumi.get_stack(), "managed-by": "pulumi", **settings.tags}


def gpu_placement(settings: StackSettings) -> Placement:
    if settings.compute.mode == "acs":
        return Placement(
            pod_labels={
                "alibabacloud.com/acs": "true",
                "alibabacloud.com/compute-class": "gpu",
                "alibabacloud.com/gpu-model-series": settings.compute.acs.gpu_model_series,
            }
        )
    return Placement(
        node_selector={POOL_LABEL: "gpu"},
        tolerations=[{"key": GPU_TAINT.key, "operator": "Exists", "effect": GPU_TAINT.effect}],
    )


def system_placement(settings: StackSettings) -> Placement:
    # A cluster this stack did not create has no system pool to select.
    if cluster_mode(settings) != "new":
        return Placement()
    return Placement(node_selector={POOL_LABEL: "system"})


def cluster_name(settings: StackSettings) -> str:
    return settings.cluster.name or f"{PROJECT}-{pulumi.get_stack()}"


def addon_specs(settings: StackSettings) -> list[AddonSpec]:
    addons = settings.addons

    def spec(role: str, key: str, addon: AddonSettings, **extra: Any) -> AddonSpec:
        return AddonSpec(
            role=role,
            name=addon.name,
            setting=key_path(("addons", key)),
            version=addon.version,
            config=dict(addon.config),
            **extra,
        )

    specs = [
        spec("gateway-api", "gatewayApi", addons.gateway_api),
        # The gateway add-on needs the Gateway API CRDs in place.
        spec("inference-gateway", "inferenceGateway", addons.inference_gateway, after=("gateway-api",)),
    ]
    if settings.compute.mode == "acs":
        specs.append(spec("virtual-node", "virtualNode", addons.virtual_node, cleanup_cloud_resources=True))
        if settings.security.network_isolation.enabled:
            # ACS pods bypass Terway's policy agent: ACK enforces NetworkPolicies on them with Poseidon.
            specs.append(spec("poseidon", "poseidon", addons.poseidon, after=("virtual-node",)))
    if addons.arms_prometheus.enabled:
        specs.append(spec("arms-prometheus", "armsPrometheus", addons.arms_prometheus))
    return specs


def next_commands(settings: StackSettings) -> list[str]:
    commands = []
    if cluster_mode(settings) != "kubeconfig":
        # Outside the repository and readable by its owner only: the kubeconfig holds cluster credentials.
        path = f"~/.kube/ack-inference-{pulumi.get_stack()}.yaml"
        commands += [
            f"mkdir -p ~/.kube && (umask 077 && pulumi stack output kubeconfig --show-secrets > {path})",
            f"export KUBECONFIG={path}",
        ]
    commands.append(f"kubectl get nodes -L {POOL_LABEL}")
    if manages_addons(settings):
        commands.append("kubectl -n envoy-gateway-system get deployment envoy-gateway")
    return commands


def build_cloud(settings: StackSettings) -> CloudLayer:
    mode = cluster_mode(settings)
    if mode == "kubeconfig":
        access = KubernetesAccess(
            "kubernetes",
            KubernetesAccessArgs(
                cluster_identifier=cluster_name(settings),
                kubeconfig=pulumi.Output.secret(settings.kubeconfig.get_secret_value()),
            ),
        )
        return _layer(settings, access, outputs={})
    if mode == "existing":
        return _existing_cluster(settings)
    return _new_cluster(settings)


def _existing_cluster(settings: StackSettings) -> CloudLayer:
    cluster_id = settings.cluster.id
    addons = None
    if manages_addons(settings):
        addons = ClusterAddons(
            "addons",
            # The add-ons may be shared with other workloads on this cluster: destroying the stack keeps them.
            ClusterAddonsArgs(cluster_id=cluster_id, addons=addon_specs(settings), retain_on_delete=True),
        )
    access = KubernetesAccess(
        "kubernetes",
        KubernetesAccessArgs(
            cluster_identifier=cluster_id,
            ack_cluster_id=cluster_id,
            credential_ttl_minutes=settings.cluster.kubeconfig_ttl_minutes,
            ready=[addons] if addons else [],
        ),
    )
    outputs = {"clusterId": cluster_id, "kubeconfig": access.kubeconfig}
    return _layer(settings, access, outputs, addons=addons)


def _new_cluster(settings: StackSettings) -> CloudLayer:
    tags = default_tags(settings)
    name = cluster_name(settings)
    network_settings, cluster_settings = settings.network, settings.cluster
    protect = settings.production
    # Nothing is declared until what the stack needs is known to be offered in the region.
    check_availability(availability_args(settings))

    egress: list[pulumi.Resource] = []
    if network_settings.vpc_id is None:
        network = Network(
            "network",
            NetworkArgs(
                display_name=name,
                cidr=str(network_settings.cidr),
                zones=[
                    ZoneSubnets(v.zone_id, str(v.cidr), str(v.pod_cidr) if v.pod_cidr else None)
                    for v in network_settings.vswitches
                ],
                nat_gateway=creates_nat_gateway(settings),
                egress_bandwidth_mbps=network_settings.egress_bandwidth_mbps,
                tags=tags,
                protect=protect,
            ),
        )
        vpc_id, vswitch_ids, pod_vswitch_ids = network.vpc_id, network.vswitch_ids, network.pod_vswitch_ids
        egress = network.egress
    else:
        vpc_id = network_settings.vpc_id
        vswitch_ids, pod_vswitch_ids = list(network_settings.vswitch_ids), list(network_settings.pod_vswitch_ids)

    logs = cluster_settings.control_plane_logs
    pod_cidr = effective_pod_cidr(settings)
    cluster = AckCluster(
        "ack",
        AckClusterArgs(
            cluster_name=name,
            spec=cluster_settings.spec,
            kubernetes_version=cluster_settings.kubernetes_version,
            vswitch_ids=vswitch_ids,
            cni=cluster_settings.cni,
            pod_vswitch_ids=pod_vswitch_ids,
            pod_cidr=str(pod_cidr) if pod_cidr else None,
            service_cidr=str(cluster_settings.service_cidr),
            public_endpoint=cluster_settings.api_endpoint == "public",
            rrsa=cluster_settings.rrsa,
            control_plane_logs=ControlPlaneLogs(logs.components, logs.ttl_days, logs.project) if logs else None,
            tags=tags,
            protect=protect,
            depends_on=egress,
        ),
    )
    pools = _node_pools(settings, cluster.cluster_id, vswitch_ids, name, tags)
    addons = ClusterAddons(
        "addons",
        ClusterAddonsArgs(cluster_id=cluster.cluster_id, addons=addon_specs(settings), depends_on=[pools["system"]]),
    )
    access = KubernetesAccess(
        "kubernetes",
        KubernetesAccessArgs(
            cluster_identifier=cluster.cluster_id,
            ack_cluster_id=cluster.cluster_id,
            credential_ttl_minutes=cluster_settings.kubeconfig_ttl_minutes,
            ready=[*pools.values(), addons],
        ),
    )
    outputs = {
        "clusterId": cluster.cluster_id,
        "vpcId": vpc_id,
        "nodePoolIds": {role: pool.node_pool_id for role, pool in pools.items()},
        "kubeconfig": access.kubeconfig,
    }
    return _layer(settings, access, outputs, addons=addons, pools=list(pools.values()))


def availability_args(settings: StackSettings) -> AvailabilityArgs:
    """What the preflight checks, each value with the key it comes from."""
    network = settings.network
    zones: list[Wanted] = []
    if network.vpc_id is None:
        zones = [
            Wanted(v.zone_id, key_path(("network", "vswitches", i, "zoneId"))) for i, v in enumerate(network.vswitches)
        ]
    pools = []
    # The zones of existing vSwitches are not in the config: their pools are checked by ACK itself.
    if zones:
        pool_settings = {"system": settings.node_pools.system}
        if settings.compute.mode == "nodePool":
            pool_settings["gpu"] = settings.node_pools.gpu
        pools = [
            PoolTypes(
                [
                    Wanted(t, key_path(("nodePools", role, "instanceTypes", i)))
                    for i, t in enumerate(pool.instance_types)
                ],
                [z.value for z in zones],
            )
            for role, pool in pool_settings.items()
        ]
    version = settings.cluster.kubernetes_version
    return AvailabilityArgs(
        # `stacks.stack_keys.region_problems` made sure it is set.
        region=pulumi.Config("alicloud").require("region"),
        zones=zones,
        # The NAT gateway sits in the first vSwitch (components/cloud/network.py).
        nat_zone=zones[0] if zones and creates_nat_gateway(settings) else None,
        pools=pools,
        kubernetes_version=Wanted(version, key_path(("cluster", "kubernetesVersion"))) if version else None,
    )


def _node_pools(
    settings: StackSettings,
    cluster_id: pulumi.Output[str],
    vswitch_ids: list[pulumi.Input[str]],
    name: str,
    tags: dict[str, str],
) -> dict[str, NodePool]:
    pools_settings = settings.node_pools
    system = pools_settings.system
    pools = {
        "system": NodePool(
            "system",
            NodePoolArgs(
                cluster_id=cluster_id,
                pool_name=f"{name}-system",
                vswitch_ids=vswitch_ids,
                instance_types=list(system.instance_types),
                system_disk_gib=system.system_disk_gib,
                size=system.size,
                labels={POOL_LABEL: "system"},
                key_pair_name=pools_settings.key_pair_name,
                tags=tags,
            ),
        )
    }
    # Simulators run on the system pool: a stack of simulators only has no GPU node to pay for.
    if settings.compute.mode == "nodePool" and any(model.mode == "vllm" for model in settings.models):
        gpu = pools_settings.gpu
        # ACK scales an autoscaling pool only once node auto scaling is configured for the cluster.
        autoscaler = ClusterAutoscaler("autoscaler", ClusterAutoscalerArgs(cluster_id=cluster_id))
        labels = {POOL_LABEL: "gpu"}
        if gpu.nvidia_driver_version:
            labels[DRIVER_VERSION_LABEL] = gpu.nvidia_driver_version
        pools["gpu"] = NodePool(
            "gpu",
            NodePoolArgs(
                cluster_id=cluster_id,
                pool_name=f"{name}-gpu",
                vswitch_ids=vswitch_ids,
                instance_types=list(gpu.instance_types),
                system_disk_gib=gpu.system_disk_gib,
                autoscaling=Autoscaling(gpu.min_size, gpu.max_size),
                scaling_type="gpu",
                labels=labels,
                taints=[GPU_TAINT],
                spot=gpu.spot,
                key_pair_name=pools_settings.key_pair_name,
                tags=tags,
                depends_on=[autoscaler],
            ),
        )
    return pools


def _layer(
    settings: StackSettings,
    access: KubernetesAccess,
    outputs: dict[str, Any],
    addons: ClusterAddons | None = None,
    pools: list[NodePool] | None = None,
) -> CloudLayer:
    installed = addons.addons if addons else {}
    crd_installers = [installed[r] for r in ("gateway-api", "inference-gateway") if r in installed]
    capacity: list[pulumi.Resource] = [*(pools or [])]
    # Model servers wait for the virtual node and for what enforces their NetworkPolicies there.
    capacity += [installed[role] for role in ("virtual-node", "poseidon") if role in installed]
    return CloudLayer(
        provider=access.provider,
        gpu_placement=gpu_placement(settings),
        system_placement=system_placement(settings),
        crd_installers=crd_installers,
        capacity=capacity,
        monitoring_installers=[installed["arms-prometheus"]] if "arms-prometheus" in installed else [],
        outputs={**outputs, "clusterCommands": next_commands(settings)},
    )
