"""Indicative monthly cost of what a plan provisions, from the stack's price table (`ack-inference:prices`).

Counts the fixed hourly fees: node pools at their minimum and maximum size, cluster management, NAT gateways,
EIPs and load balancers (the API server's CLB that ACK creates with a cluster, one per Gateway, one per
`LoadBalancer` Service). Usage-based fees (data transfer, capacity units, disks, ACS pods) are not included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from stacks.settings.cost import PriceTable
from tooling.offline.recording import Registration
from tooling.offline.stack_files import StackConfig

NODE_POOL = "alicloud:cs/nodePool:NodePool"
CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
NAT_GATEWAY = "alicloud:vpc/natGateway:NatGateway"
EIP = "alicloud:ecs/eipAddress:EipAddress"
LOAD_BALANCERS = {
    "alicloud:slb/loadBalancer:LoadBalancer",
    "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    "alicloud:nlb/loadBalancer:LoadBalancer",
    "alicloud:alb/loadBalancer:LoadBalancer",
}
# The gateway controller exposes each Gateway through a Service of type LoadBalancer (a CLB or NLB on ACK).
GATEWAY_PREFIX = "kubernetes:gateway.networking.k8s.io/"
SERVICE = "kubernetes:core/v1:Service"


@dataclass(frozen=True)
class ListPrice:
    """A public list price (USD per hour), used for an item the price table leaves unset."""

    usd_per_hour: float
    source: str
    dated: str


# Only prices a public source states with a date. ECS, NAT, EIP and load balancer prices differ by region and
# billing mode, so they ship no default.
LIST_PRICES: dict[tuple[str, str], ListPrice] = {
    ("clusterSpecs", "ack.pro.small"): ListPrice(
        0.09,
        "https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/product-overview/ack-pro-cluster-billing"
        " (pay-as-you-go; 'prices may vary by region')",
        "page last updated 2026-03-26",
    ),
}


@dataclass(frozen=True)
class LineItem:
    key: str  # stable across plans: the item's role and the resource URN
    label: str
    monthly: tuple[float, float] | None  # at minimum and maximum size; None when a price is missing
    missing: str | None = None


@dataclass
class CostEstimate:
    currency: str
    hours_per_month: float
    items: list[LineItem] = field(default_factory=list)
    list_prices: dict[str, str] = field(default_factory=dict)  # price name -> basis, for those used

    @property
    def total(self) -> tuple[float, float]:
        priced = [item.monthly for item in self.items if item.monthly is not None]
        return sum(low for low, _ in priced), sum(high for _, high in priced)

    @property
    def unpriced(self) -> list[LineItem]:
        return [item for item in self.items if item.monthly is None]


class _PriceBook:
    def __init__(self, prices: PriceTable):
        self.prices = prices
        self.used: dict[str, str] = {}

    def lookup(self, table: str, key: str | None = None) -> float | None:
        configured = self.prices.model_dump(by_alias=True)[table]
        value = configured.get(key) if key is not None else configured
        if value is not None:
            return value
        listed = LIST_PRICES.get((table, key or ""))
        if listed is None or self.prices.currency != "USD":
            return None
        self.used[f"{table}.{key}" if key else table] = f"{listed.usd_per_hour} USD/h, {listed.source}, {listed.dated}"
        return listed.usd_per_hour


def prices_of(config: StackConfig) -> PriceTable:
    """The stack's price table; raises pydantic's ValidationError when it is malformed."""
    values, _ = config.project_values()
    raw = values.get("prices")
    return PriceTable() if raw is None else PriceTable.model_validate(json.loads(raw))


def estimate(resources: Iterable[Registration], prices: PriceTable) -> CostEstimate:
    book = _PriceBook(prices)
    result = CostEstimate(prices.currency, prices.hours_per_month)

    def add(key: str, label: str, count: tuple[int, int], options: dict[str, float | None]) -> None:
        """`options` are the prices one unit may cost (a node pool's instance types), by what they price."""
        missing = [name for name, price in options.items() if price is None]
        if missing or not options:
            what = ", ".join(missing) or "a node pool without instance types"
            result.items.append(LineItem(key, label, None, f"no price configured for {what}"))
            return
        hourly = [price for price in options.values() if price is not None]
        # Any option may run: the cheapest at the minimum count, the dearest at the maximum.
        low, high = count[0] * min(hourly), count[1] * max(hourly)
        result.items.append(LineItem(key, label, (low * prices.hours_per_month, high * prices.hours_per_month)))

    for resource in sorted(resources, key=lambda r: (r.type, r.name)):
        inputs, name, urn = resource.inputs, resource.name, resource.urn
        if resource.type == NODE_POOL:
            low, high = _node_count(inputs)
            types = inputs.get("instanceTypes") or []
            options = {f"instance type {t}": book.lookup("instanceTypes", t) for t in types}
            size = f"{low}" if low == high else f"{low}-{high}"
            add(f"nodes {urn}", f"node pool {name} ({size} x {' | '.join(types)})", (low, high), options)
        elif resource.type == CLUSTER:
            spec = inputs.get("clusterSpec") or "unset"
            add(
                f"cluster {urn}",
                f"cluster {name} ({spec})",
                (1, 1),
                {f"cluster spec {spec}": book.lookup("clusterSpecs", spec)},
            )
            lb = {"load balancers": book.lookup("loadBalancer")}
            add(f"api-server-lb {urn}", f"load balancer of the API server of {name} (made by ACK)", (1, 1), lb)
        elif resource.type == NAT_GATEWAY:
            add(f"nat {urn}", f"NAT gateway {name}", (1, 1), {"NAT gateways": book.lookup("natGateway")})
        elif resource.type == EIP:
            add(f"eip {urn}", f"EIP {name}", (1, 1), {"EIPs": book.lookup("eip")})
        elif resource.type in LOAD_BALANCERS or _is_load_balancer_object(resource):
            kind = resource.type.rsplit(":", 1)[-1]
            add(f"lb {urn}", f"load balancer of {kind} {name}", (1, 1), {"load balancers": book.lookup("loadBalancer")})
    result.list_prices = dict(sorted(book.used.items()))
    return result


def _node_count(inputs: dict) -> tuple[int, int]:
    scaling = inputs.get("scalingConfig") or {}
    if scaling.get("enable"):
        return int(scaling.get("minSize") or 0), int(scaling.get("maxSize") or 0)
    # The SDK types `desiredSize` as a string; `nodeCount` is its deprecated integer predecessor.
    fixed = int(inputs.get("desiredSize") or inputs.get("nodeCount") or 0)
    return fixed, fixed


def _is_load_balancer_object(resource: Registration) -> bool:
    if resource.type.startswith(GATEWAY_PREFIX) and resource.type.endswith(":Gateway"):
        return True
    return resource.type == SERVICE and (resource.inputs.get("spec") or {}).get("type") == "LoadBalancer"


def span(amounts: tuple[float, float], signed: bool = False) -> str:
    """`1,234.50`, or `1,234.50 to 2,469.00` for a range; with `signed`, `+12.00` / `-12.00`."""
    # Adding 0.0 turns a rounded -0.0 (float noise in a difference) into 0.0.
    low, high = (f"{round(amount, 2) + 0.0:{'+' if signed else ''},.2f}" for amount in amounts)
    return low if low == high else f"{low} to {high}"


def render(cost: CostEstimate) -> str:
    """The cost block the offline plan prints."""
    lines = [
        f"Indicative monthly cost ({cost.currency}, {cost.hours_per_month:g} h/month; node pools at minimum to "
        "maximum size; usage-based fees such as data transfer, capacity units and disks not included):"
    ]
    if not cost.items:
        lines.append("  nothing priced: the plan provisions no node pool, cluster, NAT gateway, EIP or load balancer")
        return "\n".join(lines)
    width = max(len(item.label) for item in cost.items)
    for item in cost.items:
        amount = span(item.monthly) if item.monthly is not None else item.missing
        lines.append(f"  {item.label:<{width}}  {amount}")
    total = f"  {'total':<{width}}  {span(cost.total)} {cost.currency}"
    if cost.unpriced:
        total += f" (without {len(cost.unpriced)} unpriced item{'s' if len(cost.unpriced) > 1 else ''})"
    lines.append(total)
    for name, basis in cost.list_prices.items():
        lines.append(f"  list price {name}: {basis}")
    lines.append("  Set your own or contracted prices in `ack-inference:prices` (docs/runbook.md, 'Cost preview').")
    return "\n".join(lines)
