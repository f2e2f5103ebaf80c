"""An ACK managed (Pro) cluster with no worker nodes of its own: node pools and add-ons are separate resources."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from components.vocabulary import Cni

# What ACK installs at creation. The cluster's `addons` list is create-only, so only what the cluster cannot
# start without goes here (network plugin, storage); everything else is a `cs.KubernetesAddon`.
BOOTSTRAP_ADDONS = {
    "terway": ["terway-eniip", "csi-plugin", "csi-provisioner"],
    "flannel": ["flannel", "csi-plugin", "csi-provisioner"],
}
# Terway enforces NetworkPolicies (the model servers' isolation) only with this set at creation; Flannel never
# enforces them.
BOOTSTRAP_ADDON_CONFIG = {"terway-eniip": json.dumps({"NetworkPolicy": "true"})}


@dataclass(frozen=True)
class ControlPlaneLogs:
    components: list[str]
    ttl_days: int
    project: str | None = None


@dataclass(frozen=True)
class AckClusterArgs:
    cluster_name: str
    spec: str
    vswitch_ids: list[pulumi.Input[str]]
    service_cidr: str
    cni: Cni
    # Terway: pod vSwitches (the node vSwitches when empty). Flannel: the pod CIDR.
    pod_vswitch_ids: list[pulumi.Input[str]] = field(default_factory=list)
    pod_cidr: str | None = None
    kubernetes_version: str | None = None
    public_endpoint: bool = True
    rrsa: bool = True
    control_plane_logs: ControlPlaneLogs | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Production: cloud deletion protection plus Pulumi `protect`.
    protect: bool = False
    # What must exist before the cluster is created (the NAT egress, so nodes can pull images).
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class AckCluster(pulumi.ComponentResource):
    cluster_id: pulumi.Output[str]

    def __init__(self, name: str, args: AckClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:AckCluster", name, None, opts)
        terway = args.cni == "terway"
        logs = args.control_plane_logs
        cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-cluster",
            name=args.cluster_name,
            cluster_spec=args.spec,
            version=args.kubernetes_version,
            vswitch_ids=args.vswitch_ids,
            pod_vswitch_ids=(args.pod_vswitch_ids or args.vswitch_ids) if terway else None,
            pod_cidr=None if terway else args.pod_cidr,
            service_cidr=args.service_cidr,
            # The network component owns egress; an ACK-made NAT gateway would be a second one.
            new_nat_gateway=False,
            slb_internet_enabled=args.public_endpoint,
            enable_rrsa=args.rrsa,
            deletion_protection=args.protect,
            control_plane_log_components=logs.components if logs else None,
            control_plane_log_ttl=str(logs.ttl_days) if logs else None,
            control_plane_log_project=logs.project if logs else None,
            addons=[
                alicloud.cs.ManagedKubernetesAddonArgs(name=addon, config=BOOTSTRAP_ADDON_CONFIG.get(addon))
                for addon in BOOTSTRAP_ADDONS[args.cni]
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=args.depends_on,
                # Creating a cluster takes 10-20 minutes; deleting it waits for its load balancers.
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m", delete="60m"),
            ),
        )
        self.cluster_id = cluster.id
        self.register_outputs({"clusterId": self.cluster_id})
