"""Cloud foundation settings: network, ACK cluster, node pools, compute placement, add-ons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

if TYPE_CHECKING:
    from stacks.settings import StackSettings


class NetworkSettings(ConfigModel):
    pass


class ClusterSettings(ConfigModel):
    pass


class NodePoolsSettings(ConfigModel):
    pass


class ComputeSettings(ConfigModel):
    pass


class AddonsSettings(ConfigModel):
    pass


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    return iter(())
