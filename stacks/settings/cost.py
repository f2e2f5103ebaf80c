"""The price table the offline plan's cost preview uses (`ack-inference:prices`).

Prices are hourly, pay-as-you-go, in one currency: put your own or contracted prices here. Items left unset use
the list prices in `tooling/cost.py` (each with its source and date) when the currency is USD, and are otherwise
reported as "no price configured".
"""

from __future__ import annotations

from pydantic import Field, NonNegativeFloat

from stacks.settings.base import ConfigModel


class PriceTable(ConfigModel):
    currency: str = Field(
        "USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of every price in this table, e.g. `USD`, `CNY`."
    )
    hours_per_month: float = Field(
        730, gt=0, le=744, description="Hours in a billing month (730 is a year's 8760 hours over 12 months)."
    )
    instance_types: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Hourly price of one ECS instance by instance type (`<instance type>: <price>`). No "
        "defaults: ECS prices differ by region, so node pools are priced only from this table.",
    )
    cluster_specs: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Hourly cluster management fee by `clusterSpec`, e.g. `ack.pro.small: 0.09`. With `currency: "
        "USD`, a spec left out uses the list price in `tooling/cost.py` if there is one (with its source and date).",
    )
    nat_gateway: NonNegativeFloat | None = Field(
        None, description="Hourly instance fee of one NAT gateway (capacity units are billed on top, by use)."
    )
    eip: NonNegativeFloat | None = Field(
        None, description="Hourly fee of one EIP held (data transfer is billed on top, by use)."
    )
    load_balancer: NonNegativeFloat | None = Field(
        None,
        description="Hourly fee of one load balancer (instance and public IP fees; capacity units and data "
        "transfer are billed on top, by use). Counts the API server's CLB, one per Gateway and one per `LoadBalancer` "
        "Service.",
    )
