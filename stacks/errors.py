"""Configuration errors: one clear line per problem, naming the key path, never echoing a value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pulumi

PROJECT = "ack-inference"


def key_path(loc: Sequence[str | int], namespace: str = PROJECT) -> str:
    """Render a location as the key a user types: ``ack-inference:models[0].replicas``."""
    if not loc:
        return f"{namespace}:"
    head, *rest = loc
    text = f"{namespace}:{head}"
    for part in rest:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


@dataclass(frozen=True)
class ConfigProblem:
    loc: tuple[str | int, ...]
    message: str
    # The config namespace of the key: the project's, or a provider's (`alicloud:region`).
    namespace: str = PROJECT

    def __str__(self) -> str:
        return f"{key_path(self.loc, self.namespace)}: {self.message}"


class ConfigError(pulumi.RunError):
    """Ends the program before any resource is registered.

    A ``pulumi.RunError`` makes the Pulumi CLI print the message without a Python traceback.
    """

    def __init__(self, problems: Iterable[ConfigProblem]):
        self.problems = sorted(set(problems), key=lambda p: (str(p.loc), p.message))
        lines = [f"  - {p}" for p in self.problems]
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"Invalid stack configuration ({len(self.problems)} {noun}):\n" + "\n".join(lines))
