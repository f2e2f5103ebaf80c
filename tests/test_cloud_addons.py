"""The add-on preflight: a configured name the cluster does not offer, and config that breaks the add-on's schema.

Under mocks the offered catalogue and the config schemas come from the invoke mocks; these tests register
their own to prove the failure paths, as the real invokes would answer them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cloud.cluster_addons import (
    AddonPreflightError,
    AddonSpec,
    config_schema_problems,
    go_json,
    related_names,
)
from stacks.config_loader import load_settings
from stacks.layers.cloud import build_cloud
from tests.harness import plan_stack, stack_config
from tooling.offline import mocks
from tooling.offline.run import try_simulate

ADDONS_INVOKE = "alicloud:cs/getKubernetesAddons:getKubernetesAddons"
METADATA_INVOKE = "alicloud:cs/getKubernetesAddonMetadata:getKubernetesAddonMetadata"
ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon"
EXISTING = {"cluster": {"mode": "existing", "id": "c0123456789abcdef"}, "network": None}


def cloud_only() -> None:
    build_cloud(load_settings())


def catalogue_without(*names: str):
    offered = mocks.INVOKE_RESULTS[ADDONS_INVOKE]

    def catalogue(args) -> dict[str, Any]:
        result = offered(args)
        result["addons"] = [a for a in result["addons"] if a["name"] not in names]
        result["names"] = [a["name"] for a in result["addons"]]
        return result

    return catalogue


def schema_for(name: str, schema: dict[str, Any]):
    def metadata(args) -> dict[str, Any]:
        return {
            "clusterId": args.args["clusterId"],
            "name": args.args["name"],
            "version": args.args["version"],
            "configSchema": json.dumps(schema) if args.args["name"] == name else "",
        }

    return metadata


def test_missing_gateway_addon_fails_with_related_candidates(monkeypatch):
    monkeypatch.setitem(mocks.INVOKE_RESULTS, ADDONS_INVOKE, catalogue_without("ack-gateway-with-inference-extension"))
    plan, error = try_simulate(stack_config("dev"), program=cloud_only)
    assert isinstance(error, AddonPreflightError)
    assert str(error) == (
        "ack-inference:addons.inferenceGateway.name: the cluster does not offer an add-on named "
        "`ack-gateway-with-inference-extension`; offered add-ons that look related: gateway-api. "
        "Set `ack-inference:addons.inferenceGateway.name` to the right one."
    )
    # The add-on that failed the check is never sent to ACK; the one before it is.
    assert [r.inputs["name"] for r in plan.of_type(ADDON)] == ["gateway-api"]


def test_preflight_lists_every_offered_name_when_none_looks_related(monkeypatch):
    monkeypatch.setitem(mocks.INVOKE_RESULTS, ADDONS_INVOKE, catalogue_without("gateway-api"))
    addons = {"gatewayApi": {"name": "kgw-crds"}}
    _, error = try_simulate(stack_config("dev", {"addons": addons}), program=cloud_only)
    assert isinstance(error, AddonPreflightError)
    message = str(error)
    assert message.startswith(
        "ack-inference:addons.gatewayApi.name: the cluster does not offer an add-on named `kgw-crds`"
    )
    assert f"offered add-ons: {', '.join(sorted(n for n in mocks.OFFERED_ADDONS if n != 'gateway-api'))}." in message


def test_preflight_runs_at_preview_for_an_existing_cluster(monkeypatch):
    # The cluster id is known before anything is created, so a wrong name fails the preview itself.
    monkeypatch.setitem(mocks.INVOKE_RESULTS, ADDONS_INVOKE, catalogue_without("gateway-api"))
    plan, error = try_simulate(stack_config("dev", EXISTING), program=cloud_only, preview=True)
    assert isinstance(error, AddonPreflightError)
    assert str(error).startswith("ack-inference:addons.gatewayApi.name: ")
    assert plan.of_type(ADDON) == []


def test_virtual_node_addon_is_checked_too(monkeypatch):
    monkeypatch.setitem(mocks.INVOKE_RESULTS, ADDONS_INVOKE, catalogue_without("ack-virtual-node"))
    _, error = try_simulate(stack_config("dev", {"compute": {"mode": "acs"}}), program=cloud_only)
    assert isinstance(error, AddonPreflightError)
    assert str(error).startswith("ack-inference:addons.virtualNode.name: the cluster does not offer")


def test_config_violating_the_published_schema_fails(monkeypatch):
    schema = {
        "type": "object",
        "properties": {"inferenceExtension": {"type": "object", "properties": {"enabled": {"type": "boolean"}}}},
        "additionalProperties": False,
    }
    monkeypatch.setitem(
        mocks.INVOKE_RESULTS, METADATA_INVOKE, schema_for("ack-gateway-with-inference-extension", schema)
    )
    plan, error = try_simulate(stack_config("dev"), program=cloud_only)
    assert isinstance(error, AddonPreflightError)
    assert "ack-inference:addons.inferenceGateway.config: Additional properties are not allowed" in str(error)
    assert "enableInferenceExtension" in str(error)
    assert [r.inputs["name"] for r in plan.of_type(ADDON)] == ["gateway-api"]


def test_config_matching_the_published_schema_is_installed(monkeypatch):
    schema = {"type": "object", "properties": {"enableInferenceExtension": {"type": "boolean"}}}
    seen: list[dict[str, Any]] = []
    metadata = schema_for("ack-gateway-with-inference-extension", schema)

    def recording(args):
        seen.append(dict(args.args))
        return metadata(args)

    monkeypatch.setitem(mocks.INVOKE_RESULTS, METADATA_INVOKE, recording)
    plan, error = try_simulate(stack_config("dev"), program=cloud_only)
    assert error is None
    gateway = plan.one(ADDON, "addons-inference-gateway")
    assert json.loads(gateway.inputs["config"]) == {"enableInferenceExtension": True}
    # Without a pinned version the schema of the version ACK would install is used; add-ons without config
    # need no schema.
    assert [(a["name"], a["version"]) for a in seen] == [
        ("ack-gateway-with-inference-extension", mocks.OFFERED_ADDONS["ack-gateway-with-inference-extension"])
    ]


def test_pinned_version_selects_the_schema(monkeypatch):
    seen: list[str] = []

    def recording(args):
        seen.append(args.args["version"])
        return schema_for("none", {})(args)

    monkeypatch.setitem(mocks.INVOKE_RESULTS, METADATA_INVOKE, recording)
    addons = {
        "inferenceGateway": {
            "name": "ack-gateway-with-inference-extension",
            "version": "v1.4.0-apsara.4",
            "config": {"a": 1},
        }
    }
    _, error = try_simulate(stack_config("dev", {"addons": addons}), program=cloud_only)
    assert error is None
    assert seen == ["v1.4.0-apsara.4"]


SPEC = AddonSpec(
    role="inference-gateway", name="gw", setting="ack-inference:addons.inferenceGateway", config={"replicas": "2"}
)


def test_schema_problems_name_the_config_path():
    schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    assert config_schema_problems(SPEC, json.dumps(schema)) == [
        "ack-inference:addons.inferenceGateway.config.replicas: '2' is not of type 'integer'"
    ]
    assert config_schema_problems(SPEC, "") == []  # the add-on publishes no schema
    assert config_schema_problems(AddonSpec(role="r", name="n", setting="s"), json.dumps(schema)) == []


@pytest.mark.parametrize(
    ("name", "offered", "related"),
    [
        (
            "ack-gateway-with-inference-extension",
            ["gateway-api", "ack-gateway-inference", "csi-plugin"],
            ["ack-gateway-inference", "gateway-api"],
        ),
        ("gatway-api", ["gateway-api", "metrics-server"], ["gateway-api"]),
        ("virtual-node", ["ack-virtual-node", "flannel"], ["ack-virtual-node"]),
        ("something-else", ["flannel", "csi-plugin"], []),
    ],
)
def test_related_names(name, offered, related):
    assert related_names(name, offered) == related


def test_addon_config_is_sent_in_the_form_the_provider_reads_back():
    # The provider stores json.Marshal of the config it reads (resource_alicloud_cs_kubernetes_addon.go):
    # compact, sorted keys, <>& escaped, integral numbers without a fraction. Any other spelling is a diff on
    # every preview, since `config` has no diff suppression.
    assert go_json({"enableInferenceExtension": True}) == '{"enableInferenceExtension":true}'
    assert go_json({"b": [1.0, 2.5], "a": "x<y>&z é"}) == '{"a":"x\\u003cy\\u003e\\u0026z é","b":[1,2.5]}'
    plan = plan_stack("dev")
    configs = [
        r.inputs["config"] for r in plan.of_type("alicloud:cs/kubernetesAddon:KubernetesAddon") if "config" in r.inputs
    ]
    assert configs and all(config == go_json(json.loads(config)) for config in configs)
    assert '{"enableInferenceExtension":true}' in configs
