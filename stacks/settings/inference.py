"""Inference layer settings: model servers, gateway, inference routing, benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

if TYPE_CHECKING:
    from stacks.settings import StackSettings

MAX_MODELS = 16


class ModelSettings(ConfigModel):
    name: str = Field(
        "vllm-llama2-7b-pool",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$",
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


def default_models() -> list[ModelSettings]:
    return [ModelSettings()]


class GatewaySettings(ConfigModel):
    pass


class RoutingSettings(ConfigModel):
    pass


class BenchmarkSettings(ConfigModel):
    pass


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    return iter(())
