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
    name: str = Field("vllm-llama2-7b-pool", pattern=r"^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$")
    replicas: int = Field(1, ge=1, le=64)


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
