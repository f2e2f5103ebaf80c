"""Moving from the `v1alpha2` to the `v1` Inference Extension API without downtime (runbook, section 5): a model's
own `apiVersion` puts its pool and objects in that API's group next to the old pool, and one `llm-gw` route rule
splits the served name between both pools by weight."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.harness import config_error, messages, plan_stack
from tests.releases import ENVOY_GATEWAY, GATEWAY_API
from tests.schemas import validate

X_K8S = "inference.networking.x-k8s.io"
GA = "inference.networking.k8s.io"
ADDON = {"inferenceGateway": {"name": "ack-gateway-with-inference-extension", "version": "v1.4.0-apsara.4"}}
OLD = {"name": "llama-old", "servedModelName": "llama-2-7b", "weight": 90, "criticality": "Standard"}
NEW = {
    "name": "llama-new",
    "servedModelName": "llama-2-7b",
    "weight": 10,
    "criticality": "Standard",
    "apiVersion": "v1",
}
MIGRATION = {"routing": {"apiVersion": "v1alpha2"}, "addons": ADDON, "models": [OLD, NEW]}
# gie-v1.0.0 serves both pool versions and InferenceObjective; InferenceModel ends with gie-v0.5.1.
RELEASES = {"InferenceModel": ("gie-v0.5.1",), "InferencePool": ("gie-v1.0.0",), "InferenceObjective": ("gie-v1.0.0",)}
OTHER_RELEASES = (*GATEWAY_API, *ENVOY_GATEWAY)


@functools.cache
def migration_objects() -> list[dict[str, Any]]:
    return plan_stack("dev", MIGRATION).kubernetes_objects()


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in migration_objects() if o["kind"] == kind}


def test_each_pool_lives_in_the_group_of_its_model_api_version():
    pools = named("InferencePool")
    assert {name: pool["apiVersion"] for name, pool in pools.items()} == {
        "llama-old": f"{X_K8S}/v1alpha2",
        "llama-new": f"{GA}/v1",
    }
    assert pools["llama-old"]["spec"]["extensionRef"]["name"] == "llama-old-ext-proc"
    assert pools["llama-new"]["spec"]["endpointPickerRef"]["name"] == "llama-new-ext-proc"


def test_one_route_rule_splits_the_served_name_between_the_old_and_the_new_pool():
    (route,) = [o for o in named("HTTPRoute").values() if o["spec"]["parentRefs"][0].get("sectionName") == "llm-gw"]
    (rule,) = route["spec"]["rules"]
    assert rule["backendRefs"] == [
        {"group": X_K8S, "kind": "InferencePool", "name": "llama-old", "weight": 90},
        {"group": GA, "kind": "InferencePool", "name": "llama-new", "weight": 10},
    ]


def test_the_old_pool_keeps_its_inference_model_and_the_new_one_gets_an_objective():
    models = named("InferenceModel")
    assert list(models) == ["llama-old"]
    assert models["llama-old"]["apiVersion"] == f"{X_K8S}/v1alpha2"
    assert models["llama-old"]["spec"]["poolRef"] == {"group": X_K8S, "kind": "InferencePool", "name": "llama-old"}
    objectives = named("InferenceObjective")
    assert list(objectives) == ["llama-new"]
    assert objectives["llama-new"]["spec"] == {
        "poolRef": {"group": GA, "kind": "InferencePool", "name": "llama-new"},
        "priority": -1,
    }


def test_every_object_validates_against_the_crds_of_its_api_version():
    checked = [o for o in migration_objects() if not o["apiVersion"].startswith("monitoring.coreos.com/")]
    failures = {
        f"{o['kind']} {o['metadata']['name']}": errors
        for o in checked
        if (errors := validate(o, RELEASES.get(o["kind"], OTHER_RELEASES)))
    }
    assert failures == {}
    assert {"InferencePool", "InferenceModel", "InferenceObjective"} <= {o["kind"] for o in checked}


def test_the_reverse_pair_puts_one_model_back_on_v1alpha2():
    back = {"routing": {"apiVersion": "v1"}, "addons": ADDON, "models": [{**OLD, "apiVersion": "v1alpha2"}, NEW]}
    objects = plan_stack("dev", back).kubernetes_objects()
    pools = {o["metadata"]["name"]: o["apiVersion"] for o in objects if o["kind"] == "InferencePool"}
    assert pools == {"llama-old": f"{X_K8S}/v1alpha2", "llama-new": f"{GA}/v1"}
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "InferenceModel"] == ["llama-old"]


def problem_keys(overrides: dict[str, Any]) -> dict[str, str]:
    found = (message.split(": ", 1) for message in messages(config_error("dev", overrides)))
    return {key.removeprefix("ack-inference:"): message for key, message in found}


def test_v1alpha1_stays_stack_wide():
    found = problem_keys({**MIGRATION, "routing": {"apiVersion": "v1alpha1", "attachment": "backendRef"}})
    assert "cannot differ from `routing.apiVersion: v1alpha1`" in found["models[1].apiVersion"]
    assert "models[0].apiVersion" not in found
    assert "models[0].apiVersion" in problem_keys({"models": [{**OLD, "apiVersion": "v1alpha1"}]})


def test_mixed_api_versions_need_backend_ref_attachment():
    found = problem_keys({**MIGRATION, "routing": {"apiVersion": "v1alpha2", "attachment": "annotation"}})
    assert "use `backendRef`" in found["routing.attachment"]


@pytest.mark.parametrize(
    ("version", "stack_problem"),
    [("v1.4.0-apsara.3", False), ("v1.3.0-aliyun.1", True)],
)
def test_the_add_on_must_serve_each_model_api_version(version, stack_problem):
    found = problem_keys(
        {**MIGRATION, "addons": {"inferenceGateway": {**ADDON["inferenceGateway"], "version": version}}}
    )
    assert "`v1` needs gateway add-on v1.4.0-apsara.4 or newer" in found["models[1].apiVersion"]
    assert ("routing.apiVersion" in found) is stack_problem
    assert "models[0].apiVersion" not in found


def test_a_self_hosted_picker_needs_every_pool_on_v1():
    self_hosted = {"apiVersion": "v1", "endpointPicker": {"mode": "selfHosted"}}
    found = problem_keys({**MIGRATION, "routing": self_hosted, "models": [{**OLD, "apiVersion": "v1alpha2"}, NEW]})
    assert "serves `apiVersion: v1` pools only" in found["routing.endpointPicker.mode"]
