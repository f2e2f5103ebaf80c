"""The gateway, inference-aware routing and its endpoint pickers, and the benchmark Job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from components.constants import PRESET_NAMESPACES
from components.vocabulary import (
    Attachment,
    FailureMode,
    InferenceApiVersion,
    PickerMode,
    PickerTls,
    RoutingStrategy,
)
from stacks import compatibility
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.formats import DNS_LABEL, DURATION, QUANTITY, duration_ms, pinned_image
from stacks.settings.models import ModelSettings

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings


class GatewaySettings(ConfigModel):
    name: str = Field("inference-gateway", pattern=DNS_LABEL, description="Name of the Gateway.")
    namespace: str = Field(
        "default",
        pattern=DNS_LABEL,
        description="Namespace of the Gateway and of everything it routes to (model servers, pools, routes, "
        "endpoint pickers, benchmark); created unless it is `default`.",
    )
    class_name: str = Field(
        "inference-gateway",
        pattern=DNS_LABEL,
        description="GatewayClass of the Gateway (e.g. ACK's `ack-gateway` with `createClass: false`).",
    )
    create_class: bool = Field(
        True, description="Create the GatewayClass (the tutorial does); false uses an existing one."
    )
    controller_name: str = Field(
        "gateway.envoyproxy.io/gatewayclass-controller",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$",
        description="Controller of the created GatewayClass (the add-on's Envoy Gateway).",
    )
    http_port: int = Field(8080, ge=1, le=65535, description="Port of the plain listener `http`.")
    inference_port: int = Field(8081, ge=1, le=65535, description="Port of the inference-aware listener `llm-gw`.")
    request_timeout: str = Field(
        "24h", pattern=DURATION, description="HTTPRoute `timeouts.request` (client request, end to end)."
    )
    backend_request_timeout: str = Field(
        "24h",
        pattern=DURATION,
        description="HTTPRoute `timeouts.backendRequest` (one try to a model server); at most `requestTimeout`.",
    )

    @model_validator(mode="after")
    def _distinct_ports(self) -> GatewaySettings:
        if self.http_port == self.inference_port:
            raise ValueError("`httpPort` and `inferencePort` must differ (one listener each)")
        return self


class EndpointPickerSettings(ConfigModel):
    mode: PickerMode = Field(
        "managed",
        description="`managed`: the ACK add-on runs the endpoint picker of each pool. `selfHosted`: this stack "
        "deploys one per pool (v1 only; the add-on must be told with `SELF_HOST_EPP=true`).",
    )
    image: str = Field(
        "registry.k8s.io/gateway-api-inference-extension/epp:v1.0.2",
        description="Endpoint picker image (`selfHosted`); v1.x images take the v1 (kebab-case) flags.",
    )
    replicas: int = Field(
        1, ge=1, le=5, description="Picker pods (`selfHosted`); more than one runs active-passive (leader election)."
    )
    tls: PickerTls = Field(
        "selfSigned",
        description="How the gateway talks to a self-hosted picker: `selfSigned` (the picker's default, "
        "`--secure-serving=true` with a generated certificate; the gateway must skip verification) or "
        "`plaintext` (`--secure-serving=false`).",
    )
    cpu: str = Field("1", pattern=QUANTITY, description="CPU request of a picker pod.")
    memory: str = Field("1Gi", pattern=QUANTITY, description="Memory request and limit of a picker pod.")

    @field_validator("image")
    @classmethod
    def _pinned_image(cls, image: str) -> str:
        return pinned_image(image)


class RoutingSettings(ConfigModel):
    api_version: InferenceApiVersion = Field(
        "v1",
        description="Inference Extension API the add-on serves: `v1` (InferencePool inference.networking.k8s.io, "
        "add-on v1.4.0-apsara.4+), `v1alpha2` (x-k8s.io InferencePool + InferenceModel, ACK docs of 2025) or "
        "`v1alpha1` (the original tutorial).",
    )
    attachment: Attachment | None = Field(
        None,
        description="How a pool joins the `llm-gw` listener: `annotation` (ACK's `attach-to` annotation, the "
        "tutorial's way, one pool only) or `backendRef` (an HTTPRoute whose backend is the pool). Default: "
        "`annotation` for v1alpha1, `backendRef` otherwise.",
    )
    routing_strategy: RoutingStrategy | None = Field(
        None,
        description="ACK routing-strategy annotation on each pool: `DEFAULT` (queue and KV-cache aware) or "
        "`PREFIX_CACHE` (also prefers servers holding the prompt's prefix). Unset: no annotation (DEFAULT).",
    )
    failure_mode: FailureMode | None = Field(
        None,
        description="What the gateway does when the endpoint picker is down: `FailClose` (reject; the CRD "
        "default) or `FailOpen` (pick any server; Envoy-based gateways may not honour it). Unset: CRD default.",
    )
    endpoint_picker: EndpointPickerSettings = Field(
        default_factory=EndpointPickerSettings, description="Who runs each pool's endpoint picker."
    )

    @property
    def attachment_mode(self) -> Attachment:
        return self.attachment or ("annotation" if self.api_version == "v1alpha1" else "backendRef")

    def api_of(self, model: ModelSettings) -> InferenceApiVersion:
        """The API of a model's pool and objects: its own `apiVersion`, or the stack's."""
        return model.api_version or self.api_version


class BenchmarkSettings(ConfigModel):
    enabled: bool = Field(False, description="Run the benchmark Job (once per `pulumi up` that replaces it).")
    model: str | None = Field(
        None, pattern=DNS_LABEL, description="Model server whose served name is benchmarked; default: the first."
    )
    image: str | None = Field(
        None,
        description="Image with `vllm bench serve` (vLLM 0.8.5+); default: the model server's own image, which "
        "also holds its tokenizer.",
    )
    tokenizer: str | None = Field(
        None, pattern=r"^\S+$", description="Tokenizer path or repository; default: the model's weights."
    )
    num_prompts: int = Field(500, ge=1, le=100_000, description="Requests per listener.")
    request_rate: float = Field(10.0, ge=0.1, le=10_000, description="Requests per second (Poisson arrivals).")
    input_len: int = Field(1024, ge=1, le=1_000_000, description="Random prompt length, tokens.")
    output_len: int = Field(128, ge=1, le=100_000, description="Tokens generated per request.")
    prefix_len: int = Field(
        0, ge=0, le=1_000_000, description="Shared prefix in front of every prompt, tokens (shows prefix caching)."
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed, the same for both listeners.")

    @field_validator("image")
    @classmethod
    def _pinned_image(cls, image: str | None) -> str | None:
        return None if image is None else pinned_image(image)


def routing_groups(models: list[ModelSettings]) -> dict[str, list[int]]:
    """Model servers by served model name (first appearance first): one HTTPRoute rule per group."""
    groups: dict[str, list[int]] = {}
    for index, model in enumerate(models):
        groups.setdefault(model.served_name, []).append(index)
    return groups


def name_problems(models: list[ModelSettings], gateway: GatewaySettings) -> Iterator[ConfigProblem]:
    """Kubernetes names this layer derives from the config must not collide within the namespace."""
    owners: dict[str, tuple[str | int, ...]] = {}

    def claim(name: str, loc: tuple[str | int, ...], what: str) -> Iterator[ConfigProblem]:
        if name in owners:
            yield ConfigProblem(loc, f"{what} `{name}` is also the name of another object; names must be unique")
        else:
            owners[name] = loc

    for index, model in enumerate(models):
        yield from claim(model.name, ("models", index, "name"), "model server")
    for index, model in enumerate(models):
        yield from claim(model.picker_name, ("models", index, "endpointPickerName"), "endpoint picker")
    objectives: set[str] = set()
    for index, model in enumerate(models):
        if model.objective in objectives:
            yield ConfigProblem(("models", index, "objectiveName"), "is used by another model server")
        objectives.add(model.objective)
    if gateway.name in owners:
        yield ConfigProblem(("gateway", "name"), "is also the name of a model server or endpoint picker")


def group_problems(models: list[ModelSettings]) -> Iterator[ConfigProblem]:
    served_by: dict[str, int] = {}
    for name, indices in routing_groups(models).items():
        first = models[indices[0]]
        for index in indices[1:]:
            if models[index].model_names != first.model_names:
                yield ConfigProblem(
                    ("models", index, "lora"),
                    f"serves `{name}` like models[{indices[0]}] (a canary pair) but with other adapters; the "
                    "split sends any of their model names to either server, so both need the same adapters",
                )
        if all(models[i].weight == 0 for i in indices):
            yield ConfigProblem(("models", indices[-1], "weight"), f"leaves no server for `{name}` (all weights 0)")
        for model_name in first.model_names:
            if served_by.setdefault(model_name, indices[0]) != indices[0]:
                yield ConfigProblem(
                    ("models", indices[0], "lora"),
                    f"model name `{model_name}` is also served by models[{served_by[model_name]}]; requests "
                    "are routed by model name, so each name belongs to one served model",
                )


def gateway_problems(gateway: GatewaySettings) -> Iterator[ConfigProblem]:
    # The program creates `gateway.namespace` unless it is `default`; any other namespace every cluster already
    # has fails with AlreadyExists at `pulumi up`.
    if gateway.namespace != "default" and gateway.namespace in PRESET_NAMESPACES:
        yield ConfigProblem(
            ("gateway", "namespace"),
            f"`{gateway.namespace}` already exists in every cluster and would be created again; use `default` or "
            f"a namespace of your own (not {', '.join(n for n in PRESET_NAMESPACES if n != 'default')})",
        )
    request = duration_ms(gateway.request_timeout)
    if request and duration_ms(gateway.backend_request_timeout) > request:
        yield ConfigProblem(
            ("gateway", "backendRequestTimeout"),
            "is longer than `requestTimeout`; one try to a model server must fit in the whole request "
            "(Gateway API rejects the route otherwise)",
        )


def routing_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    routing = settings.routing
    if routing.attachment_mode == "annotation" and len(settings.models) > 1:
        yield ConfigProblem(
            ("routing", "attachment"),
            "`annotation` attaches one pool to the `llm-gw` listener; with several model servers use `backendRef`",
        )
    if routing.api_version == "v1alpha1":
        for index, model in enumerate(settings.models):
            if model.api_version is not None:
                yield ConfigProblem(
                    ("models", index, "apiVersion"),
                    "cannot differ from `routing.apiVersion: v1alpha1` (it is stack-wide); a per-model API "
                    "version needs `routing.apiVersion` `v1alpha2` or `v1`",
                )
    if routing.endpoint_picker.mode == "selfHosted" and any(routing.api_of(m) != "v1" for m in settings.models):
        yield ConfigProblem(
            ("routing", "endpointPicker", "mode"),
            "`selfHosted` deploys the v1 endpoint picker, which serves `apiVersion: v1` pools only",
        )
    groups = routing_groups(settings.models)
    header_matches = sum(len(settings.models[indices[0]].model_names) for indices in groups.values())
    if len(groups) > 1 and header_matches > 128:
        yield ConfigProblem(
            ("models",),
            f"routes {header_matches} model names by header; one HTTPRoute allows at most 128 matches",
        )


# The fewest pods between which inference-aware routing can choose.
BENCHMARK_MIN_PODS = 2


def benchmark_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    benchmark = settings.benchmark
    if not benchmark.enabled:
        return
    target = benchmark_model(settings)
    if target is None:
        yield ConfigProblem(("benchmark", "model"), "names no configured model server")
        return
    if benchmark.image is None:
        if target.mode == "simulator":
            yield ConfigProblem(
                ("benchmark", "image"),
                "is required when the benchmarked model server is a simulator (its image has no `vllm` CLI)",
            )
        elif compatibility.vllm_version(target.vllm_version) < compatibility.BENCH_SERVE_MINIMUM:
            yield ConfigProblem(
                ("benchmark", "image"),
                "is required: the model server's vLLM is older than 0.8.5 and has no `vllm bench serve`",
            )
    if target.mode == "simulator" and benchmark.tokenizer is None:
        yield ConfigProblem(("benchmark", "tokenizer"), "is required for a simulator (it has no weights)")
    # With one pod the inference-aware listener has nothing to choose between: both listeners measure the same.
    index = settings.models.index(target)
    if target.autoscaling.enabled and target.autoscaling.min_replicas < BENCHMARK_MIN_PODS:
        loc: tuple[str | int, ...] = ("models", index, "autoscaling", "minReplicas")
    elif not target.autoscaling.enabled and target.replicas < BENCHMARK_MIN_PODS:
        loc = ("models", index, "replicas")
    else:
        return
    yield ConfigProblem(
        loc,
        f"must be at least {BENCHMARK_MIN_PODS} while `benchmark.enabled` measures this model server: with one "
        "pod the endpoint picker has nothing to choose between, so 8081 cannot show a routing gain over 8080",
    )


def benchmark_model(settings: StackSettings) -> ModelSettings | None:
    wanted = settings.benchmark.model
    return next((m for m in settings.models if wanted is None or m.name == wanted), None)
