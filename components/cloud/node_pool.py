"""One ACK node pool: a fixed-size pool or an autoscaling one, with Kubernetes labels and taints on its nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from components.vocabulary import ScalingType, TaintEffect


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: TaintEffect


@dataclass(frozen=True)
class Autoscaling:
    min_size: int
    max_size: int


@dataclass(frozen=True)
class NodePoolArgs:
    cluster_id: pulumi.Input[str]
    pool_name: str
    vswitch_ids: list[pulumi.Input[str]]
    instance_types: list[str]
    system_disk_gib: int
    # Exactly one of: a fixed node count, or autoscaling bounds (the autoscaler then owns the count).
    size: int | None = None
    autoscaling: Autoscaling | None = None
    # The autoscaler's instance class (`cpu`, `gpu`).
    scaling_type: ScalingType = "cpu"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Taint] = field(default_factory=list)
    spot: bool = False
    key_pair_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # What must exist first (an autoscaling pool: the cluster's autoscaler configuration).
    depends_on: list[pulumi.Resource] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.size is None) == (self.autoscaling is None):
            raise ValueError("a node pool has either a fixed size or autoscaling bounds")


class NodePool(pulumi.ComponentResource):
    node_pool_id: pulumi.Output[str]

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:NodePool", name, None, opts)
        scaling = args.autoscaling
        pool = alicloud.cs.NodePool(
            f"{name}-pool",
            cluster_id=args.cluster_id,
            node_pool_name=args.pool_name,
            vswitch_ids=args.vswitch_ids,
            instance_types=args.instance_types,
            # With autoscaling the autoscaler owns the node count: setting `desired_size` as well would fight it
            # on every run. The SDK types it as a string.
            desired_size=None if scaling else str(args.size),
            scaling_config=alicloud.cs.NodePoolScalingConfigArgs(
                enable=True, min_size=scaling.min_size, max_size=scaling.max_size, type=args.scaling_type
            )
            if scaling
            else None,
            # Spread across the vSwitches' zones so one zone's stock-out does not block scaling.
            multi_az_policy="BALANCE",
            image_type="AliyunLinux3",
            system_disk_category="cloud_essd",
            system_disk_performance_level="PL1",
            system_disk_size=args.system_disk_gib,
            instance_charge_type="PostPaid",
            spot_strategy="SpotAsPriceGo" if args.spot else "NoSpot",
            key_name=args.key_pair_name,
            labels=[alicloud.cs.NodePoolLabelArgs(key=k, value=v) for k, v in args.labels.items()],
            taints=[alicloud.cs.NodePoolTaintArgs(key=t.key, value=t.value, effect=t.effect) for t in args.taints],
            # Label and taint edits reach existing nodes too, not only new ones.
            update_nodes=True,
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.depends_on,
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m", delete="30m"),
            ),
        )
        self.node_pool_id = pool.node_pool_id
        self.register_outputs({"nodePoolId": self.node_pool_id})
