"""The inference layer in the whole program: components and parents, the cloud layer's provider, ordering after
the CRD installers and the capacity, secrets kept secret, stack outputs, and the pod-label hook."""

from __future__ import annotations

import json

import pulumi

from stacks.config_loader import load_settings
from stacks.layers.cloud import build_cloud
from stacks.layers.inference import build_inference
from tests.harness import plan_stack, stack_config
from tests.test_conformance import EVERYTHING, planned
from tooling.offline.recording import SECRET, Plan, Registration
from tooling.offline.run import simulate

ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon"
NODE_POOL = "alicloud:cs/nodePool:NodePool"
K8S_PROVIDER = "pulumi:providers:kubernetes"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CUSTOM_RESOURCE_GROUPS = ("gateway.networking.k8s.io", "inference.networking")
INFERENCE_COMPONENTS = "ack-inference:inference:"


def inference_resources(plan: Plan) -> list[Registration]:
    """Every Kubernetes object under an inference component."""
    return [
        r
        for r in plan.resources
        if r.is_kubernetes_object and any(a.type.startswith(INFERENCE_COMPONENTS) for a in plan.ancestors(r))
    ]


def addon(plan: Plan, name: str) -> Registration:
    return next(r for r in plan.of_type(ADDON) if r.inputs["name"] == name)


def everything() -> Plan:
    return planned("everything")[0]


def test_every_inference_object_belongs_to_its_component_and_uses_the_cluster_provider():
    for plan in (plan_stack("dev"), everything()):
        (provider,) = plan.of_type(K8S_PROVIDER)
        resources = inference_resources(plan)
        assert resources
        for resource in resources:
            assert resource.provider == provider.urn, resource.name
            parent = plan.by_urn(resource.parent)
            assert parent.type.startswith(INFERENCE_COMPONENTS)
            assert resource.name.startswith(f"{parent.name}-")
        assert plan.duplicates == []


def test_the_dev_component_tree():
    plan = plan_stack("dev")
    components = sorted((r.type, r.name) for r in plan.resources if r.type.startswith(INFERENCE_COMPONENTS))
    assert components == [
        ("ack-inference:inference:Gateway", "inference-gateway"),
        ("ack-inference:inference:InferenceRouting", "inference-routing"),
        ("ack-inference:inference:ModelServer", "vllm-llama2-7b-pool"),
    ]


def test_custom_resources_wait_for_the_gateway_add_ons_and_workloads_for_capacity():
    for plan in (plan_stack("dev"), everything()):
        installer = addon(plan, "ack-gateway-with-inference-extension")
        gpu_pool = next(r for r in plan.of_type(NODE_POOL) if r.name.startswith("gpu"))
        for resource in inference_resources(plan):
            if resource.type.split(":")[1].startswith(CUSTOM_RESOURCE_GROUPS):
                assert plan.depends_on(resource, installer), resource.name
            if resource.type in (DEPLOYMENT, "kubernetes:batch/v1:Job"):
                assert plan.depends_on(resource, gpu_pool), resource.name


def test_namespaced_objects_wait_for_their_namespace():
    plan = everything()
    namespace = plan.one("kubernetes:core/v1:Namespace", "inference-namespace-namespace")
    assert namespace.inputs["metadata"]["name"] == "llm"
    for resource in inference_resources(plan):
        if resource.inputs["metadata"].get("namespace") == "llm":
            assert plan.depends_on(resource, namespace), resource.name


def test_model_servers_wait_for_what_they_mount_and_rollouts_get_long_timeouts():
    plan = everything()
    deployment = plan.one(DEPLOYMENT, "llama2-deployment")
    for mounted in ("llama2-chat-template", "llama2-hf-token", "llama2-hf-cache"):
        (resource,) = [r for r in plan.resources if r.name == mounted]
        assert plan.depends_on(deployment, resource)
    canary = plan.one(DEPLOYMENT, "llama2-canary-deployment")
    assert plan.depends_on(canary, plan.one("kubernetes:core/v1:PersistentVolume", "llama2-canary-weights-volume"))
    assert deployment.custom_timeouts == {"create": "60m", "update": "60m"}


def test_routes_wait_for_their_gateway_and_backends():
    plan = everything()
    gateway = plan.one("kubernetes:gateway.networking.k8s.io/v1:Gateway", "inference-gateway-gateway")
    route_type = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
    plain = plan.one(route_type, "inference-gateway-route-backend")
    smart = plan.one(route_type, "inference-routing-route-llm-route")
    assert plan.depends_on(plain, gateway) and plan.depends_on(smart, gateway)
    assert plan.depends_on(plain, plan.one("kubernetes:core/v1:Service", "llama2-service"))
    assert plan.depends_on(
        smart, plan.one("kubernetes:inference.networking.k8s.io/v1:InferencePool", "inference-routing-llama2-pool")
    )


def test_the_benchmark_runs_after_what_it_measures_and_only_when_enabled():
    assert not plan_stack("dev").of_type("kubernetes:batch/v1:Job")
    plan = everything()
    job = plan.one("kubernetes:batch/v1:Job", "inference-gateway-benchmark-job")
    for measured in (
        plan.one(DEPLOYMENT, "llama2-deployment"),
        plan.one(DEPLOYMENT, "qwen-sim-deployment"),
        plan.one(DEPLOYMENT, "llama2-ext-proc-deployment"),
        plan.one("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "inference-routing-route-llm-route"),
    ):
        assert plan.depends_on(job, measured), measured.name
    assert plan.outputs["benchmarkLogsCommand"] == "kubectl -n llm logs -f job/inference-gateway-benchmark"


def test_the_hugging_face_token_stays_secret():
    plan = everything()
    assert EVERYTHING["hfToken"] not in json.dumps(plan.to_json())
    secret = plan.one("kubernetes:core/v1:Secret", "llama2-hf-token")
    assert secret.inputs["stringData"] == {"token": SECRET}
    # Only the servers that download from Hugging Face (and the benchmark) read it.
    readers = [
        r.name
        for r in plan.resources
        if r.is_kubernetes_object and "llama2-hf-token" in json.dumps(r.inputs.get("spec", {}))
    ]
    assert sorted(readers) == ["inference-gateway-benchmark-job", "llama2-deployment"]


def test_simulators_run_on_the_system_pool_and_vllm_on_gpus():
    plan = everything()
    simulator = plan.one(DEPLOYMENT, "qwen-sim-deployment").inputs["spec"]["template"]["spec"]
    vllm = plan.one(DEPLOYMENT, "llama2-deployment").inputs["spec"]["template"]["spec"]
    assert simulator["nodeSelector"] == {"ack-inference/pool": "system"}
    assert "tolerations" not in simulator
    assert vllm["nodeSelector"] == {"ack-inference/pool": "gpu"}


def test_outputs_tell_how_to_reach_both_listeners():
    outputs = plan_stack("dev").outputs
    lookup = "kubectl -n default get gateway/inference-gateway -o jsonpath='{.status.addresses[0].value}'"
    assert outputs["gatewayAddressCommand"] == lookup
    body = (
        '{"model":"modelscope/Llama-2-7b-ms","messages":[{"role":"user","content":'
        '"Explain in one sentence what an inference gateway does."}],"max_tokens":64,"temperature":0}'
    )
    for key, port in (("curlHttpListener", 8080), ("curlInferenceListener", 8081)):
        assert outputs[key] == (
            f"GATEWAY_IP=$({lookup}) && curl -sS http://${{GATEWAY_IP}}:{port}/v1/chat/completions "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )


def test_the_inference_curl_names_the_objective_when_the_first_model_has_one():
    overrides = {"models": [{"name": "a", "criticality": "Standard", "chatTemplate": None}]}
    outputs = plan_stack("dev", overrides).outputs
    assert "-H 'x-gateway-inference-objective: a'" in outputs["curlInferenceListener"]
    assert "/v1/completions" in outputs["curlInferenceListener"]
    assert "x-gateway-inference-objective" not in outputs["curlHttpListener"]


def test_other_layers_can_add_pod_labels_to_model_servers():
    extra = {
        "vllm-llama2-7b-pool": {
            "alibabacloud.com/inference-workload": "llama2",
            "alibabacloud.com/inference-backend": "vllm",
        }
    }

    def program():
        settings = load_settings()
        layer = build_inference(settings, build_cloud(settings), extra_pod_labels=extra)
        pulumi.export("podLabels", layer.model_servers[0].pod_labels)

    plan = simulate(stack_config("dev"), program=program)
    deployment = plan.one(DEPLOYMENT, "vllm-llama2-7b-pool-deployment").inputs["spec"]
    assert deployment["template"]["metadata"]["labels"] == {
        "app": "vllm-llama2-7b-pool",
        **extra["vllm-llama2-7b-pool"],
    }
    assert deployment["selector"]["matchLabels"] == {"app": "vllm-llama2-7b-pool"}
    assert plan.outputs["podLabels"] == {"app": "vllm-llama2-7b-pool"}


def test_on_acs_model_servers_carry_the_acs_gpu_labels_outside_the_selector():
    plan = plan_stack("dev", {"compute": {"mode": "acs"}})
    spec = plan.one(DEPLOYMENT, "vllm-llama2-7b-pool-deployment").inputs["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert labels["alibabacloud.com/acs"] == "true"
    assert labels["alibabacloud.com/compute-class"] == "gpu"
    assert spec["selector"]["matchLabels"] == {"app": "vllm-llama2-7b-pool"}
    pool = plan.one(
        "kubernetes:inference.networking.k8s.io/v1:InferencePool", "inference-routing-vllm-llama2-7b-pool-pool"
    )
    assert pool.inputs["spec"]["selector"]["matchLabels"] == {"app": "vllm-llama2-7b-pool"}
    virtual_node = addon(plan, "ack-virtual-node")
    assert plan.depends_on(plan.one(DEPLOYMENT, "vllm-llama2-7b-pool-deployment"), virtual_node)


def test_dev_in_cn_hangzhou_downloads_llama_2_from_modelscope_and_warns_about_docker_hub(monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    plan = plan_stack("dev", preview=True)
    pod = plan.one(DEPLOYMENT, "vllm-llama2-7b-pool-deployment").inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[args.index("--model") + 1] == "modelscope/Llama-2-7b-ms"
    assert args[args.index("--download-dir") + 1] == "/models/modelscope-cache"
    assert {"name": "VLLM_USE_MODELSCOPE", "value": "true"} in container["env"]
    assert not any(e["name"] == "HF_TOKEN" for e in container["env"])
    assert {"name": "modelscope-cache", "mountPath": "/models/modelscope-cache"} in container["volumeMounts"]
    # (dev's alerts have no receiver either: that warning is tested in test_alert_delivery.)
    assert [w for w in warned if w.startswith("ack-inference:models")] == [
        "ack-inference:models[0].image: comes from Docker Hub, often slow or unreachable from `cn-hangzhou` "
        "(mainland China); copy the image to ACR and pull it through the VPC endpoint "
        "(`registry-vpc.<region>.aliyuncs.com/...`)"
    ]


def test_the_tutorial_image_runs_the_upstream_command_and_downloaded_weights_the_image_entrypoint():
    tutorial = plan_stack("v1alpha1").one(DEPLOYMENT, "vllm-llama2-7b-pool-deployment")
    (container,) = tutorial.inputs["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    dev = plan_stack("dev").one(DEPLOYMENT, "vllm-llama2-7b-pool-deployment")
    (container,) = dev.inputs["spec"]["template"]["spec"]["containers"]
    assert "command" not in container


def test_the_tutorial_names_stay_when_the_models_list_is_written_out():
    written = plan_stack("dev", overrides={"models": [{"chatTemplate": "llama-2"}]})
    for plan in (plan_stack("dev"), written):
        pool = plan.one("kubernetes:inference.networking.k8s.io/v1:InferencePool")
        assert pool.inputs["spec"]["endpointPickerRef"]["name"] == "inference-gateway-ext-proc"
    renamed = plan_stack("dev", overrides={"models": [{"name": "llama", "chatTemplate": "llama-2"}]})
    pool = renamed.one("kubernetes:inference.networking.k8s.io/v1:InferencePool")
    assert pool.inputs["spec"]["endpointPickerRef"]["name"] == "llama-ext-proc"


def test_a_stack_of_simulators_only_creates_no_gpu_pool():
    simulators = {"models": [{"mode": "simulator", "servedModelName": "qwen"}]}
    pools = [r.name for r in plan_stack("dev", overrides=simulators).of_type(NODE_POOL)]
    assert pools == ["system-pool"]
    assert sorted(r.name for r in plan_stack("dev").of_type(NODE_POOL)) == ["gpu-pool", "system-pool"]
