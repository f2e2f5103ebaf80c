"""Inference layer settings: the checks across model servers, gateway, routing and benchmark, in one chain.

The models live by subject: `sources` (weights), `models` (model servers), `routing` (gateway, inference
routing, endpoint pickers, benchmark); the version-skew rules are `stacks.compatibility`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from stacks import compatibility
from stacks.errors import ConfigProblem
from stacks.settings import models, reachability, routing

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from routing.name_problems(settings.models, settings.gateway)
    yield from routing.group_problems(settings.models)
    yield from models.problems(settings)
    yield from routing.gateway_problems(settings.gateway)
    yield from routing.routing_problems(settings)
    yield from routing.benchmark_problems(settings)
    yield from compatibility.problems(settings)
    yield from reachability.problems(settings)


def warnings(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from reachability.warnings(settings)
