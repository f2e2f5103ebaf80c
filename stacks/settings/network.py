"""The network of a new cluster (`network`): a new VPC with vSwitches, or an existing VPC's, and outbound NAT."""

from __future__ import annotations

import re
from collections.abc import Iterator
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.formats import Cidr, camel

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings


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
        # They become the cluster's `vswitch_ids`: MaxItems 5 (terraform-provider-alicloud
        # `resource_alicloud_cs_managed_kubernetes.go:57`).
        max_length=5,
        description="vSwitches of the new VPC, one per zone, at least two zones. The default suits region "
        "`cn-hangzhou`; set your own zones for any other region.",
    )
    vpc_id: str | None = Field(
        None, pattern=r"^vpc-[a-z0-9]+$", description="Existing VPC id; then `vswitchIds` is required."
    )
    vswitch_ids: list[str] = Field(
        default_factory=list,
        # The cluster's `vswitch_ids`: MaxItems 5 (`resource_alicloud_cs_managed_kubernetes.go:57`).
        max_length=5,
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
    # A pay-as-you-go EIP billed by traffic takes 1-200 Mbit/s (Alibaba Cloud EIP, AllocateEipAddress `Bandwidth`:
    # "PayByTraffic: 1 to 200"; https://www.alibabacloud.com/help/en/eip/developer-reference/api-vpc-2016-04-28-allocateeipaddress).
    egress_bandwidth_mbps: int = Field(
        100, ge=1, le=200, description="Bandwidth cap of the NAT gateway's EIP (pay by traffic), in Mbit/s."
    )

    @field_validator("vswitch_ids", "pod_vswitch_ids")
    @classmethod
    def _vswitch_ids(cls, ids: list[str]) -> list[str]:
        if any(not re.fullmatch(r"vsw-[a-z0-9]+", i) for i in ids):
            raise ValueError("every entry must be a vSwitch id (`vsw-...`)")
        return ids


def creates_nat_gateway(settings: StackSettings) -> bool:
    network = settings.network
    return network.vpc_id is None and network.nat_gateway is not False


def network_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    network, cni = settings.network, settings.cluster.cni
    name = settings.cluster.name
    # The NAT gateway is named `<cluster.name>`, its EIP `<cluster.name>-nat` and its SNAT entry
    # `<cluster.name>-vpc`; the VPC API takes 2-128 characters starting with a letter for each (CreateNatGateway
    # `Name`, AllocateEipAddress `Name`, CreateSnatEntry `SnatEntryName`, Alibaba Cloud VPC API reference).
    if creates_nat_gateway(settings) and name is not None and (len(name) < 2 or not name[0].isalpha()):
        yield ConfigProblem(
            ("cluster", "name"),
            "names the NAT gateway, its EIP and SNAT entry, which must start with a letter and be at least 2 "
            "characters",
        )
    if network.vpc_id is None:
        if len(network.vswitches) < 2:
            yield ConfigProblem(("network", "vswitches"), "needs at least two vSwitches in different zones")
        zones = [v.zone_id for v in network.vswitches]
        if len(set(zones)) != len(zones):
            yield ConfigProblem(("network", "vswitches"), "has two vSwitches in one zone; use one per zone")
        for existing_only in ("vswitch_ids", "pod_vswitch_ids"):
            if getattr(network, existing_only):
                yield ConfigProblem(("network", camel(existing_only)), "is only used with `network.vpcId`")
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
