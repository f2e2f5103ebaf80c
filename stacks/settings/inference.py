"""Inference layer settings: model servers, gateway, inference routing, benchmark."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from components.constants import CHAT_TEMPLATES_DIR, OSS_MOUNT_PATH
from stacks import compatibility
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

if TYPE_CHECKING:
    from stacks.settings import StackSettings

MAX_MODELS = 16
MAX_ADAPTERS = 16
BUNDLED_CHAT_TEMPLATES = sorted(path.stem for path in CHAT_TEMPLATES_DIR.glob("*.jinja"))
# The tutorial's names that do not follow from the model server's name.
TUTORIAL_OBJECTIVE_NAME = "inferencemodel-sample"
TUTORIAL_PICKER_NAME = "inference-gateway-ext-proc"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SERVICE_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
# Gateway API `Duration` (GEP-2257), the format of HTTPRoute timeouts.
DURATION = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"
_DURATION_UNITS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None when it is (a tag other than `latest`, or a digest)."""
    if "@sha256:" in image:
        return None
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return "has no tag; pin a version tag or a digest (never `latest`)"
    if tag == "latest":
        return "uses `latest`; pin a version tag or a digest"
    return None


def _pinned(image: str) -> str:
    problem = image_problem(image)
    if problem:
        raise ValueError(problem)
    return image


def duration_ms(text: str) -> int:
    return sum(int(number) * _DURATION_UNITS[unit] for number, unit in re.findall(r"([0-9]+)(ms|h|m|s)", text))


SourceType = Literal["baked", "huggingFace", "oss"]
# Which source keys each source type reads (and requires); the others must stay unset.
SOURCE_KEYS: dict[str, set[str]] = {
    "baked": {"path"},
    "huggingFace": {"repo", "revision", "cache_size_gib", "cache_storage_class"},
    "oss": {"bucket", "endpoint", "path", "ram_role", "credentials_secret", "mount_options", "capacity_gib"},
}
REQUIRED_SOURCE_KEYS: dict[str, set[str]] = {"huggingFace": {"repo"}, "oss": {"bucket", "endpoint"}}
DEFAULT_SOURCE_PATHS = {"baked": "/model/llama2", "oss": "/"}
LLAMA_2_7B_REPO = "meta-llama/Llama-2-7b-hf"
# Images that hold vLLM but no model weights, so `source.type: baked` cannot serve from them.
WEIGHTLESS_IMAGES = ("vllm/vllm-openai", "docker.io/vllm/vllm-openai")
# A production model server keeps serving through a rollout or the loss of one node.
PRODUCTION_MIN_REPLICAS = 2
# What an adapter rule that renames `vllm:<name>` to `vllm_<name>` serves; the README shows that rule.
DEFAULT_WAITING_METRIC = "vllm_num_requests_waiting"


class SourceSettings(ConfigModel):
    type: SourceType = Field(
        "baked",
        description="`baked`: weights inside the image (the tutorial's way). `huggingFace`: downloaded from the "
        f"Hugging Face Hub at start-up. `oss`: an OSS bucket mounted read-only at `{OSS_MOUNT_PATH}` through the "
        "OSS CSI driver (ossfs), the Alibaba-native way for large models.",
    )
    path: str | None = Field(
        None,
        pattern=r"^/\S*$",
        description="`baked`: directory of the weights in the image (default `/model/llama2`). `oss`: directory "
        "of the weights in the bucket (default `/`).",
    )
    repo: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*/[-A-Za-z0-9_.]+$",
        description="`huggingFace`: model repository, e.g. `meta-llama/Llama-2-7b-hf` (gated repositories need "
        "the root `hfToken`).",
    )
    revision: str | None = Field(
        None,
        pattern=r"^[-A-Za-z0-9_./]+$",
        description="`huggingFace`: branch, tag or commit to pin (recommended: a commit).",
    )
    cache_size_gib: int = Field(
        50, ge=1, le=4096, description="`huggingFace`: size of the download cache (the weights plus headroom), GiB."
    )
    cache_storage_class: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="`huggingFace`: StorageClass of a shared ReadWriteMany cache volume (e.g. a NAS class), so a "
        "restarted or added pod does not download again. Unset: a per-pod emptyDir.",
    )
    bucket: str | None = Field(None, pattern=r"^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$", description="`oss`: bucket name.")
    endpoint: str | None = Field(
        None,
        pattern=r"^[-a-z0-9.]+\.aliyuncs\.com$",
        description="`oss`: endpoint, e.g. `oss-cn-hangzhou-internal.aliyuncs.com` (the internal one in-region).",
    )
    ram_role: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,63}$",
        description="`oss`: RAM role the CSI driver assumes through RRSA (recommended; needs `cluster.rrsa`).",
    )
    credentials_secret: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="`oss`: existing Secret (keys `akId`, `akSecret`) in the gateway namespace, instead of `ramRole`.",
    )
    mount_options: str = Field(
        "-o umask=022 -o max_stat_cache_size=100000 -o allow_other", description="`oss`: ossfs options (`otherOpts`)."
    )
    capacity_gib: int = Field(100, ge=1, le=65536, description="`oss`: capacity stated on the PersistentVolume, GiB.")

    @property
    def weights_path(self) -> str:
        return self.path or DEFAULT_SOURCE_PATHS.get(self.type, "/")


class LoraAdapter(ConfigModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$", description="Model name clients use to ask for the adapter."
    )
    path: str = Field(
        pattern=r"^\S+$",
        description="Adapter directory (in the image or the weights volume) or a Hugging Face repository.",
    )


class LoraSettings(ConfigModel):
    max_loras: int = Field(1, ge=1, le=64, description="Adapters in one batch (`--max-loras`).")
    max_lora_rank: Literal[8, 16, 32, 64, 128, 256] = Field(16, description="Largest adapter rank (`--max-lora-rank`).")
    max_cpu_loras: int | None = Field(
        None, ge=1, le=256, description="Adapters cached in CPU memory (`--max-cpu-loras`); unset: vLLM's default."
    )
    adapters: list[LoraAdapter] = Field(
        default_factory=list, max_length=MAX_ADAPTERS, description="Adapters loaded at start (`--lora-modules`)."
    )


class AutoscalingSettings(ConfigModel):
    enabled: bool = Field(
        False,
        description="Scale this model server with a HorizontalPodAutoscaler on its waiting-queue depth per pod "
        "(a Pods metric from ACK's `ack-alibaba-cloud-metrics-adapter`, which must serve `metricName`); the GPU "
        "pool's autoscaler adds nodes for the pods. `replicas` must then stay unset: the autoscaler owns the count.",
    )
    min_replicas: int = Field(1, ge=1, le=64, description="Fewest pods (also the count at creation).")
    max_replicas: int = Field(
        2, ge=1, le=64, description="Most pods; the GPU node pool's `maxSize` must have room for them."
    )
    target_waiting_requests: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Waiting requests per pod (`vllm:num_requests_waiting`, averaged over the pods) the "
        "autoscaler holds the server at: more adds pods, less removes them.",
    )
    metric_name: str = Field(
        DEFAULT_WAITING_METRIC,
        max_length=200,
        pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
        description="Name under which the metrics adapter serves `vllm:num_requests_waiting` per pod "
        "(custom.metrics.k8s.io); it depends on the adapter's rules (see README, Autoscaling).",
    )


class ModelSettings(ConfigModel):
    name: str = Field(
        "vllm-llama2-7b-pool",
        # A Service name: a DNS-1035 label, so it starts with a letter.
        pattern=r"^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$",
        description="Name of the model server (Deployment, Service, InferencePool, pod label `app`).",
    )
    replicas: int = Field(1, ge=1, le=64, description="Model-server pods.")
    image: str = Field(
        "vllm/vllm-openai:v0.8.5.post1", description="Pinned model-server image (a tag or digest; never `latest`)."
    )
    vllm_version: str = Field(
        "0.8.5.post1",
        description="vLLM version inside `image` (the compatibility and metrics checks use it; an image whose "
        "tag is not the vLLM version, such as a registry copy with baked-in weights, must state it here).",
    )
    gpus_per_replica: int = Field(1, ge=1, le=8, description="GPUs per pod (= vLLM tensor parallel size).")
    gpu_memory_gib_needed: int = Field(
        20,
        ge=1,
        description="GPU memory each GPU must have. The Llama 2 7B sample needs more than 16 GiB, so a T4 "
        "(16 GiB) is rejected.",
    )
    mode: Literal["vllm", "simulator"] = Field(
        "vllm",
        description="`simulator` runs the llm-d inference simulator on CPU instead of vLLM (same labels, port "
        "and OpenAI API; fake completions and metrics) for clusters without GPUs.",
    )
    simulator_image: str = Field(
        "ghcr.io/llm-d/llm-d-inference-sim:v0.4.0",
        description="Simulator image (`mode: simulator`); v0.4.0 is the one GIE v1.0.x's manifests use.",
    )
    source: SourceSettings = Field(
        default_factory=lambda: SourceSettings(type="huggingFace", repo=LLAMA_2_7B_REPO),
        description="Where the weights come from; default Llama 2 7B from Hugging Face (gated: set `hfToken`).",
    )
    served_model_name: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        pattern=r"^\S+$",
        description="Model name clients send (`model` in the request body). Default: the baked path (the "
        "tutorial's `/model/llama2`), the Hugging Face repository, or the last directory of the OSS path.",
    )
    max_model_len: int | None = Field(
        None, ge=16, le=10_000_000, description="Context length (`--max-model-len`); unset: the model's own."
    )
    gpu_memory_utilization: float = Field(
        0.9, ge=0.1, le=1.0, description="Share of GPU memory vLLM may use (`--gpu-memory-utilization`)."
    )
    prefix_caching: bool | None = Field(
        None,
        description="Automatic prefix caching: `true`/`false` pass `--enable-prefix-caching`/"
        "`--no-enable-prefix-caching`; unset keeps vLLM's default (on with the V1 engine).",
    )
    lora: LoraSettings | None = Field(None, description="Serve LoRA adapters (`--enable-lora`); unset: off.")
    autoscaling: AutoscalingSettings = Field(
        default_factory=AutoscalingSettings, description="Scale the pods on the waiting-queue depth; off by default."
    )
    chat_template: str | None = Field(
        None,
        description="Chat template for models without one (Llama 2 base models have none, so "
        f"`/v1/chat/completions` fails): a bundled name ({', '.join(BUNDLED_CHAT_TEMPLATES)}) or the Jinja text.",
    )
    cpu: str = Field("4", pattern=QUANTITY, description="CPU request of a vLLM pod.")
    memory: str = Field("24Gi", pattern=QUANTITY, description="Memory request and limit of a vLLM pod.")
    shm_size_gib: int = Field(
        2, ge=1, le=512, description="Size of the in-memory `/dev/shm` volume (counts against `memory`), GiB."
    )
    startup_minutes: int = Field(
        30,
        ge=1,
        le=240,
        description="How long a pod may take to load the model before Kubernetes restarts it (startup probe), "
        "and how much longer than that Pulumi waits for a rollout.",
    )
    max_surge: int = Field(
        1,
        ge=0,
        le=64,
        description="Extra pods during a rollout (each needs free GPUs); 0 replaces pods one at a time instead.",
    )
    weight: int = Field(
        100,
        ge=0,
        le=1_000_000,
        description="Share of the requests for this served model name when several model servers serve it "
        "(canary split); 0 takes it out of rotation.",
    )
    criticality: Literal["Critical", "Standard", "Sheddable"] = Field(
        "Critical",
        description="Under saturation the endpoint picker sheds non-critical requests first. v1alpha1/v1alpha2: "
        "InferenceModel `criticality`. v1: InferenceObjective `priority` (Critical = 0, never shed, no object; "
        "Standard = -1; Sheddable = -2), selected by the `x-gateway-inference-objective` request header.",
    )
    objective_name: str | None = Field(
        None, pattern=DNS_LABEL, description="Name of the InferenceModel/InferenceObjective; default: `name`."
    )
    endpoint_picker_name: str | None = Field(
        None,
        pattern=SERVICE_NAME,
        description="Service name of this pool's endpoint picker; default `<name>-ext-proc`.",
    )
    api_version: Literal["v1alpha2", "v1"] | None = Field(
        None,
        description="Inference Extension API of this model's pool and InferenceModel/InferenceObjective, for "
        "moving from `v1alpha2` to `v1` without downtime (both pools side by side, traffic moved with `weight`; "
        "see the runbook). Default: `routing.apiVersion`; not with `routing.apiVersion: v1alpha1`.",
    )

    @field_validator("image", "simulator_image")
    @classmethod
    def _pinned_image(cls, image: str) -> str:
        return _pinned(image)

    @field_validator("vllm_version")
    @classmethod
    def _version_format(cls, version: str) -> str:
        if compatibility.vllm_version(version) is None:
            raise ValueError(f"is not a vLLM version; expected {compatibility.VLLM_VERSION_FORMAT}")
        return version

    @field_validator("chat_template")
    @classmethod
    def _chat_template(cls, template: str | None) -> str | None:
        if template is not None and template not in BUNDLED_CHAT_TEMPLATES and "{" not in template:
            raise ValueError(
                f"is neither a bundled template ({', '.join(BUNDLED_CHAT_TEMPLATES)}) nor Jinja template text"
            )
        return template

    @model_validator(mode="after")
    def _image_matches_version(self) -> ModelSettings:
        tag = self.image.rpartition(":")[2]
        tagged = compatibility.vllm_version(tag) if "@" not in self.image else None
        if tagged is not None and tagged != compatibility.vllm_version(self.vllm_version):
            raise ValueError("the image tag names another vLLM version than `vllmVersion`; make them agree")
        return self

    @property
    def served_name(self) -> str:
        """The model name clients send; by default what identifies the weights."""
        if self.served_model_name:
            return self.served_model_name
        source = self.source
        if source.type == "huggingFace":
            return source.repo or ""
        if source.type == "oss":
            return source.weights_path.rstrip("/").rpartition("/")[2] or source.bucket or ""
        return source.weights_path

    @property
    def peak_replicas(self) -> int:
        """The most pods this server runs: what GPU capacity must hold."""
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas

    @property
    def picker_name(self) -> str:
        return self.endpoint_picker_name or f"{self.name}-ext-proc"

    @property
    def objective(self) -> str:
        return self.objective_name or self.name

    @property
    def model_names(self) -> list[str]:
        """Every model name this server answers to: the served name, then its adapters."""
        return [self.served_name, *(a.name for a in (self.lora.adapters if self.lora else []))]


def default_models() -> list[ModelSettings]:
    """The tutorial's model server (Llama 2 7B with a chat template, the tutorial's object names).

    The tutorial bakes the weights into an ACK-registry image whose name is not public, so by default the
    weights come from Hugging Face; a stack with such an image sets `source.type: baked` and `image`.
    """
    return [
        ModelSettings(
            chat_template="llama-2",
            objective_name=TUTORIAL_OBJECTIVE_NAME,
            endpoint_picker_name=TUTORIAL_PICKER_NAME,
        )
    ]


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
    mode: Literal["managed", "selfHosted"] = Field(
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
    tls: Literal["selfSigned", "plaintext"] = Field(
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
        return _pinned(image)


class RoutingSettings(ConfigModel):
    api_version: Literal["v1alpha1", "v1alpha2", "v1"] = Field(
        "v1",
        description="Inference Extension API the add-on serves: `v1` (InferencePool inference.networking.k8s.io, "
        "add-on v1.4.0-apsara.4+), `v1alpha2` (x-k8s.io InferencePool + InferenceModel, ACK docs of 2025) or "
        "`v1alpha1` (the original tutorial).",
    )
    attachment: Literal["annotation", "backendRef"] | None = Field(
        None,
        description="How a pool joins the `llm-gw` listener: `annotation` (ACK's `attach-to` annotation, the "
        "tutorial's way, one pool only) or `backendRef` (an HTTPRoute whose backend is the pool). Default: "
        "`annotation` for v1alpha1, `backendRef` otherwise.",
    )
    routing_strategy: Literal["DEFAULT", "PREFIX_CACHE"] | None = Field(
        None,
        description="ACK routing-strategy annotation on each pool: `DEFAULT` (queue and KV-cache aware) or "
        "`PREFIX_CACHE` (also prefers servers holding the prompt's prefix). Unset: no annotation (DEFAULT).",
    )
    failure_mode: Literal["FailOpen", "FailClose"] | None = Field(
        None,
        description="What the gateway does when the endpoint picker is down: `FailClose` (reject; the CRD "
        "default) or `FailOpen` (pick any server; Envoy-based gateways may not honour it). Unset: CRD default.",
    )
    endpoint_picker: EndpointPickerSettings = Field(
        default_factory=EndpointPickerSettings, description="Who runs each pool's endpoint picker."
    )

    @property
    def attachment_mode(self) -> Literal["annotation", "backendRef"]:
        return self.attachment or ("annotation" if self.api_version == "v1alpha1" else "backendRef")

    def api_of(self, model: ModelSettings) -> Literal["v1alpha1", "v1alpha2", "v1"]:
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
        return None if image is None else _pinned(image)


def routing_groups(models: list[ModelSettings]) -> dict[str, list[int]]:
    """Model servers by served model name (first appearance first): one HTTPRoute rule per group."""
    groups: dict[str, list[int]] = {}
    for index, model in enumerate(models):
        groups.setdefault(model.served_name, []).append(index)
    return groups


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from _name_problems(settings.models, settings.gateway)
    yield from _group_problems(settings.models)
    yield from _model_problems(settings)
    yield from _gateway_problems(settings.gateway)
    yield from _routing_problems(settings)
    yield from _benchmark_problems(settings)
    yield from compatibility.problems(settings)


def _name_problems(models: list[ModelSettings], gateway: GatewaySettings) -> Iterator[ConfigProblem]:
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


def _group_problems(models: list[ModelSettings]) -> Iterator[ConfigProblem]:
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


def _source_problems(index: int, source: SourceSettings) -> Iterator[ConfigProblem]:
    loc = ("models", index, "source")
    fields = SourceSettings.model_fields
    for name in sorted(source.model_fields_set - {"type"} - SOURCE_KEYS[source.type]):
        yield ConfigProblem((*loc, fields[name].alias), f"is not used with `source.type: {source.type}`")
    for name in sorted(REQUIRED_SOURCE_KEYS.get(source.type, set())):
        if getattr(source, name) is None:
            yield ConfigProblem((*loc, fields[name].alias), f"is required with `source.type: {source.type}`")
    if source.type == "oss" and (source.ram_role is None) == (source.credentials_secret is None):
        yield ConfigProblem((*loc, "ramRole"), "set exactly one of `ramRole` (RRSA) or `credentialsSecret`")


def _model_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    for index, model in enumerate(settings.models):
        yield from _source_problems(index, model.source)
        if model.mode == "vllm" and model.source.type == "baked" and model.image.startswith(WEIGHTLESS_IMAGES):
            yield ConfigProblem(
                ("models", index, "image"),
                "holds vLLM but no model weights, so `source.type: baked` has nothing to serve; use an image "
                "with the weights at `source.path` (e.g. your ACR copy of the tutorial image), or "
                "`source.type: huggingFace` or `oss`",
            )
        yield from _autoscaling_problems(settings, index, model)
        if model.mode == "simulator" and model.chat_template is not None:
            yield ConfigProblem(("models", index, "chatTemplate"), "is a vLLM option; the simulator has none")


def _autoscaling_problems(settings: StackSettings, index: int, model: ModelSettings) -> Iterator[ConfigProblem]:
    autoscaling = model.autoscaling
    loc = ("models", index, "autoscaling")
    floor = (*loc, "minReplicas") if autoscaling.enabled else ("models", index, "replicas")
    lowest = autoscaling.min_replicas if autoscaling.enabled else model.replicas
    if settings.production and model.mode == "vllm" and lowest < PRODUCTION_MIN_REPLICAS:
        yield ConfigProblem(
            floor,
            f"must be at least {PRODUCTION_MIN_REPLICAS} with `tier: production`, so that a rollout or the "
            "loss of a node never takes the model offline",
        )
    if not autoscaling.enabled:
        return
    if autoscaling.min_replicas > autoscaling.max_replicas:
        yield ConfigProblem((*loc, "maxReplicas"), "must be at least `minReplicas`")
    if "replicas" in model.model_fields_set:
        yield ConfigProblem(
            ("models", index, "replicas"),
            "is owned by the autoscaler when `autoscaling.enabled` is on; remove it and set "
            "`autoscaling.minReplicas`/`maxReplicas` instead",
        )


def _gateway_problems(gateway: GatewaySettings) -> Iterator[ConfigProblem]:
    request = duration_ms(gateway.request_timeout)
    if request and duration_ms(gateway.backend_request_timeout) > request:
        yield ConfigProblem(
            ("gateway", "backendRequestTimeout"),
            "is longer than `requestTimeout`; one try to a model server must fit in the whole request "
            "(Gateway API rejects the route otherwise)",
        )


def _routing_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
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


def _benchmark_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
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


def benchmark_model(settings: StackSettings) -> ModelSettings | None:
    wanted = settings.benchmark.model
    return next((m for m in settings.models if wanted is None or m.name == wanted), None)
