"""The cost preview prices what a plan provisions from the stack's price table, and says what it cannot price."""

from __future__ import annotations

import subprocess
import sys

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s
import pytest
import yaml

from stacks.config_loader import parse_settings
from stacks.errors import ConfigError
from stacks.settings.compute import GpuPoolSettings
from stacks.settings.cost import PriceTable
from tests.harness import stack_config
from tooling.cost import LIST_PRICES, estimate, prices_of, render
from tooling.offline.checkout import copy_program
from tooling.offline.run import simulate

GPU = "ecs.gn7i-c8g1.2xlarge"
GPU_LARGE = "ecs.gn7i-c16g1.4xlarge"
CPU = "ecs.g7.xlarge"
HOURS = 730


def program() -> None:
    cluster = alicloud.cs.ManagedKubernetes("ack", cluster_spec="ack.pro.small", vswitch_ids=["vsw-a"])
    alicloud.cs.NodePool(
        "gpu",
        cluster_id=cluster.id,
        instance_types=[GPU, GPU_LARGE],
        scaling_config=alicloud.cs.NodePoolScalingConfigArgs(enable=True, min_size=1, max_size=3, type="gpu"),
    )
    alicloud.cs.NodePool("system", cluster_id=cluster.id, instance_types=[CPU], desired_size="2")
    alicloud.vpc.NatGateway("nat", vpc_id="vpc-a", nat_type="Enhanced")
    alicloud.ecs.EipAddress("eip", bandwidth="100")
    provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig"))
    opts = pulumi.ResourceOptions(provider=provider)
    k8s.apiextensions.CustomResource(
        "gateway",
        api_version="gateway.networking.k8s.io/v1",
        kind="Gateway",
        metadata={"name": "inference-gateway", "namespace": "default"},
        spec={"gatewayClassName": "ack-gateway", "listeners": []},
        opts=opts,
    )
    k8s.core.v1.Service("public", metadata={"name": "public"}, spec={"type": "LoadBalancer", "ports": []}, opts=opts)
    k8s.core.v1.Service("internal", metadata={"name": "internal"}, spec={"type": "ClusterIP", "ports": []}, opts=opts)


@pytest.fixture(scope="module")
def plan():
    return simulate(stack_config("dev"), program=program)


PRICES = PriceTable(
    instance_types={GPU: 1.5, GPU_LARGE: 3.0, CPU: 0.2},
    cluster_specs={"ack.pro.small": 0.1},
    nat_gateway=0.04,
    eip=0.005,
    load_balancer=0.02,
)


def by_label(cost) -> dict[str, object]:
    return {item.label: item.monthly if item.monthly is not None else item.missing for item in cost.items}


def test_every_billable_resource_is_priced_at_minimum_and_maximum_size(plan):
    items = by_label(estimate(plan.resources, PRICES))
    assert items == {
        # Autoscaling 1-3 over two types: the cheaper at the minimum, the dearer at the maximum.
        f"node pool gpu (1-3 x {GPU} | {GPU_LARGE})": (1 * 1.5 * HOURS, 3 * 3.0 * HOURS),
        f"node pool system (2 x {CPU})": (2 * 0.2 * HOURS, 2 * 0.2 * HOURS),
        "cluster ack (ack.pro.small)": (0.1 * HOURS, 0.1 * HOURS),
        "load balancer of the API server of ack (made by ACK)": (0.02 * HOURS, 0.02 * HOURS),
        "NAT gateway nat": (0.04 * HOURS, 0.04 * HOURS),
        "EIP eip": (0.005 * HOURS, 0.005 * HOURS),
        "load balancer of Gateway gateway": (0.02 * HOURS, 0.02 * HOURS),
        "load balancer of Service public": (0.02 * HOURS, 0.02 * HOURS),
    }


def test_total_adds_every_item_at_each_end_of_the_range(plan):
    cost = estimate(plan.resources, PRICES)
    fixed = (0.1 + 0.02 + 0.04 + 0.005 + 0.02 + 0.02 + 2 * 0.2) * HOURS
    assert cost.total == pytest.approx((fixed + 1.5 * HOURS, fixed + 9.0 * HOURS))
    text = render(cost)
    assert f"{fixed + 1.5 * HOURS:,.2f} to {fixed + 9.0 * HOURS:,.2f} USD" in text


def test_unpriced_items_are_named_and_left_out_of_the_total(plan):
    prices = PriceTable(instance_types={GPU: 1.5}, load_balancer=0.02)
    cost = estimate(plan.resources, prices)
    items = by_label(cost)
    assert items[f"node pool gpu (1-3 x {GPU} | {GPU_LARGE})"] == f"no price configured for instance type {GPU_LARGE}"
    assert items[f"node pool system (2 x {CPU})"] == f"no price configured for instance type {CPU}"
    assert items["NAT gateway nat"] == "no price configured for NAT gateways"
    assert items["EIP eip"] == "no price configured for EIPs"
    text = render(cost)
    assert "no price configured for NAT gateways" in text
    assert "(without 4 unpriced items)" in text
    list_price = LIST_PRICES[("clusterSpecs", "ack.pro.small")].usd_per_hour
    assert cost.total == pytest.approx(((list_price + 3 * 0.02) * HOURS,) * 2)


def test_list_prices_fill_unset_items_in_usd_only_and_say_where_they_come_from(plan):
    listed = LIST_PRICES[("clusterSpecs", "ack.pro.small")]
    assert listed.source.startswith("https://") and listed.dated
    in_usd = estimate(plan.resources, PriceTable())
    assert by_label(in_usd)["cluster ack (ack.pro.small)"] == (listed.usd_per_hour * HOURS,) * 2
    assert listed.source in render(in_usd) and listed.dated in render(in_usd)
    in_yuan = estimate(plan.resources, PriceTable(currency="CNY"))
    assert by_label(in_yuan)["cluster ack (ack.pro.small)"] == "no price configured for cluster spec ack.pro.small"
    assert listed.source not in render(in_yuan)
    contracted = estimate(plan.resources, PriceTable(cluster_specs={"ack.pro.small": 0.05}))
    assert by_label(contracted)["cluster ack (ack.pro.small)"] == (0.05 * HOURS,) * 2


def test_hours_per_month_and_currency_come_from_the_table(plan):
    cost = estimate(plan.resources, PriceTable(currency="CNY", hours_per_month=720, nat_gateway=0.25))
    assert by_label(cost)["NAT gateway nat"] == (0.25 * 720, 0.25 * 720)
    assert render(cost).startswith("Indicative monthly cost (CNY, 720 h/month;")


def test_a_plan_without_billable_resources_says_so():
    def nothing() -> None:
        k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig"))

    cost = estimate(simulate(stack_config("dev"), program=nothing).resources, PRICES)
    assert cost.items == []
    assert "nothing priced" in render(cost)


def test_the_price_table_is_read_from_the_stack_config():
    config = stack_config("dev", overrides={"prices": {"currency": "EUR", "instanceTypes": {GPU: 1.25}}})
    prices = prices_of(config)
    assert prices.currency == "EUR"
    assert prices.instance_types == {GPU: 1.25}
    assert prices_of(stack_config("dev", overrides={"prices": None})) == PriceTable()


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"instanceTypes": {GPU: -1}}, f"ack-inference:prices.instanceTypes.{GPU}: Input should be greater than"),
        ({"currency": "dollars"}, "ack-inference:prices.currency: String should match pattern"),
        ({"natGateways": 0.1}, "ack-inference:prices.natGateways: unknown key (did you mean 'natGateway'?)"),
        ({"hoursPerMonth": 0}, "ack-inference:prices.hoursPerMonth: Input should be greater than 0"),
    ],
)
def test_a_malformed_price_table_is_a_config_error(prices, message):
    with pytest.raises(ConfigError) as error:
        parse_settings({"prices": stack_config("dev", overrides={"prices": prices}).values["ack-inference:prices"]})
    assert any(str(problem).startswith(message) for problem in error.value.problems), error.value.problems


def test_the_offline_plan_prints_the_dev_stacks_cost_from_its_price_table(tmp_path):
    """`make plan` on a checkout whose stack file prices the GPU type and the NAT gateway."""
    project = copy_program(tmp_path)
    stack = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    gpu = GpuPoolSettings()
    stack["config"]["ack-inference:prices"] = {
        "instanceTypes": dict.fromkeys(gpu.instance_types, 1.5),
        "natGateway": 0.04,
    }
    (project / "Pulumi.priced.yaml").write_text(yaml.safe_dump(stack))
    result = subprocess.run(
        [sys.executable, "-m", "tooling.plan", "--stack", "priced", "--out", "build/priced"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cost = result.stdout.split("Indicative monthly cost (USD, 730 h/month;", 1)[1]
    lines = cost.splitlines()
    (pool,) = [line for line in lines if f"x {' | '.join(gpu.instance_types)})" in line]
    assert pool.endswith(f"{gpu.min_size * 1.5 * HOURS:,.2f} to {gpu.max_size * 1.5 * HOURS:,.2f}")
    assert any(line.startswith("  NAT gateway ") and line.endswith(f"{0.04 * HOURS:,.2f}") for line in lines)
    assert any("no price configured for instance type" in line for line in lines), "the system pool is unpriced"
    assert (project / "build/priced/graph.mmd").is_file()
