"""The alicloud mocks: deterministic, and shaped like what the provider returns."""

from __future__ import annotations

import json
import re

import pytest
from pulumi.runtime import MockCallArgs

from stacks.settings import StackSettings
from tests.test_cloud_layer import ADDON, CLUSTER, cloud_run
from tooling.offline import mocks


def test_two_runs_give_the_same_plan():
    first, _ = cloud_run()
    second, _ = cloud_run()
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(second.to_json(), sort_keys=True)


def test_ids_and_computed_outputs_look_like_alibaba_cloud():
    plan, _ = cloud_run()
    assert plan.outputs["vpcId"].startswith("vpc-")
    assert plan.outputs["clusterId"].startswith("c")
    for addon in plan.of_type(ADDON):
        assert addon.inputs["clusterId"] == plan.outputs["clusterId"]
    assert plan.one(CLUSTER).inputs["vswitchIds"][0].startswith("vsw-")


def test_the_mock_catalogue_offers_every_default_addon():
    addons = StackSettings().addons
    defaults = [addons.gateway_api, addons.inference_gateway, addons.virtual_node, addons.arms_prometheus]
    assert {a.name for a in defaults} <= set(mocks.OFFERED_ADDONS)


def test_ids_pass_the_providers_validation():
    # ManagedKubernetes validates `vswitch_ids` items as `^vsw-[a-z0-9]*$`
    # (terraform-provider-alicloud `resource_alicloud_cs_managed_kubernetes.go:57`); cluster ids are `c` + 32 hex,
    # node pool ids `<cluster_id>:np<32 hex>` (`resource_alicloud_cs_kubernetes_node_pool.go:33`).
    plan, _ = cloud_run()
    cluster = plan.one(CLUSTER)
    assert all(re.fullmatch(r"vsw-[a-z0-9]+", vsw) for vsw in cluster.inputs["vswitchIds"])
    assert re.fullmatch(r"c[0-9a-f]{32}", plan.outputs["clusterId"])
    for pool_id in plan.outputs["nodePoolIds"].values():
        assert re.fullmatch(r"np[0-9a-f]{32}", pool_id)


def test_the_eip_reads_back_the_payment_type_the_api_answers():
    # `PostPaid` passes validation but is read back as `PayAsYouGo` (`resource_alicloud_eip_address.go:355`).
    state = mocks.READ_BACK["alicloud:ecs/eipAddress:EipAddress"]({"paymentType": "PostPaid", "bandwidth": 10}, None)
    assert state["paymentType"] == "PayAsYouGo"
    assert state["bandwidth"] == "10"


def test_addon_config_is_read_back_as_go_marshals_the_merge():
    read = mocks.READ_BACK["alicloud:cs/kubernetesAddon:KubernetesAddon"]
    state = read({"config": '{"b": 1.0, "a": "<x>"}'}, None)
    assert state["config"] == '{"a":"\\u003cx\\u003e","b":1}'
    # Only keys on both sides, with the server's values.
    state = read({"config": '{"a": 1, "c": 2}'}, {"config": '{"a": "1", "b": 3}'})
    assert state["config"] == '{"a":"1"}'


def _call(token: str, args: dict, region: str = "cn-hangzhou") -> dict:
    return mocks.ProviderMocks(region=region).call(MockCallArgs(token, args, ""))


def test_the_data_sources_answer_for_the_stacks_region_as_the_provider_shapes_them():
    zones = _call("alicloud:index/getZones:getZones", {"availableResourceCreation": "VSwitch"})
    assert zones["ids"] == sorted(zones["ids"]) and all(z.startswith("cn-hangzhou-") for z in zones["ids"])
    # `local_name` and the `available_*` lists only with enable_details (data_source_alicloud_zones.go:424).
    assert zones["zones"][0]["availableInstanceTypes"] == []
    shanghai = _call("alicloud:index/getZones:getZones", {}, region="cn-shanghai")
    assert all(z.startswith("cn-shanghai-") for z in shanghai["ids"])
    # Kubernetes workers: no type under 2 vCPU or 4 GiB (data_source_alicloud_instance_types.go:402-421).
    types = _call(
        "alicloud:ecs/getInstanceTypes:getInstanceTypes",
        {"availabilityZone": "cn-hangzhou-i", "kubernetesNodeRole": "Worker"},
    )
    assert all(t["cpuCoreCount"] >= 2 and t["memorySize"] >= 4 for t in types["instanceTypes"])
    gpu = next(t for t in types["instanceTypes"] if t["gpus"])
    assert isinstance(gpu["gpus"][0]["amount"], str)  # a string in the provider's schema
    assert _call("alicloud:ecs/getInstanceTypes:getInstanceTypes", {"availabilityZone": "cn-shanghai-b"})["ids"] == []


def test_a_region_outside_the_catalogue_is_a_one_line_error():
    with pytest.raises(mocks.CatalogueError, match="alicloud:region `cn-shenzhen` is not in the offline catalogue"):
        _call("alicloud:index/getZones:getZones", {}, region="cn-shenzhen")
