"""Builds the inference layer from settings and the cloud layer: model servers, the gateway, inference-aware
routing in the configured API version, optional self-hosted endpoint pickers and the optional benchmark Job.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from components.constants import CHAT_TEMPLATES_DIR
from components.inference.benchmark import Benchmark, BenchmarkArgs, BenchmarkSpec
from components.inference.endpoint_picker import (
    EXT_PROC_PORT,
    EndpointPicker,
    EndpointPickerArgs,
    PickerSpec,
    metrics_token_name,
)
from components.inference.endpoint_picker import METRICS_PORT as PICKER_METRICS_PORT
from components.inference.endpoint_picker import selector_labels as picker_labels
from components.inference.gateway import (
    HTTP_LISTENER,
    INFERENCE_LISTENER,
    Gateway,
    GatewayArgs,
    GatewaySpec,
    RouteRule,
    Timeouts,
    service_backend,
)
from components.inference.gateway_security import (
    GatewaySecurity,
    GatewaySecurityArgs,
    GatewaySecuritySpec,
    RateLimit,
    proxy_name,
)
from components.inference.inference_routing import (
    PRIORITIES,
    InferenceRouting,
    InferenceRoutingArgs,
    PoolSpec,
    RoutingSpec,
    pool_backend,
)
from components.inference.model_server import (
    MODEL_SERVER_PORT,
    Autoscaling,
    BakedWeights,
    HuggingFaceWeights,
    Lora,
    ModelScopeWeights,
    ModelServer,
    ModelServerArgs,
    ModelServerSpec,
    OssWeights,
    selector_labels,
    weights_access,
)
from components.inference.namespace import Namespace
from components.inference.network_policies import (
    IngressRule,
    IsolatedServer,
    NetworkIsolation,
    NetworkIsolationArgs,
    Peer,
)
from stacks import compatibility
from stacks.layers import CloudLayer, EndpointPickerRef, InferenceLayer, ModelServerRef
from stacks.settings import StackSettings
from stacks.settings.models import BUNDLED_CHAT_TEMPLATES, ModelSettings
from stacks.settings.observability import monitor_crds_used
from stacks.settings.routing import GatewaySettings, benchmark_model, routing_groups
from stacks.settings.security import scrapers

# The gateway's logical name: the default gateway name, from which the URNs of deployed stacks were built.
GATEWAY_URN_NAME = GatewaySettings.model_fields["name"].default
OBJECTIVE_HEADER = "x-gateway-inference-objective"
SAMPLE_PROMPT = "Explain in one sentence what an inference gateway does."


def chat_template_text(template: str | None) -> str | None:
    if template in BUNDLED_CHAT_TEMPLATES:
        return (CHAT_TEMPLATES_DIR / f"{template}.jinja").read_text()
    return template


def weights(
    settings: StackSettings, model: ModelSettings
) -> BakedWeights | HuggingFaceWeights | ModelScopeWeights | OssWeights:
    source = model.source
    if source.type == "modelScope":
        return ModelScopeWeights(
            repo=source.repo,
            revision=source.revision,
            cache_size_gib=source.cache_size_gib,
            cache_storage_class=source.cache_storage_class,
        )
    if source.type == "huggingFace":
        return HuggingFaceWeights(
            repo=source.repo,
            revision=source.revision,
            cache_size_gib=source.cache_size_gib,
            cache_storage_class=source.cache_storage_class,
            token=settings.hf_token is not None,
        )
    if source.type == "oss":
        return OssWeights(
            bucket=source.bucket,
            endpoint=source.endpoint,
            path=source.weights_path,
            ram_role=source.ram_role,
            credentials_secret=source.credentials_secret,
            mount_options=source.mount_options,
            capacity_gib=source.capacity_gib,
        )
    return BakedWeights(path=source.weights_path)


def model_server_spec(
    settings: StackSettings, model: ModelSettings, cloud: CloudLayer, extra_pod_labels: Mapping[str, str]
) -> ModelServerSpec:
    simulator = model.mode == "simulator"
    lora, autoscaling = model.lora, model.autoscaling
    env: dict[str, str] = dict(model.env)  # never a name the program sets (models.passthrough_problems)
    if lora and not simulator and compatibility.lora_forces_v0_engine(compatibility.vllm_version(model.vllm_version)):
        env["VLLM_USE_V1"] = "1"
    return ModelServerSpec(
        name=model.name,
        namespace=settings.gateway.namespace,
        replicas=autoscaling.min_replicas if autoscaling.enabled else model.replicas,
        autoscaling=Autoscaling(
            min_replicas=autoscaling.min_replicas,
            max_replicas=autoscaling.max_replicas,
            metric=autoscaling.metric_name,
            target_waiting_requests=autoscaling.target_waiting_requests,
        )
        if autoscaling.enabled
        else None,
        image=model.simulator_image if simulator else model.image,
        simulator=simulator,
        weights=weights(settings, model),
        served_model_name=model.served_name,
        gpus=model.gpus_per_replica,
        max_model_len=model.max_model_len,
        gpu_memory_utilization=model.gpu_memory_utilization,
        prefix_caching=model.prefix_caching,
        lora=Lora(
            max_loras=lora.max_loras,
            max_lora_rank=lora.max_lora_rank,
            max_cpu_loras=lora.max_cpu_loras,
            adapters=tuple((adapter.name, adapter.path) for adapter in lora.adapters),
        )
        if lora
        else None,
        chat_template=chat_template_text(model.chat_template),
        cpu=model.cpu,
        memory=model.memory,
        shm_size_gib=model.shm_size_gib,
        startup_seconds=model.startup_minutes * 60,
        max_surge=model.max_surge,
        env=env,
        command=tuple(model.container_command) if model.container_command is not None else None,
        extra_args=tuple(model.extra_args),
        # The simulator needs no GPU: it runs where the other CPU workloads do.
        placement=cloud.system_placement if simulator else cloud.gpu_placement,
        extra_pod_labels=dict(extra_pod_labels),
        image_pull_secret=settings.security.image_pull_secret,
        zone_spread=settings.security.zone_spread if settings.production else None,
    )


def timeouts(settings: StackSettings) -> Timeouts:
    return Timeouts(request=settings.gateway.request_timeout, backend_request=settings.gateway.backend_request_timeout)


def route_rules(settings: StackSettings, backend: Callable[[str, int | None], dict[str, Any]]) -> list[RouteRule]:
    """One rule per served model name; matched by the model-name header only when there are several."""
    models = settings.models
    groups = routing_groups(models)
    rules = []
    for indices in groups.values():
        split = len(indices) > 1
        rules.append(
            RouteRule(
                model_names=tuple(models[indices[0]].model_names) if len(groups) > 1 else (),
                backends=tuple(backend(models[i].name, models[i].weight if split else None) for i in indices),
            )
        )
    return rules


def gateway_spec(settings: StackSettings) -> GatewaySpec:
    gateway = settings.gateway
    return GatewaySpec(
        name=gateway.name,
        namespace=gateway.namespace,
        class_name=gateway.class_name,
        create_class=gateway.create_class,
        controller_name=gateway.controller_name,
        http_port=gateway.http_port,
        inference_port=gateway.inference_port,
        timeouts=timeouts(settings),
        plain_rules=route_rules(settings, lambda name, weight: service_backend(name, MODEL_SERVER_PORT, weight)),
        proxy_config=proxy_name(gateway_security_spec(settings)),
        tls_certificate_secret=settings.security.tls_certificate_secret,
    )


def gateway_security_spec(settings: StackSettings) -> GatewaySecuritySpec:
    security = settings.security
    exposure = security.exposure
    return GatewaySecuritySpec(
        gateway_name=settings.gateway.name,
        namespace=settings.gateway.namespace,
        address_type=exposure.address_type,
        load_balancer_annotations=exposure.load_balancer_annotations,
        allowed_cidrs=tuple(exposure.allowed_cidrs),
        api_key_clients=tuple(sorted(settings.api_keys or {})),
        api_key_header=security.api_key_header,
        rate_limit=RateLimit(requests=security.rate_limit, unit=security.rate_limit_unit)
        if security.rate_limit
        else None,
    )


def gateway_peer(settings: StackSettings) -> Peer:
    isolation = settings.security.network_isolation
    return Peer(namespace=isolation.gateway_namespace, pod_labels=isolation.gateway_pod_labels)


def scraper_peers(settings: StackSettings) -> list[Peer]:
    """The chosen monitoring mode's Prometheus pods (or the configured scraper namespaces)."""
    return [Peer(namespace=namespace, pod_labels=labels) for namespace, labels in scrapers(settings)]


def isolation_peers(settings: StackSettings) -> list[Peer]:
    """Who may reach the model servers' port: the gateway's proxies, self-hosted pickers, metrics scrapers."""
    peers = [gateway_peer(settings)]
    if settings.routing.endpoint_picker.mode == "selfHosted":
        peers += [Peer(pod_labels=picker_labels(m.picker_name)) for m in settings.models]
    return peers + scraper_peers(settings)


def isolated_workloads(settings: StackSettings, specs: Mapping[str, ModelServerSpec]) -> list[IsolatedServer]:
    """The model servers and the self-hosted pickers, each with who may reach which of its ports."""
    servers = [
        IsolatedServer(
            name=name,
            namespace=spec.namespace,
            pod_labels=selector_labels(spec),
            rules=(IngressRule(port=MODEL_SERVER_PORT, peers=tuple(isolation_peers(settings))),),
        )
        for name, spec in specs.items()
    ]
    if settings.routing.endpoint_picker.mode == "selfHosted":
        # Envoy calls the picker's ext_proc port; only the scrapers read its metrics (which it also authenticates).
        servers += [
            IsolatedServer(
                name=model.picker_name,
                namespace=settings.gateway.namespace,
                pod_labels=picker_labels(model.picker_name),
                rules=(
                    IngressRule(port=EXT_PROC_PORT, peers=(gateway_peer(settings),)),
                    IngressRule(port=PICKER_METRICS_PORT, peers=tuple(scraper_peers(settings))),
                ),
            )
            for model in settings.models
        ]
    return servers


def routing_spec(settings: StackSettings, selectors: Mapping[str, dict[str, str]]) -> RoutingSpec:
    routing = settings.routing
    apis = {model.name: routing.api_of(model) for model in settings.models}
    return RoutingSpec(
        api=routing.api_version,
        namespace=settings.gateway.namespace,
        attachment=routing.attachment_mode,
        gateway_name=settings.gateway.name,
        inference_port=settings.gateway.inference_port,
        routing_strategy=routing.routing_strategy,
        failure_mode=routing.failure_mode,
        timeouts=timeouts(settings),
        pools=[
            PoolSpec(
                name=model.name,
                selector=selectors[model.name],
                target_port=MODEL_SERVER_PORT,
                picker_name=model.picker_name,
                picker_port=EXT_PROC_PORT,
                model_names=tuple(model.model_names),
                objective_name=model.objective,
                criticality=model.criticality,
                api=model.api_version,
            )
            for model in settings.models
        ],
        rules=route_rules(settings, lambda name, weight: pool_backend(apis[name], name, weight)),
    )


def picker_spec(settings: StackSettings, model: ModelSettings, cloud: CloudLayer) -> PickerSpec:
    picker = settings.routing.endpoint_picker
    version = compatibility.vllm_version(model.vllm_version)
    return PickerSpec(
        name=model.picker_name,
        namespace=settings.gateway.namespace,
        pool_name=model.name,
        image=picker.image,
        replicas=picker.replicas,
        tls=picker.tls,
        routing_strategy=settings.routing.routing_strategy or "DEFAULT",
        kv_cache_metric=compatibility.kv_cache_metric(version) if model.mode == "vllm" else None,
        cpu=picker.cpu,
        memory=picker.memory,
        placement=cloud.system_placement,
        image_pull_secret=settings.security.image_pull_secret,
        metrics_scraped=monitor_crds_used(settings),
    )


def benchmark_spec(settings: StackSettings, server: ModelServerSpec, cloud: CloudLayer) -> BenchmarkSpec:
    benchmark, gateway = settings.benchmark, settings.gateway
    env, volumes, mounts = weights_access(server)
    return BenchmarkSpec(
        name=f"{gateway.name}-benchmark",
        namespace=gateway.namespace,
        gateway_name=gateway.name,
        listeners={HTTP_LISTENER: gateway.http_port, INFERENCE_LISTENER: gateway.inference_port},
        image=benchmark.image or server.image,
        model=server.served_model_name,
        tokenizer=benchmark.tokenizer or server.model_path,
        num_prompts=benchmark.num_prompts,
        request_rate=benchmark.request_rate,
        input_len=benchmark.input_len,
        output_len=benchmark.output_len,
        prefix_len=benchmark.prefix_len,
        seed=benchmark.seed,
        env=env,
        volumes=volumes,
        volume_mounts=mounts,
        placement=cloud.system_placement,
        image_pull_secret=settings.security.image_pull_secret,
    )


def gateway_exposure(settings: StackSettings) -> str:
    """One line on who can reach the gateway, for the stack outputs."""
    security = settings.security
    parts = [f"{security.exposure.address_type} load balancer"]
    if security.exposure.allowed_cidrs:
        parts.append(f"clients from {', '.join(security.exposure.allowed_cidrs)}")
    if settings.api_keys:
        parts.append(f"API key in header `{security.api_key_header}`")
    if security.rate_limit:
        parts.append(f"at most {security.rate_limit} requests per {security.rate_limit_unit.lower()} per proxy")
    if security.tls_certificate_secret:
        parts.append("HTTPS")
    return "; ".join(parts)


def address_command(settings: StackSettings) -> str:
    gateway = settings.gateway
    return f"kubectl -n {gateway.namespace} get gateway/{gateway.name} -o jsonpath='{{.status.addresses[0].value}}'"


def curl_command(settings: StackSettings, port: int, headers: Mapping[str, str] | None = None) -> str:
    """The tutorial's check: one completion through a listener (chat when the model has a chat template)."""
    model = settings.models[0]
    if model.chat_template is not None:
        path = "/v1/chat/completions"
        body = {"model": model.served_name, "messages": [{"role": "user", "content": SAMPLE_PROMPT}]}
    else:
        path, body = "/v1/completions", {"model": model.served_name, "prompt": SAMPLE_PROMPT}
    body.update(max_tokens=64, temperature=0)
    header_args = [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in (headers or {}).items()]
    if settings.api_keys:
        # The key stays with the user: the command reads it from their shell.
        header_args.append(f'-H "{settings.security.api_key_header}: ${{API_KEY}}"')
    scheme = "https" if settings.security.tls_certificate_secret else "http"
    return " ".join(
        [
            f"GATEWAY_IP=$({address_command(settings)}) &&",
            f"curl -sS {scheme}://${{GATEWAY_IP}}:{port}{path}",
            "-H 'Content-Type: application/json'",
            *header_args,
            f"-d {shlex.quote(json.dumps(body, separators=(',', ':')))}",
        ]
    )


def build_inference(
    settings: StackSettings, cloud: CloudLayer, extra_pod_labels: Mapping[str, Mapping[str, str]] | None = None
) -> InferenceLayer:
    """`extra_pod_labels` (model server name -> labels) is the composition's hook for labels other layers need on
    the model-server pods, e.g. ARMS's `alibabacloud.com/inference-workload` / `inference-backend: vllm`."""
    extra_pod_labels = extra_pod_labels or {}
    gateway_settings = settings.gateway
    opts = pulumi.ResourceOptions(provider=cloud.provider)
    namespace_ready: list[pulumi.Resource] = []
    if gateway_settings.namespace != "default":
        namespace_ready.append(Namespace("inference-namespace", gateway_settings.namespace, opts).namespace)

    hf_token = pulumi.Output.secret(settings.hf_token.get_secret_value()) if settings.hf_token else None
    specs = {m.name: model_server_spec(settings, m, cloud, extra_pod_labels.get(m.name, {})) for m in settings.models}
    servers = {
        name: ModelServer(
            name, ModelServerArgs(spec, hf_token=hf_token, depends_on=[*cloud.capacity, *namespace_ready]), opts
        )
        for name, spec in specs.items()
    }

    pickers = []
    scraped_pickers = []
    if settings.routing.endpoint_picker.mode == "selfHosted":
        for model in settings.models:
            epp = picker_spec(settings, model, cloud)
            picker = EndpointPicker(
                model.picker_name, EndpointPickerArgs(epp, depends_on=[*cloud.capacity, *namespace_ready]), opts
            )
            pickers.append(picker)
            if epp.metrics_scraped:
                scraped_pickers.append(
                    EndpointPickerRef(
                        epp.name, epp.namespace, picker_labels(epp.name), metrics_token_name(epp), [picker]
                    )
                )
    installers = [*cloud.crd_installers, *namespace_ready]
    api_keys = {
        client: pulumi.Output.secret(key.get_secret_value()) for client, key in (settings.api_keys or {}).items()
    }
    # Logical names are fixed, not the configured gateway name: renaming the gateway then keeps the URNs of the
    # objects whose Kubernetes identity does not change (GatewayClass, the backend route), and Pulumi updates or
    # replaces the renamed Gateway instead of creating a second owner of the same objects. A stack deployed before
    # with another name keeps its resources through the alias (children inherit it: their names start with it).
    renamed = [pulumi.Alias(name=gateway_settings.name)] if gateway_settings.name != GATEWAY_URN_NAME else []
    protection = GatewaySecurity(
        f"{GATEWAY_URN_NAME}-security",
        GatewaySecurityArgs(
            gateway_security_spec(settings),
            api_keys=api_keys,
            crd_installers=installers,
        ),
        pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{gateway_settings.name}-security")] if renamed else []),
        ),
    )
    gateway = Gateway(
        GATEWAY_URN_NAME,
        GatewayArgs(
            gateway_spec(settings),
            crd_installers=installers,
            backends=[s.service for s in servers.values()],
            protection=[protection],
        ),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=renamed)),
    )
    if settings.security.network_isolation.enabled:
        NetworkIsolation(
            "model-server-isolation",
            NetworkIsolationArgs(servers=isolated_workloads(settings, specs), depends_on=namespace_ready),
            opts,
        )
    routing = InferenceRouting(
        "inference-routing",
        InferenceRoutingArgs(
            routing_spec(settings, {name: selector_labels(spec) for name, spec in specs.items()}),
            crd_installers=installers,
            gateway=gateway.gateway,
        ),
        opts,
    )

    objective_headers: dict[str, str] = {}
    first = settings.models[0]
    if settings.routing.api_of(first) == "v1" and PRIORITIES[first.criticality] != 0:
        objective_headers[OBJECTIVE_HEADER] = first.objective
    outputs: dict[str, pulumi.Input] = {
        "gatewayExposure": gateway_exposure(settings),
        "gatewayAddressCommand": address_command(settings),
        "curlHttpListener": curl_command(settings, gateway_settings.http_port),
        "curlInferenceListener": curl_command(settings, gateway_settings.inference_port, objective_headers),
    }
    if settings.benchmark.enabled:
        bench = benchmark_spec(settings, specs[benchmark_model(settings).name], cloud)
        Benchmark(
            bench.name,
            BenchmarkArgs(
                bench,
                depends_on=[
                    *cloud.capacity,
                    *namespace_ready,
                    *(server.deployment for server in servers.values()),
                    gateway,
                    routing,
                    *pickers,
                ],
            ),
            opts,
        )
        outputs["benchmarkLogsCommand"] = f"kubectl -n {bench.namespace} logs -f job/{bench.name}"

    return InferenceLayer(
        namespace=gateway_settings.namespace,
        model_servers=[
            ModelServerRef(
                name=name,
                namespace=gateway_settings.namespace,
                pod_labels=server.selector_labels,
                port=server.port,
                startup_budget_seconds=server.startup_budget_seconds,
                resources=[server.deployment, server.service],
            )
            for name, server in servers.items()
        ],
        gateway_name=gateway_settings.name,
        endpoint_pickers=scraped_pickers,
        outputs=outputs,
    )
