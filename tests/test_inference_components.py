"""The pure manifest builders of the inference components: vLLM and simulator pods, gateway and routes in each
API version, the self-hosted endpoint picker and the benchmark Job."""

from __future__ import annotations

import json

import pytest
import yaml

from components.constants import CHAT_TEMPLATES_DIR, MANAGED_VLLM_FLAGS
from components.inference import benchmark, benchmark_script, endpoint_picker, gateway, inference_routing, model_server
from components.inference.inference_routing import PoolSpec, RoutingSpec
from components.inference.model_server import (
    BakedWeights,
    HuggingFaceWeights,
    Lora,
    ModelScopeWeights,
    ModelServerSpec,
    OssWeights,
)
from components.placement import Placement
from tests.conftest import PROJECT_DIR
from tests.schemas import validate

TUTORIAL = ModelServerSpec(
    name="vllm-llama2-7b-pool",
    namespace="default",
    replicas=2,
    image="vllm/vllm-openai:v0.8.5.post1",
    weights=BakedWeights(path="/model/llama2"),
    served_model_name="/model/llama2",
    gpus=1,
    gpu_memory_utilization=0.9,
    cpu="4",
    memory="24Gi",
    shm_size_gib=2,
    startup_seconds=1800,
    max_surge=1,
    placement=Placement(
        node_selector={"pool": "gpu"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    ),
)
HF = HuggingFaceWeights(repo="meta-llama/Llama-2-7b-hf", revision="abc123", cache_size_gib=40, token=True)


def container(spec: ModelServerSpec) -> dict:
    (only,) = model_server.deployment(spec)["spec"]["template"]["spec"]["containers"]
    return only


def test_tutorial_vllm_args_load_the_baked_path_under_its_own_name():
    assert model_server.vllm_args(TUTORIAL) == [
        "--model", "/model/llama2",
        "--port", "8000",
        "--tensor-parallel-size", "1",
        "--gpu-memory-utilization", "0.9",
    ]  # fmt: skip


def test_vllm_args_from_every_option():
    spec = TUTORIAL.model_copy(
        update={
            "weights": HF,
            "served_model_name": "llama-2-7b",
            "gpus": 2,
            "max_model_len": 4096,
            "prefix_caching": False,
            "chat_template": "{{ messages }}",
            "lora": Lora(max_loras=2, max_lora_rank=8, max_cpu_loras=4, adapters=(("sql", "/a/sql"), ("tw", "/a/tw"))),
        }
    )
    args = model_server.vllm_args(spec)
    assert args == [
        "--model", "meta-llama/Llama-2-7b-hf",
        "--revision", "abc123",
        "--served-model-name", "llama-2-7b",
        "--port", "8000",
        "--tensor-parallel-size", "2",
        "--gpu-memory-utilization", "0.9",
        "--max-model-len", "4096",
        "--no-enable-prefix-caching",
        "--chat-template", "/etc/vllm/chat-template/chat-template.jinja",
        "--enable-lora", "--max-loras", "2", "--max-lora-rank", "8", "--max-cpu-loras", "4",
        "--lora-modules", "sql=/a/sql", "tw=/a/tw",
    ]  # fmt: skip
    assert "--enable-prefix-caching" in model_server.vllm_args(spec.model_copy(update={"prefix_caching": True}))
    resources = container(spec)["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "2"


def test_the_pod_template_carries_scrape_annotations_for_the_container_port():
    deployment = model_server.deployment(TUTORIAL)
    template = deployment["spec"]["template"]
    (port,) = container(TUTORIAL)["ports"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"]) == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert port["name"] == "http"


def test_extra_and_placement_labels_reach_the_pods_but_never_the_selector():
    spec = TUTORIAL.model_copy(
        update={
            "placement": Placement(pod_labels={"alibabacloud.com/acs": "true"}),
            "extra_pod_labels": {"alibabacloud.com/inference-workload": "vllm-llama2-7b-pool", "app": "overridden"},
        }
    )
    deployment = model_server.deployment(spec)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "alibabacloud.com/acs": "true",
        "alibabacloud.com/inference-workload": "vllm-llama2-7b-pool",
        "app": "vllm-llama2-7b-pool",
    }
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "vllm-llama2-7b-pool"}}


def test_probes_shm_grace_and_placement():
    deployment = model_server.deployment(TUTORIAL)
    pod = deployment["spec"]["template"]["spec"]
    vllm = container(TUTORIAL)
    startup = vllm["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] == TUTORIAL.startup_seconds
    assert vllm["livenessProbe"]["httpGet"]["path"] == vllm["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}} in pod["volumes"]
    assert {"name": "shm", "mountPath": "/dev/shm"} in vllm["volumeMounts"]
    assert pod["enableServiceLinks"] is False
    assert pod["terminationGracePeriodSeconds"] > vllm["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    replace = model_server.deployment(TUTORIAL.model_copy(update={"max_surge": 0}))
    assert replace["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert deployment["spec"]["progressDeadlineSeconds"] == model_server.rollout_seconds(TUTORIAL) > 1800


def test_the_simulator_keeps_labels_port_and_api_but_needs_no_gpu():
    spec = TUTORIAL.model_copy(
        update={
            "simulator": True,
            "image": "ghcr.io/llm-d/llm-d-inference-sim:v0.4.0",
            "served_model_name": "llama-2-7b",
            "lora": Lora(max_loras=2, max_lora_rank=16, adapters=(("food-review", "/unused"),)),
            "placement": Placement(node_selector={"pool": "system"}),
        }
    )
    deployment = model_server.deployment(spec)
    sim = container(spec)
    assert sim["args"] == [
        "--model", "llama-2-7b", "--port", "8000", "--max-loras", "2", "--lora-modules", '{"name": "food-review"}',
    ]  # fmt: skip
    assert "nvidia.com/gpu" not in json.dumps(sim["resources"])
    assert {e["name"] for e in sim["env"]} == {"POD_NAME", "NAMESPACE"}
    assert sim["ports"] == container(TUTORIAL)["ports"]
    assert sim["startupProbe"]["httpGet"]["path"] == "/health"
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["app"] == "vllm-llama2-7b-pool"
    assert "volumes" not in pod["spec"]
    assert pod["spec"]["nodeSelector"] == {"pool": "system"}


def test_hugging_face_weights_use_the_token_secret_and_a_cache():
    spec = TUTORIAL.model_copy(update={"weights": HF, "served_model_name": "llama-2-7b"})
    env = {e["name"]: e for e in container(spec)["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "vllm-llama2-7b-pool-hf-token", "key": "token"}
    assert env["HF_HOME"]["value"] == model_server.HF_CACHE_PATH
    volumes = {v["name"]: v for v in model_server.deployment(spec)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["hf-cache"] == {"name": "hf-cache", "emptyDir": {"sizeLimit": "40Gi"}}
    shared = spec.model_copy(update={"weights": HF.model_copy(update={"cache_storage_class": "nas"})})
    volumes = {v["name"]: v for v in model_server.deployment(shared)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["hf-cache"]["persistentVolumeClaim"]["claimName"] == "vllm-llama2-7b-pool-hf-cache"
    claim = model_server.cache_claim(shared)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["spec"]["storageClassName"] == "nas"
    secret = model_server.hf_token_secret(spec, "hf_test")
    assert secret["stringData"] == {"token": "hf_test"}
    assert validate(secret, ()) == []
    public = spec.model_copy(update={"weights": HF.model_copy(update={"token": False})})
    assert "HF_TOKEN" not in {e["name"] for e in container(public)["env"]}


def test_oss_weights_are_a_static_read_only_volume_bound_to_its_claim():
    oss = OssWeights(
        bucket="models",
        endpoint="oss-cn-hangzhou-internal.aliyuncs.com",
        path="/llama",
        ram_role="reader",
        mount_options="-o allow_other",
        capacity_gib=30,
    )
    spec = TUTORIAL.model_copy(update={"weights": oss, "namespace": "llm"})
    volume, claim = model_server.oss_persistent_volume(spec), model_server.oss_claim(spec)
    assert volume["metadata"]["name"] == claim["spec"]["volumeName"] == "llm-vllm-llama2-7b-pool-weights"
    assert volume["spec"]["claimRef"] == {"namespace": "llm", "name": claim["metadata"]["name"]}
    assert volume["spec"]["csi"]["driver"] == "ossplugin.csi.alibabacloud.com"
    assert volume["spec"]["csi"]["volumeAttributes"] == {
        "bucket": "models",
        "url": "oss-cn-hangzhou-internal.aliyuncs.com",
        "path": "/llama",
        "otherOpts": "-o allow_other",
        "authType": "rrsa",
        "roleName": "reader",
    }
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["spec"]["accessModes"] == claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert claim["spec"]["storageClassName"] == volume["spec"]["storageClassName"] == ""
    assert model_server.vllm_args(spec)[:2] == ["--model", model_server.OSS_MOUNT_PATH]
    mounts = {m["name"]: m for m in container(spec)["volumeMounts"]}
    assert mounts["weights"] == {"name": "weights", "mountPath": model_server.OSS_MOUNT_PATH, "readOnly": True}
    keyed = spec.model_copy(update={"weights": oss.model_copy(update={"ram_role": None, "credentials_secret": "ak"})})
    csi = model_server.oss_persistent_volume(keyed)["spec"]["csi"]
    assert csi["nodePublishSecretRef"] == {"name": "ak", "namespace": "llm"}
    assert "authType" not in csi["volumeAttributes"]


def test_service_and_disruption_budget():
    service = model_server.service(TUTORIAL)
    assert service["metadata"]["name"] == "vllm-llama2-7b-pool"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0] | {"port": 8000, "name": "http"} == service["spec"]["ports"][0]
    budget = model_server.disruption_budget(TUTORIAL)
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


TIMEOUTS = gateway.Timeouts(request="24h", backend_request="24h")
POOL = PoolSpec(
    name="vllm",
    selector={"app": "vllm"},
    target_port=8000,
    picker_name="vllm-epp",
    picker_port=9002,
    model_names=("llama", "sql-lora"),
    objective_name="llama",
    criticality="Critical",
)


def routing(api: str, **changes) -> RoutingSpec:
    return RoutingSpec(
        api=api,
        namespace="default",
        attachment=changes.pop("attachment", "backendRef"),
        gateway_name="gw",
        inference_port=8081,
        timeouts=TIMEOUTS,
        pools=[changes.pop("pool", POOL)],
        rules=[gateway.RouteRule(backends=(inference_routing.pool_backend(api, "vllm"),))],
        **changes,
    )


def test_pool_shapes_per_api_version():
    v1 = inference_routing.inference_pool(routing("v1", failure_mode="FailOpen"), POOL)
    assert v1["apiVersion"] == "inference.networking.k8s.io/v1"
    assert v1["spec"] == {
        "targetPorts": [{"number": 8000}],
        "selector": {"matchLabels": {"app": "vllm"}},
        "endpointPickerRef": {
            "group": "",
            "kind": "Service",
            "name": "vllm-epp",
            "port": {"number": 9002},
            "failureMode": "FailOpen",
        },
    }
    v1alpha2 = inference_routing.inference_pool(routing("v1alpha2", routing_strategy="PREFIX_CACHE"), POOL)
    assert v1alpha2["apiVersion"] == "inference.networking.x-k8s.io/v1alpha2"
    assert v1alpha2["spec"]["extensionRef"] == {"group": "", "kind": "Service", "name": "vllm-epp", "portNumber": 9002}
    assert v1alpha2["metadata"]["annotations"] == {"inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE"}
    v1alpha1 = inference_routing.inference_pool(routing("v1alpha1", attachment="annotation"), POOL)
    assert v1alpha1["spec"]["extensionRef"] == {"name": "vllm-epp"}
    assert yaml.safe_load(v1alpha1["metadata"]["annotations"]["inference.networking.x-k8s.io/attach-to"]) == {
        "name": "gw",
        "port": 8081,
    }
    assert inference_routing.inference_route(routing("v1alpha1", attachment="annotation")) is None


def test_model_objects_per_api_version():
    models = inference_routing.inference_models(routing("v1alpha2"), POOL)
    assert [(m["metadata"]["name"], m["spec"]["modelName"]) for m in models] == [
        ("llama", "llama"),
        ("llama-adapter-1", "sql-lora"),
    ]
    assert all(m["spec"]["targetModels"] == [{"name": m["spec"]["modelName"], "weight": 100}] for m in models)
    assert inference_routing.inference_objective(routing("v1"), POOL) is None
    standard = POOL.model_copy(update={"criticality": "Standard"})
    objective = inference_routing.inference_objective(routing("v1", pool=standard), standard)
    assert objective["apiVersion"] == "inference.networking.x-k8s.io/v1alpha2"
    assert objective["spec"] == {
        "poolRef": {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "vllm"},
        "priority": -1,
    }


def test_pool_backends_carry_the_pool_group_and_no_port():
    assert inference_routing.pool_backend("v1", "p", 10) == {
        "group": "inference.networking.k8s.io",
        "kind": "InferencePool",
        "name": "p",
        "weight": 10,
    }
    assert inference_routing.pool_backend("v1alpha2", "p")["group"] == "inference.networking.x-k8s.io"


def test_routes_match_model_names_by_header_only_when_given():
    rules = [
        gateway.RouteRule(model_names=("a", "a-lora"), backends=(gateway.service_backend("a", 8000),)),
        gateway.RouteRule(backends=(gateway.service_backend("b", 8000, 5),)),
    ]
    route = gateway.http_route("r", "default", gateway_name="gw", listener="http", rules=rules, timeouts=TIMEOUTS)
    first, second = route["spec"]["rules"]
    assert [m["headers"] for m in first["matches"]] == [
        [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": "a"}],
        [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": "a-lora"}],
    ]
    assert second["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert second["backendRefs"] == [{"group": "", "kind": "Service", "name": "b", "port": 8000, "weight": 5}]
    assert route["spec"]["parentRefs"][0]["sectionName"] == "http"


PICKER = endpoint_picker.PickerSpec(
    name="vllm-epp",
    namespace="default",
    pool_name="vllm",
    image="registry.k8s.io/gateway-api-inference-extension/epp:v1.0.2",
    replicas=1,
    tls="selfSigned",
    routing_strategy="DEFAULT",
    cpu="1",
    memory="1Gi",
)


def test_picker_flags_are_the_v1_kebab_case_ones_with_an_explicit_tls_choice():
    args = endpoint_picker.args(PICKER)
    assert args[args.index("--pool-name") + 1] == "vllm"
    assert args[args.index("--pool-group") + 1] == "inference.networking.k8s.io"
    assert args[args.index("--grpc-port") + 1] == "9002"
    assert "--secure-serving=true" in args
    assert not [a for a in args if a.startswith("-") and not a.startswith("--")]
    plain = endpoint_picker.args(
        PICKER.model_copy(update={"tls": "plaintext", "kv_cache_metric": "vllm:kv_cache_usage_perc"})
    )
    assert "--secure-serving=false" in plain
    assert plain[plain.index("--kv-cache-usage-percentage-metric") + 1] == "vllm:kv_cache_usage_perc"
    assert "--ha-enable-leader-election" not in args


def test_picker_probes_service_and_rbac():
    deployment = endpoint_picker.deployment(PICKER)
    (epp,) = deployment["spec"]["template"]["spec"]["containers"]
    assert epp["readinessProbe"]["grpc"] == {"port": 9003, "service": "inference-extension"}
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    service = endpoint_picker.service(PICKER)
    ext_proc = service["spec"]["ports"][0]
    assert (ext_proc["port"], ext_proc["appProtocol"]) == (9002, "http2")
    rules = endpoint_picker.role(PICKER)["rules"]
    assert {r["resources"][0] for r in rules} == {"pods", "inferencepools", "inferenceobjectives"}
    ha = PICKER.model_copy(update={"replicas": 2})
    ha_deployment = endpoint_picker.deployment(ha)
    (ha_epp,) = ha_deployment["spec"]["template"]["spec"]["containers"]
    assert ha_deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert ha_epp["readinessProbe"]["grpc"]["service"] == "readiness"
    assert "--ha-enable-leader-election" in ha_epp["args"]
    assert "leases" in {r["resources"][0] for r in endpoint_picker.role(ha)["rules"]}
    reviewer = endpoint_picker.cluster_role(PICKER)
    assert reviewer["metadata"]["name"] == "default-vllm-epp-auth-reviewer"
    assert "namespace" not in reviewer["metadata"]


def test_picker_scorers_follow_the_routing_strategy():
    default = yaml.safe_load(endpoint_picker.plugins_config(PICKER))
    assert default["kind"] == "EndpointPickerConfig"
    assert [p["type"] for p in default["plugins"]] == ["queue-scorer", "kv-cache-utilization-scorer"]
    prefix = yaml.safe_load(
        endpoint_picker.plugins_config(PICKER.model_copy(update={"routing_strategy": "PREFIX_CACHE"}))
    )
    assert [p["pluginRef"] for p in prefix["schedulingProfiles"][0]["plugins"]] == [
        "queue-scorer",
        "kv-cache-utilization-scorer",
        "prefix-cache-scorer",
    ]


BENCH = benchmark.BenchmarkSpec(
    name="gw-benchmark",
    namespace="default",
    gateway_name="gw",
    listeners={"http": 8080, "llm-gw": 8081},
    image="vllm/vllm-openai:v0.8.5.post1",
    model="/model/llama2",
    tokenizer="/model/llama2",
    num_prompts=600,
    request_rate=10.0,
    input_len=1024,
    output_len=128,
    prefix_len=0,
    seed=7,
)


def test_benchmark_job_runs_the_script_with_its_config_and_reads_only_its_gateway():
    job = benchmark.job(BENCH)
    (bench,) = job["spec"]["template"]["spec"]["containers"]
    assert bench["command"] == ["python3", "/bench/bench.py", "/bench/bench.json"]
    assert bench["image"] == BENCH.image
    assert job["spec"]["backoffLimit"] == 0
    # 600 requests at 10/s take 60 s per listener; twice that for two listeners, plus set-up.
    assert job["spec"]["activeDeadlineSeconds"] == 2 * 60 * 2 + benchmark.SETUP_ALLOWANCE_SECONDS
    config = json.loads(benchmark.config_map(BENCH)["data"]["bench.json"])
    assert config["listeners"] == {"http": 8080, "llm-gw": 8081}
    assert benchmark.config_map(BENCH)["data"]["bench.py"] == benchmark.SCRIPT.read_text()
    (rule,) = benchmark.role(BENCH)["rules"]
    assert rule == {
        "apiGroups": ["gateway.networking.k8s.io"],
        "resources": ["gateways"],
        "resourceNames": ["gw"],
        "verbs": ["get"],
    }


def test_benchmark_runs_the_same_mix_against_both_listeners():
    config = benchmark.run_config(BENCH)
    plain = benchmark_script.bench_command(config, "http://1.2.3.4:8080", 7, "http.json")
    smart = benchmark_script.bench_command(config, "http://1.2.3.4:8081", 8, "llm-gw.json")
    assert plain[:3] == ["vllm", "bench", "serve"]
    differing = [(a, b) for a, b in zip(plain, smart, strict=True) if a != b]
    assert differing == [("http://1.2.3.4:8080", "http://1.2.3.4:8081"), ("7", "8"), ("http.json", "llm-gw.json")]
    assert plain[plain.index("--num-prompts") + 1] == "600"
    assert plain[plain.index("--percentile-metrics") + 1] == "ttft,tpot,itl,e2el"


def test_benchmark_prints_the_listeners_side_by_side():
    table = benchmark_script.comparison(
        {
            "http :8080": {"mean_ttft_ms": 200.0, "p90_itl_ms": 40.0, "output_throughput": 1000.0, "completed": 600},
            "llm-gw :8081": {"mean_ttft_ms": 150.0, "p90_itl_ms": 44.0, "output_throughput": 1000.0, "completed": 600},
        }
    )
    lines = {line.split("  ")[0].strip(): line for line in table.splitlines()}
    assert "http :8080" in lines[""] and "llm-gw :8081" in lines[""]
    assert lines["Mean TTFT (ms)"].split()[-3:] == ["150.0", "-25.0%", "better"]
    assert lines["P90 ITL (ms)"].split()[-1] == "+10.0%"
    assert lines["Output token throughput (tok/s)"].split()[-1] == "+0.0%"
    assert lines["P99 TTFT (ms)"].split()[-3:] == ["n/a", "n/a", "n/a"]


def test_the_bundled_llama_2_template_uses_the_inst_and_sys_markers():
    text = (CHAT_TEMPLATES_DIR / "llama-2.jinja").read_text()
    for marker in ("bos_token + '[INST] '", "' [/INST]'", "'<<SYS>>\\n'", "'\\n<</SYS>>\\n\\n'", "eos_token"):
        assert marker in text


def test_every_flag_the_server_renders_is_one_extra_args_may_not_repeat():
    lora = Lora(max_loras=2, max_lora_rank=8, max_cpu_loras=4, adapters=(("sql", "/a/sql"),))
    rendered = set()
    for weights in (HF, ModelScopeWeights(repo="modelscope/Llama-2-7b-ms", revision="v1.0.2", cache_size_gib=40)):
        for caching in (True, False):
            spec = TUTORIAL.model_copy(
                update={
                    "weights": weights,
                    "served_model_name": "llama",
                    "max_model_len": 4096,
                    "prefix_caching": caching,
                    "chat_template": "{{ messages }}",
                    "lora": lora,
                }
            )
            rendered |= {arg for arg in model_server.vllm_args(spec) if arg.startswith("--")}
    assert rendered == set(MANAGED_VLLM_FLAGS)


def test_modelscope_weights_download_through_vllm_into_a_cache():
    weights = ModelScopeWeights(repo="modelscope/Llama-2-7b-ms", revision="v1.0.2", cache_size_gib=40)
    spec = TUTORIAL.model_copy(update={"weights": weights, "served_model_name": "llama-2-7b"})
    rendered = container(spec)
    assert rendered["args"][:8] == [
        "--model", "modelscope/Llama-2-7b-ms", "--revision", "v1.0.2",
        "--download-dir", "/models/modelscope-cache", "--served-model-name", "llama-2-7b",
    ]  # fmt: skip
    assert rendered["env"] == [{"name": "VLLM_USE_MODELSCOPE", "value": "true"}]
    assert {"name": "modelscope-cache", "mountPath": "/models/modelscope-cache"} in rendered["volumeMounts"]
    shared = spec.model_copy(update={"weights": weights.model_copy(update={"cache_storage_class": "nas"})})
    assert model_server.cache_claim(shared)["metadata"]["name"] == "vllm-llama2-7b-pool-modelscope-cache"


def test_command_and_extra_args_reach_the_container():
    spec = TUTORIAL.model_copy(
        update={"command": ("python3", "-m", "vllm.entrypoints.openai.api_server"), "extra_args": ("--dtype", "half")}
    )
    rendered = container(spec)
    assert rendered["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert rendered["args"][-2:] == ["--dtype", "half"]
    assert "command" not in container(TUTORIAL)


def test_the_benchmark_reads_a_modelscope_tokenizer_through_modelscope_too():
    weights = ModelScopeWeights(repo="modelscope/Llama-2-7b-ms", cache_size_gib=40)
    env, volumes, mounts = model_server.weights_access(TUTORIAL.model_copy(update={"weights": weights}))
    assert (env, volumes, mounts) == ([{"name": "VLLM_USE_MODELSCOPE", "value": "true"}], [], [])


@pytest.mark.parametrize(
    "catalogue", sorted((PROJECT_DIR / "schemas" / "vllm").glob("cli-*.json")), ids=lambda p: p.stem
)
def test_every_flag_the_model_server_renders_exists_in_every_catalogued_vllm_release(catalogue):
    # The catalogue lists every option string the release's own argparse parser accepts; a flag it lacks stops
    # the server at start ("unrecognized arguments"). MANAGED_VLLM_FLAGS is what vllm_args renders (tested above).
    accepted = {
        option for flag in json.loads(catalogue.read_text())["flags"] for option in flag["accepted_option_strings"]
    }
    assert sorted(set(MANAGED_VLLM_FLAGS) - accepted) == []
