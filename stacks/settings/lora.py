"""LoRA adapters of a model server (`models[].lora`) and the rules vLLM enforces on them at start-up."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from components.vocabulary import LoraRank
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

MAX_ADAPTERS = 16


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
