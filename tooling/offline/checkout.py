"""A copy of the program and its stack files in another folder (what a user's clone holds)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tooling.offline.run import PROJECT_DIR

# The Pulumi program (what `pulumi up` runs) and the offline tooling that plans it.
# `schemas/vllm` is read by the program too: the vLLM command-line catalogues check `models[].extraArgs`.
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "stacks", "components", "metrics", "dashboards", "schemas", "tooling")


def copy_program(destination: Path, source: Path = PROJECT_DIR) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROGRAM_FILES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            shutil.copy2(path, destination / name)
    for stack_file in source.glob("Pulumi.*.yaml"):
        shutil.copy2(stack_file, destination / stack_file.name)
    return destination
