"""The alicloud mocks: deterministic, and shaped like what the provider returns."""

from __future__ import annotations

import json

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
