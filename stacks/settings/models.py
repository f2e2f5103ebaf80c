"""Model servers (`models`): image and vLLM version, weights source, LoRA, autoscaling, names, resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from components.constants import CHAT_TEMPLATES_DIR
from components.vocabulary import Criticality, LoraRank, ModelApiVersion, ServerMode
from stacks import compatibility
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.formats import DNS_LABEL, QUANTITY, SERVICE_NAME, pinned_image, quantity_value
from stacks.settings.sources import SourceSettings, source_problems

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

MAX_MODELS = 16
MAX_ADAPTERS = 16
BUNDLED_CHAT_TEMPLATES = sorted(path.stem for path in CHAT_TEMPLATES_DIR.glob("*.jinja"))
# The tutorial's names that do not follow from the model server's name.
TUTORIAL_OBJECTIVE_NAME = "inferencemodel-sample"
TUTORIAL_PICKER_NAME = "inference-gateway-ext-proc"
LLAMA_2_7B_REPO = "meta-llama/Llama-2-7b-hf"
# Images that hold vLLM but no model weights, so `source.type: baked` cannot serve from them.
WEIGHTLESS_IMAGES = ("vllm/vllm-openai", "docker.io/vllm/vllm-openai")
# The API server refuses a ConfigMap whose data exceeds 1 MiB (kubernetes `pkg/apis/core/validation/validation.go`
# ValidateConfigMap: total size of `data` and `binaryData` > `core.MaxSecretSize` = 1024 * 1024 bytes).
CONFIG_MAP_MAX_BYTES = 1024 * 1024
# The key the chat template is stored under (components/inference/model_server.py CHAT_TEMPLATE_FILE); it counts
# towards the ConfigMap's size.
CHAT_TEMPLATE_KEY_BYTES = len("chat-template.jinja")
# A production model server keeps serving through a rollout or the loss of one node.
PRODUCTION_MIN_REPLICAS = 2
# What an adapter rule that renames `vllm:<name>` to `vllm_<name>` serves; docs/models-and-routing.md shows that rule.
DEFAULT_WAITING_METRIC = "vllm_num_requests_waiting"


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
    max_lora_rank: LoraRank = Field(16, description="Largest adapter rank (`--max-lora-rank`).")
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
        "(custom.metrics.k8s.io); it depends on the adapter's rules (see docs/models-and-routing.md, Autoscaling).",
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
    mode: ServerMode = Field(
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
    criticality: Criticality = Field(
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
    api_version: ModelApiVersion | None = Field(
        None,
        description="Inference Extension API of this model's pool and InferenceModel/InferenceObjective, for "
        "moving from `v1alpha2` to `v1` without downtime (both pools side by side, traffic moved with `weight`; "
        "see the runbook). Default: `routing.apiVersion`; not with `routing.apiVersion: v1alpha1`.",
    )

    @field_validator("image", "simulator_image")
    @classmethod
    def _pinned_image(cls, image: str) -> str:
        return pinned_image(image)

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


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    for index, model in enumerate(settings.models):
        yield from source_problems(index, model.source)
        if model.mode == "vllm" and model.source.type == "baked" and model.image.startswith(WEIGHTLESS_IMAGES):
            yield ConfigProblem(
                ("models", index, "image"),
                "holds vLLM but no model weights, so `source.type: baked` has nothing to serve; use an image "
                "with the weights at `source.path` (e.g. your ACR copy of the tutorial image), or "
                "`source.type: huggingFace` or `oss`",
            )
        yield from autoscaling_problems(settings, index, model)
        if model.mode == "simulator" and model.chat_template is not None:
            yield ConfigProblem(("models", index, "chatTemplate"), "is a vLLM option; the simulator has none")
        yield from resource_problems(index, model)
        if model.lora is not None:
            yield from lora_problems(index, model.lora)


def resource_problems(index: int, model: ModelSettings) -> Iterator[ConfigProblem]:
    template = model.chat_template
    if template is not None and template not in BUNDLED_CHAT_TEMPLATES:
        size = len(template.encode()) + CHAT_TEMPLATE_KEY_BYTES
        if size > CONFIG_MAP_MAX_BYTES:
            yield ConfigProblem(
                ("models", index, "chatTemplate"),
                f"is {size} bytes in its ConfigMap; Kubernetes allows at most {CONFIG_MAP_MAX_BYTES} (1 MiB)",
            )
    # `/dev/shm` is an emptyDir with `medium: Memory`: its pages are charged to the container's memory limit
    # (kubernetes.io/docs/concepts/storage/volumes/#emptydir, "counts against your container's memory limit"),
    # so a pod whose `memory` is not above the shm size is OOM-killed once vLLM fills it.
    if model.mode == "vllm" and quantity_value(model.memory) <= model.shm_size_gib * 2**30:
        yield ConfigProblem(
            ("models", index, "memory"),
            f"must be more than `shmSizeGib` ({model.shm_size_gib}Gi): the in-memory /dev/shm counts against it",
        )


def lora_problems(index: int, lora: LoraSettings) -> Iterator[ConfigProblem]:
    loc = ("models", index, "lora")
    # vLLM refuses to start otherwise: `LoRAConfig` raises "max_cpu_loras (...) must be >= max_loras (...)"
    # (vllm `vllm/config.py` LoRAConfig.__post_init__, every release since 0.3).
    if lora.max_cpu_loras is not None and lora.max_cpu_loras < lora.max_loras:
        yield ConfigProblem((*loc, "maxCpuLoras"), f"must be at least `maxLoras` ({lora.max_loras})")
    # A second `--lora-modules` entry with a name already loaded fails start-up ("The lora adapter '<name>' has
    # already been loaded", vllm `vllm/entrypoints/openai/serving_models.py` load_lora_adapter).
    seen: set[str] = set()
    for position, adapter in enumerate(lora.adapters):
        if adapter.name in seen:
            yield ConfigProblem(
                (*loc, "adapters", position, "name"), f"`{adapter.name}` is already the name of another adapter"
            )
        seen.add(adapter.name)


def autoscaling_problems(settings: StackSettings, index: int, model: ModelSettings) -> Iterator[ConfigProblem]:
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
