"""A VPC with node (and optionally pod) vSwitches in several zones, and optional NAT egress for image pulls."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class ZoneSubnets:
    zone_id: str
    node_cidr: str
    # Terway pod vSwitch in the same zone, if pods get their own.
    pod_cidr: str | None = None


@dataclass(frozen=True)
class NetworkArgs:
    # Name of the VPC and prefix of its parts in the cloud console.
    display_name: str
    cidr: str
    zones: list[ZoneSubnets]
    nat_gateway: bool
    egress_bandwidth_mbps: int
    tags: dict[str, str] = field(default_factory=dict)
    # Pulumi `protect` on the VPC (production).
    protect: bool = False


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vswitch_ids: list[pulumi.Output[str]]
    pod_vswitch_ids: list[pulumi.Output[str]]
    # The SNAT entry when the network has NAT egress (else empty): what must exist before anything pulls images.
    egress: list[pulumi.Resource]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = alicloud.vpc.Network(
            f"{name}-vpc",
            vpc_name=args.display_name,
            cidr_block=args.cidr,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        def switch(role: str, zone_id: str, cidr: str) -> alicloud.vpc.Switch:
            return alicloud.vpc.Switch(
                f"{name}-{role}-{zone_id}",
                vswitch_name=f"{args.display_name}-{role}-{zone_id}",
                vpc_id=vpc.id,
                zone_id=zone_id,
                cidr_block=cidr,
                tags=args.tags,
                opts=child,
            )

        node_switches = []
        pod_switches = []
        for zone in args.zones:
            node_switches.append(switch("nodes", zone.zone_id, zone.node_cidr))
            if zone.pod_cidr is not None:
                pod_switches.append(switch("pods", zone.zone_id, zone.pod_cidr))
        # The egress path must exist before anything pulls images, so consumers wait for the SNAT entry.
        self.egress = []
        if args.nat_gateway:
            self.egress = self._nat_egress(name, args, vpc, node_switches[0])
        self.vpc_id = vpc.id
        self.vswitch_ids = [s.id for s in node_switches]
        self.pod_vswitch_ids = [s.id for s in pod_switches]
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vswitchIds": self.vswitch_ids,
                "podVswitchIds": self.pod_vswitch_ids,
                "egress": self.egress,
            }
        )

    def _nat_egress(
        self, name: str, args: NetworkArgs, vpc: alicloud.vpc.Network, vswitch: alicloud.vpc.Switch
    ) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=self)
        nat = alicloud.vpc.NatGateway(
            f"{name}-nat",
            nat_gateway_name=args.display_name,
            vpc_id=vpc.id,
            vswitch_id=vswitch.id,
            nat_type="Enhanced",
            payment_type="PayAsYouGo",
            internet_charge_type="PayByLcu",
            tags=args.tags,
            opts=child,
        )
        eip = alicloud.ecs.EipAddress(
            f"{name}-eip",
            address_name=f"{args.display_name}-nat",
            bandwidth=str(args.egress_bandwidth_mbps),
            internet_charge_type="PayByTraffic",
            payment_type="PayAsYouGo",
            tags=args.tags,
            opts=child,
        )
        association = alicloud.ecs.EipAssociation(
            f"{name}-eip-nat", allocation_id=eip.id, instance_id=nat.id, instance_type="Nat", opts=child
        )
        # One entry for the whole VPC CIDR covers node and pod vSwitches in every zone.
        snat = alicloud.vpc.SnatEntry(
            f"{name}-snat",
            snat_table_id=nat.snat_table_ids,
            source_cidr=args.cidr,
            snat_ip=eip.ip_address,
            snat_entry_name=f"{args.display_name}-vpc",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[association]),
        )
        return [snat]
