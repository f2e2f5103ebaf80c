"""vLLM's OpenAI-server command line per release, from the vendored catalogues `schemas/vllm/cli-<version>.json`
(every option string the release's real argparse parser accepts; format in the catalogue's own keys)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from components.constants import MANAGED_ENV, MANAGED_VLLM_FLAGS
from stacks.errors import ConfigProblem

if TYPE_CHECKING:
    from stacks.settings.models import ModelSettings

CATALOGUES = Path(__file__).resolve().parents[2] / "schemas" / "vllm"


def catalogue_name(version: str) -> str:
    return f"cli-v{version.removeprefix('v')}.json"


@functools.cache
def options(version: str) -> dict[str, str] | None:
    """Every option string the release accepts (aliases and `--no-` forms included) -> its flag's primary name;
    None for a release without a catalogue."""
    path = CATALOGUES / catalogue_name(version)
    if not path.is_file():
        return None
    accepted: dict[str, str] = {}
    for flag in json.loads(path.read_text())["flags"]:
        for option in flag["accepted_option_strings"]:
            accepted[option] = flag["name"]
    return accepted


def flag_name(arg: str) -> str:
    """The option an argument names, as vLLM's FlexibleArgumentParser reads it: `--max_model_len=8` is
    `--max-model-len` (vllm/utils.py: underscores in the name become dashes, the value after `=` is cut)."""
    name = arg.partition("=")[0]
    return name.replace("_", "-") if name.startswith("--") else name


def passthrough_problems(index: int, model: ModelSettings) -> Iterator[ConfigProblem]:
    """`extraArgs` and `env` must not set what other keys set: the program's value would be overridden or doubled."""
    catalogue = options(model.vllm_version) if model.mode == "vllm" else None
    for position, arg in enumerate(model.extra_args):
        if not arg.startswith("-") or arg == "-":
            continue  # a value of the flag before it
        name = flag_name(arg)
        canonical = catalogue.get(name, name) if catalogue else name
        loc = ("models", index, "extraArgs", position)
        if canonical in MANAGED_VLLM_FLAGS:
            yield ConfigProblem(loc, f"`{name}` is set by the program from `{MANAGED_VLLM_FLAGS[canonical]}`")
        elif catalogue is not None and name not in catalogue:
            yield ConfigProblem(
                loc,
                f"`{name}` is not a flag of vLLM {model.vllm_version}'s OpenAI server (its command-line catalogue "
                f"schemas/vllm/{catalogue_name(model.vllm_version)}; abbreviations are not accepted)",
            )
    for name in sorted(model.env):
        if name in MANAGED_ENV:
            yield ConfigProblem(("models", index, "env", name), f"is set by the program from `{MANAGED_ENV[name]}`")
