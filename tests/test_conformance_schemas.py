"""The schema validator itself: it accepts what the API server accepts and rejects known-bad objects, including
each CEL rule of the Inference Extension CRDs and the HTTPRoute timeout rule, after applying defaults."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.releases import GATEWAY_API
from tests.schemas import KUBERNETES_VERSIONS, apply_defaults, crd_version, validate, validate_core

GIE_V1 = ("gie-v1.0.0", "gie-v1.5.0", "gie-v1.6.0")


def pool_v1(**spec_changes):
    spec = {
        "targetPorts": [{"number": 8000}],
        "selector": {"matchLabels": {"app": "vllm"}},
        "endpointPickerRef": {"name": "vllm-epp", "port": {"number": 9002}},
    }
    spec.update(spec_changes)
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "vllm", "namespace": "default"},
        "spec": spec,
    }


def inference_model_v1alpha2(target_models, model_name="llama"):
    return {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
        "kind": "InferenceModel",
        "metadata": {"name": "llama", "namespace": "default"},
        "spec": {"modelName": model_name, "poolRef": {"name": "vllm"}, "targetModels": target_models},
    }


def http_route(timeouts=None, backend=None):
    rule = {"backendRefs": [backend or {"kind": "Service", "name": "vllm", "port": 8000}]}
    if timeouts is not None:
        rule["timeouts"] = timeouts
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "route", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw", "sectionName": "http"}], "rules": [rule]},
    }


def errors_mentioning(errors, text):
    return [error for error in errors if text in error]


def test_a_valid_v1_pool_passes_every_v1_release():
    assert validate(pool_v1(), GIE_V1) == []


def test_defaults_are_applied_before_the_cel_rules():
    """`kind` defaults to Service, and then the rule requires the Service port."""
    without_port = pool_v1(endpointPickerRef={"name": "vllm-epp"})
    errors = validate(without_port, GIE_V1)
    assert len(errors_mentioning(errors, "port is required when kind is 'Service'")) == 3, errors
    defaulted = apply_defaults(
        without_port, crd_version("gie-v1.0.0", "inference.networking.k8s.io/v1", "InferencePool").schema
    )
    assert defaulted["spec"]["endpointPickerRef"]["kind"] == "Service"
    assert defaulted["spec"]["endpointPickerRef"]["failureMode"] == "FailClose"
    # Another kind of picker needs no port: the rule, not a blanket check, rejected the first object.
    assert (
        validate(pool_v1(endpointPickerRef={"name": "vllm-epp", "kind": "Picker", "group": "example.com"}), GIE_V1)
        == []
    )


def test_unique_target_ports_rule_and_the_v1_0_item_limit():
    doubled = pool_v1(targetPorts=[{"number": 8000}, {"number": 8000}])
    errors = validate(doubled, GIE_V1)
    assert errors_mentioning(errors, "[gie-v1.5.0] spec.targetPorts: port number must be unique")
    assert errors_mentioning(errors, "[gie-v1.6.0] spec.targetPorts: port number must be unique")
    assert errors_mentioning(errors, "[gie-v1.0.0] spec.targetPorts: has more than 1 items")
    two = pool_v1(targetPorts=[{"number": 8000}, {"number": 8001}])
    assert validate(two, ("gie-v1.5.0", "gie-v1.6.0")) == []


def test_inference_model_weights_all_or_none():
    mixed = inference_model_v1alpha2([{"name": "a", "weight": 50}, {"name": "b"}])
    assert errors_mentioning(validate(mixed, ("gie-v0.5.1",)), "Weights should be set for all models, or none")
    assert validate(inference_model_v1alpha2([{"name": "a"}, {"name": "b"}]), ("gie-v0.5.1",)) == []
    assert errors_mentioning(
        validate(inference_model_v1alpha2([{"name": "a", "weight": 0}]), ("gie-v0.5.1",)), "below the minimum 1"
    )


def test_transition_rules_run_on_update_only():
    created = inference_model_v1alpha2([{"name": "a"}])
    assert validate(created, ("gie-v0.5.1",)) == []
    renamed = inference_model_v1alpha2([{"name": "a"}], model_name="other")
    assert errors_mentioning(validate(renamed, ("gie-v0.5.1",), old=created), "modelName is immutable")
    assert validate(created, ("gie-v0.5.1",), old=created) == []


def test_http_route_backend_request_must_fit_in_the_request_timeout():
    too_long = http_route({"request": "1h", "backendRequest": "24h"})
    assert errors_mentioning(
        validate(too_long, GATEWAY_API), "backendRequest timeout cannot be longer than request timeout"
    )
    assert validate(http_route({"request": "24h", "backendRequest": "24h"}), GATEWAY_API) == []
    # A zero request timeout means none, so any backend timeout fits.
    assert validate(http_route({"request": "0s", "backendRequest": "24h"}), GATEWAY_API) == []
    assert errors_mentioning(validate(http_route({"request": "1 day"}), GATEWAY_API), "does not match")


def test_service_backends_need_a_port_and_pool_backends_do_not():
    no_port = http_route(backend={"kind": "Service", "name": "vllm"})
    assert errors_mentioning(validate(no_port, GATEWAY_API), "Must have port for Service reference")
    pool = {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "vllm"}
    assert validate(http_route(backend=pool), GATEWAY_API) == []


def test_structural_checks_unknown_fields_types_enums_required_and_int32():
    pool = pool_v1()
    pool["spec"]["targetPortNumber"] = 8000
    assert errors_mentioning(validate(pool, GIE_V1), "spec.targetPortNumber: is not a field of this schema")
    wrong_type = pool_v1(targetPorts=[{"number": "8000"}])
    assert errors_mentioning(validate(wrong_type, GIE_V1), "must be of type integer")
    bad_enum = pool_v1(endpointPickerRef={"name": "e", "port": {"number": 9002}, "failureMode": "Open"})
    assert errors_mentioning(validate(bad_enum, GIE_V1), "must be one of ['FailOpen', 'FailClose']")
    missing = pool_v1()
    del missing["spec"]["selector"]
    assert errors_mentioning(validate(missing, GIE_V1), "misses the required field `selector`")
    too_big = pool_v1(targetPorts=[{"number": 70000}])
    assert errors_mentioning(validate(too_big, GIE_V1), "above the maximum 65535")
    bad_label = pool_v1(selector={"matchLabels": {"app": "-bad-"}})
    assert errors_mentioning(validate(bad_label, GIE_V1), "does not match")


def test_int_or_string_and_preserved_unknown_fields():
    policy = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "BackendTrafficPolicy",
        "metadata": {"name": "buffers", "namespace": "default"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "route"}],
            "connection": {"bufferLimit": 32768},
        },
    }
    assert validate(policy, ("envoy-gateway-v1.7.5",)) == []
    policy["spec"]["connection"]["bufferLimit"] = "20Mi"
    assert validate(policy, ("envoy-gateway-v1.7.5",)) == []
    policy["spec"]["connection"]["bufferLimit"] = "lots"
    assert errors_mentioning(validate(policy, ("envoy-gateway-v1.7.5",)), "spec.connection.bufferLimit")
    policy["spec"]["connection"]["bufferLimit"] = 1.5
    assert errors_mentioning(validate(policy, ("envoy-gateway-v1.7.5",)), "must be an integer or a string")
    # Under x-kubernetes-preserve-unknown-fields anything goes (an EnvoyProxy's Deployment patch).
    patch = {"type": "StrategicMerge", "value": {"anything": {"goes": [1, "two"]}}}
    proxy = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyProxy",
        "metadata": {"name": "proxy", "namespace": "default"},
        "spec": {"provider": {"type": "Kubernetes", "kubernetes": {"envoyDeployment": {"patch": patch}}}},
    }
    assert validate(proxy, ("envoy-gateway-v1.7.5",)) == []
    patch["unknown"] = True
    assert errors_mentioning(validate(proxy, ("envoy-gateway-v1.7.5",)), "unknown")


def test_an_api_version_the_release_does_not_serve_is_an_error():
    v1alpha1 = {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "InferencePool",
        "metadata": {"name": "vllm", "namespace": "default"},
        "spec": {"targetPortNumber": 8000, "selector": {"app": "vllm"}, "extensionRef": {"name": "epp"}},
    }
    assert validate(v1alpha1, ("gie-v0.1.0",)) == []
    assert validate(v1alpha1, ("gie-v0.5.1", "gie-v1.0.0")) == [
        "<root>: no CRD in gie-v0.5.1, gie-v1.0.0 serves InferencePool inference.networking.x-k8s.io/v1alpha1"
    ]


def test_metadata_names_labels_and_scope():
    bad_name = pool_v1()
    bad_name["metadata"]["name"] = "Not_A_Name"
    assert errors_mentioning(validate(bad_name, GIE_V1), "metadata.name: `Not_A_Name` is not a valid")
    gateway_class = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "cls", "namespace": "default"},
        "spec": {"controllerName": "example.com/controller"},
    }
    assert errors_mentioning(validate(gateway_class, GATEWAY_API), "metadata.namespace: must not be set")
    labelled = pool_v1()
    labelled["metadata"]["labels"] = {"app": "a" * 64}
    assert errors_mentioning(validate(labelled, GIE_V1), "is not a valid label value")


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "vllm", "namespace": "default"},
    "spec": {"selector": {"app": "vllm"}, "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]},
}


def test_core_objects_against_the_bundled_kubernetes_schemas():
    assert validate_core(SERVICE) == []
    typo = copy.deepcopy(SERVICE)
    typo["spec"]["port"] = 8000
    assert errors_mentioning(validate_core(typo), "Additional properties are not allowed")
    wrong = copy.deepcopy(SERVICE)
    wrong["spec"]["ports"][0]["port"] = "eight thousand"
    assert errors_mentioning(validate_core(wrong), "spec.ports.0.port")
    dotted = copy.deepcopy(SERVICE)
    dotted["metadata"]["name"] = "v.llm"  # a Service name is a DNS-1035 label
    assert errors_mentioning(validate_core(dotted), "is not a valid Service name")


@pytest.mark.parametrize("field", ["labels", "annotations"])
def test_metadata_maps_hold_strings(field):
    service = copy.deepcopy(SERVICE)
    service["metadata"][field] = {"prometheus.io/port": 8000}
    assert errors_mentioning(validate_core(service), f"metadata: metadata.{field}.prometheus.io/port")


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "vllm", "namespace": "default"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "vllm"}},
        "template": {
            "metadata": {"labels": {"app": "vllm"}},
            "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai", "ports": [{"containerPort": 8000}]}]},
        },
    },
}


def broken_deployments():
    wrong_type = copy.deepcopy(DEPLOYMENT)
    wrong_type["spec"]["replicas"] = "two"
    nested_wrong_type = copy.deepcopy(DEPLOYMENT)
    nested_wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    unknown_field = copy.deepcopy(DEPLOYMENT)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    missing = copy.deepcopy(DEPLOYMENT)
    del missing["spec"]["selector"]
    return [wrong_type, nested_wrong_type, unknown_field, missing]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_cached_core_validators_report_what_kubernetes_validate_reports(version):
    """`validate_core` builds one validator per kind and Kubernetes version and reuses it; its verdicts stay
    those of `kubernetes_validate.validate`, which re-reads the schemas on every call."""
    assert validate_core(DEPLOYMENT, (version,)) == []
    for broken in broken_deployments():
        with pytest.raises(kubernetes_validate.ValidationError) as raised:
            kubernetes_validate.validate(broken, version, strict=True)
        expected = f"{'.'.join(map(str, raised.value.path)) or '<root>'}: {raised.value.message} (Kubernetes {version})"
        for _ in range(2):  # built on the first call, reused on the second
            assert validate_core(broken, (version,)) == [expected]
    wrong_type = broken_deployments()[0]
    assert validate_core(wrong_type, (version,)) == [
        f"spec.replicas: 'two' is not of type 'integer', 'null' (Kubernetes {version})"
    ]
