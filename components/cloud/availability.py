"""Availability preflight: what a new cluster needs is offered in the stack's region, checked at preview.

Through the provider's data sources (answered by the region of the default alicloud provider): the zones of the
region (`get_zones`), the Enhanced NAT zones (`vpc.get_enhanced_nat_available_zones`), the instance types a
zone sells to Kubernetes workers (`ecs.get_instance_types`), and the Kubernetes versions ACK offers
(`cs.get_kubernetes_version`). Every input is known before anything exists, so a zone typo or a type not sold
there fails the preview naming its key, instead of the vSwitch or node-pool creation 15 minutes into `pulumi up`.
Nothing is declared when a check fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


class AvailabilityError(pulumi.RunError):
    """Something the stack needs is not offered in its region; a `RunError` prints without a traceback."""


@dataclass(frozen=True)
class Wanted:
    """One configured value and where the user set it (e.g. `ack-inference:network.vswitches[0].zoneId`)."""

    value: str
    setting: str


@dataclass(frozen=True)
class PoolTypes:
    # The pool's instance types, each with its key; the pool may use any of `zones`.
    instance_types: list[Wanted]
    zones: list[str]


@dataclass(frozen=True)
class AvailabilityArgs:
    region: str
    # The zones of the new vSwitches.
    zones: list[Wanted] = field(default_factory=list)
    # The zone of the NAT gateway's vSwitch, when the stack creates an Enhanced NAT gateway.
    nat_zone: Wanted | None = None
    pools: list[PoolTypes] = field(default_factory=list)
    kubernetes_version: Wanted | None = None


def check_availability(args: AvailabilityArgs) -> None:
    """Asks the data sources and raises `AvailabilityError` with every problem, one line each.

    Plain (blocking) invokes, called before any resource is declared: a failure ends the program with nothing
    registered, as a config error does.
    """
    zones = alicloud.get_zones(available_resource_creation="VSwitch").ids
    nat_zones = [z.zone_id for z in alicloud.vpc.get_enhanced_nat_available_zones().zones] if args.nat_zone else []
    pool_zones = sorted({zone for pool in args.pools for zone in pool.zones if zone in zones})
    # The types each zone sells to Kubernetes worker nodes, pay-as-you-go (what the node pools buy).
    sold = {
        zone: alicloud.ecs.get_instance_types(
            availability_zone=zone, kubernetes_node_role="Worker", instance_charge_type="PostPaid"
        ).ids
        for zone in pool_zones
    }
    versions = (
        [
            m.version
            for m in alicloud.cs.get_kubernetes_version(cluster_type="ManagedKubernetes", profile="Default").metadatas
        ]
        if args.kubernetes_version
        else []
    )
    problems = availability_problems(args, zones, nat_zones, versions, sold)
    if problems:
        raise AvailabilityError("\n".join(problems))


def availability_problems(
    args: AvailabilityArgs,
    zones: Sequence[str],
    nat_zones: Sequence[str],
    versions: Sequence[str],
    sold: dict[str, Sequence[str]],
) -> list[str]:
    problems = []
    for wanted in args.zones:
        if wanted.value not in zones:
            problems.append(
                f"{wanted.setting}: `{wanted.value}` is not a zone of {args.region} that offers vSwitches; "
                f"zones: {', '.join(zones)}"
            )
    nat = args.nat_zone
    if nat and nat.value in zones and nat.value not in nat_zones:
        problems.append(
            f"{nat.setting}: `{nat.value}` holds the NAT gateway, and Enhanced NAT gateways are not offered there; "
            f"put a zone of {', '.join(nat_zones) or 'none'} first"
        )
    for pool in args.pools:
        for wanted in pool.instance_types:
            if not any(wanted.value in sold.get(zone, ()) for zone in pool.zones if zone in zones):
                problems.append(
                    f"{wanted.setting}: `{wanted.value}` is not sold to Kubernetes worker nodes in "
                    f"{', '.join(pool.zones)}"
                )
    version = args.kubernetes_version
    if version and version.value not in versions:
        problems.append(f"{version.setting}: ACK does not offer `{version.value}`; offered: {', '.join(versions)}")
    return problems
