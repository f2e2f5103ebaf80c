"""The cluster-level node autoscaler configuration an autoscaling node pool needs (ACK "Enable node auto
scaling": `cs.AutoscalingConfig`, the `CreateAutoscalingConfig` API, which configures the cluster-autoscaler)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    cluster_id: pulumi.Input[str]
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ClusterAutoscaler(pulumi.ComponentResource):
    # The resource id is the cluster id (one configuration per cluster).
    config_id: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:ClusterAutoscaler", name, None, opts)
        config = alicloud.cs.AutoscalingConfig(
            f"{name}-config",
            cluster_id=args.cluster_id,
            # Remove idle GPU nodes (billed while idle) once they stay under half use for the cool-down.
            scale_down_enabled=True,
            # A pool whose `minSize` is 0 must be able to grow from no node at all. The provider never sends a
            # false value (resource_alicloud_cs_autoscaling_config.go: GetOk), so it cannot be turned off later:
            # it is on from the start.
            scale_up_from_zero=True,
            # Add the instance type that leaves the least CPU and memory idle (ACK's default, stated).
            expander="least-waste",
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.config_id = config.id
        self.register_outputs({"configId": self.config_id})
