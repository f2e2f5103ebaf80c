"""Observability settings: scraping, dashboard, alert rules, optional self-managed monitoring."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

if TYPE_CHECKING:
    from stacks.settings import StackSettings


class ObservabilitySettings(ConfigModel):
    pass


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    return iter(())
