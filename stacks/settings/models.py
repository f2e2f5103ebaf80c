"""Model servers (`models`): image and vLLM version, weights source, LoRA, autoscaling, names, resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from components.constants import CHAT_TEMPLATES_DIR, MANAGED_ENV, VLLM_SERVER_COMMAND
from components.vocabulary import Criticality, ModelApiVersion, ServerMode
from stacks import compatibility
from stacks.errors import ConfigProblem
from stacks.settings import vllm_cli
from stacks.settings.autoscaling import AutoscalingSettings, autoscaling_problems
from stacks.settings.base import ConfigModel
from stacks.settings.formats import DNS_LABEL, QUANTITY, SERVICE_NAME, EnvName, pinned_image, quantity_value
from stacks.settings.lora import LoraSettings, lora_problems
from stacks.settings.sources import (
    LLAMA_2_7B_REPO,
    MODELSCOPE_LLAMA_2_7B_REPO,
    SourceSettings,
    default_source,
    source_problems,
    token_problems,
)

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

MAX_MODELS = 16
BUNDLED_CHAT_TEMPLATES = sorted(path.stem for path in CHAT_TEMPLATES_DIR.glob("*.jinja"))
# The tutorial's names that do not follow from the model server's name.
TUTORIAL_SERVER_NAME = "vllm-llama2-7b-pool"
TUTORIAL_OBJECTIVE_NAME = "inferencemodel-sample"
TUTORIAL_PICKER_NAME = "inference-gateway-ext-proc"
# Images that hold vLLM but no model weights, so `source.type: baked` cannot serve from them.
WEIGHTLESS_IMAGES = ("vllm/vllm-openai", "docker.io/vllm/vllm-openai")
# The API server refuses a ConfigMap whose data exceeds 1 MiB (kubernetes `pkg/apis/core/validation/validation.go`
# ValidateConfigMap: total size of `data` and `binaryData` > `core.MaxSecretSize` = 1024 * 1024 bytes).
CONFIG_MAP_MAX_BYTES = 1024 * 1024
# The key the chat template is stored under (components/inference/model_server.py CHAT_TEMPLATE_FILE); it counts
# towards the ConfigMap's size.
CHAT_TEMPLATE_KEY_BYTES = len("chat-template.jinja")


class ModelSettings(ConfigModel):
    name: str = Field(
        TUTORIAL_SERVER_NAME,
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
        default_factory=lambda: default_source(None),
        description="Where the weights come from. Default: Llama 2 7B from ModelScope "
        f"(`{MODELSCOPE_LLAMA_2_7B_REPO}`) in mainland-China regions (`alicloud:region` `cn-*` except "
        f"`cn-hongkong`), from Hugging Face elsewhere (`{LLAMA_2_7B_REPO}`, gated: set `hfToken`).",
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
    command: list[str] | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="Container command of a vLLM pod. Default: `"
        + " ".join(VLLM_SERVER_COMMAND)
        + "` (the upstream manifest's) for `source.type: baked`, whose copied image may have another "
        "entrypoint; otherwise the image's own ENTRYPOINT (vllm-openai: that module up to v0.11.0, `vllm serve` "
        "from v0.11.1).",
    )
    extra_args: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="More vLLM flags, appended after the ones the program sets (e.g. `--max-num-seqs`, `256`, "
        "`--dtype`, `half`, `--quantization`, `awq`). Flags another key sets (`--model`, `--port`, "
        "`--served-model-name`, ...) are refused; so are flags the image's vLLM version does not have, where "
        "`schemas/vllm/` holds its command-line catalogue.",
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        max_length=64,
        description="More environment variables of the model-server container. Variables the program sets "
        f"({', '.join(f'`{name}`' for name in sorted(MANAGED_ENV))}) are refused.",
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
        None,
        pattern=DNS_LABEL,
        description=f"Name of the InferenceModel/InferenceObjective; default: `name`, or the tutorial's "
        f"`{TUTORIAL_OBJECTIVE_NAME}` for the server named `{TUTORIAL_SERVER_NAME}`.",
    )
    endpoint_picker_name: str | None = Field(
        None,
        pattern=SERVICE_NAME,
        description="Service name of this pool's endpoint picker; default `<name>-ext-proc`, or the tutorial's "
        f"`{TUTORIAL_PICKER_NAME}` for the server named `{TUTORIAL_SERVER_NAME}`.",
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
    def container_command(self) -> list[str] | None:
        if self.command is not None:
            return self.command
        if self.mode == "vllm" and self.source.type == "baked":
            return list(VLLM_SERVER_COMMAND)
        return None

    @property
    def served_name(self) -> str:
        """The model name clients send; by default what identifies the weights."""
        if self.served_model_name:
            return self.served_model_name
        source = self.source
        if source.type in ("huggingFace", "modelScope"):
            return source.repo or ""
        if source.type == "oss":
            return source.weights_path.rstrip("/").rpartition("/")[2] or source.bucket or ""
        return source.weights_path

    @property
    def peak_replicas(self) -> int:
        """The most pods this server runs: what GPU capacity must hold."""
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas

    # The tutorial's server keeps the tutorial's names whether the `models` list is written out or not.
    @property
    def picker_name(self) -> str:
        if self.endpoint_picker_name:
            return self.endpoint_picker_name
        return TUTORIAL_PICKER_NAME if self.name == TUTORIAL_SERVER_NAME else f"{self.name}-ext-proc"

    @property
    def objective(self) -> str:
        if self.objective_name:
            return self.objective_name
        return TUTORIAL_OBJECTIVE_NAME if self.name == TUTORIAL_SERVER_NAME else self.name

    @property
    def model_names(self) -> list[str]:
        """Every model name this server answers to: the served name, then its adapters."""
        return [self.served_name, *(a.name for a in (self.lora.adapters if self.lora else []))]


def default_models() -> list[ModelSettings]:
    """The tutorial's Llama 2 7B server; its image (weights baked in) is not public, so the weights are downloaded
    (`stack.in_region` picks where from)."""
    return [ModelSettings(chat_template="llama-2")]


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from token_problems(settings)
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
        yield from vllm_cli.passthrough_problems(index, model)
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
