"""Reads ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` into the config map the language host would pass."""

from __future__ import annotations

import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Encrypted (`secure:`) values cannot be decrypted without the stack's secrets provider. The offline plan
# treats them as present secrets; this stand-in never reaches a rendered file in plain text because the
# program keeps every secret wrapped in `Output.secret` (a test plants it and searches the plan for it).
UNDECRYPTED_SECRET = "offline-plan-undecrypted-secret"
# The client name a structured secret set as one secure JSON value (`pulumi config set --secret
# ack-inference:apiKeys '{...}'`) plans with: its keys are as encrypted as its values.
PLACEHOLDER_KEY = "offline-plan-placeholder"
# What a stack file may hold at the top level: Pulumi's `ProjectStack` (pulumi `sdk/go/common/workspace/project.go`,
# yaml tags `secretsprovider`, `encryptedkey`, `encryptionsalt`, `config`, `environment`). The CLI ignores any
# other key, so a misspelt `config` drops the whole configuration without a word.
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")


class StackFileError(Exception):
    """A stack file that cannot be read (missing, not YAML, wrong shape)."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()

    def project_values(self) -> tuple[dict[str, str], set[str]]:
        """The keys of the project namespace without the prefix, and which of them are secret."""
        prefix = f"{self.project}:"
        values = {key[len(prefix) :]: value for key, value in self.values.items() if key.startswith(prefix)}
        return values, {key[len(prefix) :] for key in self.secret_keys if key.startswith(prefix)}

    def with_overrides(self, overrides: dict[str, Any], secret_keys: set[str] = frozenset()) -> StackConfig:
        """A copy with some project keys replaced (tests); values are encoded like the stack file's."""
        values = dict(self.values)
        for key, value in overrides.items():
            full_key = _qualify(self.project, key)
            if value is None:
                values.pop(full_key, None)
            else:
                values[full_key] = encode_value(value)
        extra_secrets = {_qualify(self.project, key) for key in secret_keys}
        return StackConfig(self.project, self.stack, values, self.secret_keys | extra_secrets)


def project_name(project_dir: Path) -> str:
    return _project_document(project_dir)["name"]


def available_stacks(project_dir: Path) -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in project_dir.glob("Pulumi.*.yaml"))


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    project_doc = _project_document(project_dir)
    project = project_doc["name"]
    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise StackFileError(f"no stack file {stack_path.name} (stacks with a file: {known})")
    stack_doc = _read_yaml(stack_path) or {}
    if not isinstance(stack_doc, dict):
        raise StackFileError(f"{stack_path.name}: expected a mapping at the top level")
    for key in stack_doc:
        if key not in STACK_FILE_KEYS:
            close = difflib.get_close_matches(str(key), STACK_FILE_KEYS, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise StackFileError(
                f"{stack_path.name}: unknown top-level key `{key}`{hint}; allowed: {', '.join(STACK_FILE_KEYS)}"
            )

    values: dict[str, str] = {}
    secrets: set[str] = set()
    for key, entry in (project_doc.get("config") or {}).items():
        # Project-level config: `key: value`, or `key: {value: ...}` / `{default: ...}`.
        if isinstance(entry, dict) and ("value" in entry or "default" in entry):
            entry = entry.get("value", entry.get("default"))
        _put(values, secrets, _qualify(project, key), entry)
    config = stack_doc.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{stack_path.name}: `config` must be a mapping")
    for key, entry in config.items():
        _put(values, secrets, _qualify(project, key), entry)
    return StackConfig(project, stack, values, frozenset(secrets))


def encode_value(value: Any) -> str:
    """Config values reach the program as strings; structured ones as JSON (what the CLI does)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _put(values: dict[str, str], secrets: set[str], key: str, entry: Any) -> None:
    if _is_secure(entry):
        # One secure value for the whole key: stand in a value of the shape the key holds.
        values[key] = encode_value(_placeholder(key))
        secrets.add(key)
        return
    replaced, is_secret = _replace_secure(entry)
    values[key] = encode_value(replaced)
    if is_secret:
        secrets.add(key)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _placeholder(full_key: str) -> Any:
    """A stand-in of the shape the program's settings expect at a key: a map for a map of secrets."""
    from stacks.errors import PROJECT
    from stacks.settings import StackSettings

    namespace, _, key = full_key.partition(":")
    fields = {(f.alias or name): f for name, f in StackSettings.model_fields.items()}
    annotation = fields[key].annotation if namespace == PROJECT and key in fields else str
    return _shaped(annotation)


def _shaped(annotation: Any) -> Any:
    members = [m for m in typing.get_args(annotation) if m is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(members) == 1:
        return _shaped(members[0])
    if typing.get_origin(annotation) is dict:
        return {PLACEHOLDER_KEY: _shaped(typing.get_args(annotation)[1])}
    return UNDECRYPTED_SECRET


def _replace_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if _is_secure(value):
            return UNDECRYPTED_SECRET, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], inner = _replace_secure(v)
            found = found or inner
        return out, found
    if isinstance(value, list):
        items = [_replace_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _project_document(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise StackFileError(f"no Pulumi.yaml in {project_dir}")
    document = _read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise StackFileError("Pulumi.yaml: expected a mapping with a `name`")
    return document


def _read_yaml(path: Path) -> Any:
    """The document of a project or stack file, read as UTF-8 like the Pulumi CLI; every failure one line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise StackFileError(f"{path.name}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path.name}: not UTF-8 text (byte {error.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name}: not valid YAML ({' '.join(str(error).split())})") from None
