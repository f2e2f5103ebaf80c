"""Reads the project's Pulumi config into the typed ``StackSettings`` or ends the program with a clear message."""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from stacks.errors import PROJECT, ConfigError, ConfigProblem
from stacks.settings import StackSettings, in_region, settings_problems, settings_warnings
from stacks.stack_keys import REGION_KEY, namespace_problems, region_problems

_PREFIX = f"{PROJECT}:"
# Where the Alibaba Cloud provider takes its region when `alicloud:region` is unset
# (pulumi_alicloud/config/vars.py: `region`).
REGION_ENV = "ALICLOUD_REGION"
_UNIONS = (typing.Union, types.UnionType)


def all_config() -> dict[str, Any]:
    """Every key the stack file holds, in any namespace (full keys), with its raw value."""
    return {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}


def project_config() -> tuple[dict[str, str], set[str]]:
    """Every key of the project namespace with its raw string value, and the keys that are secret.

    The language host hands config over as ``PULUMI_CONFIG`` (JSON); tests and the offline plan set it
    with ``pulumi.runtime.set_all_config``. Both are read so the program sees exactly what Pulumi sees.

    Why the SDK's runtime internals and not ``pulumi.Config(PROJECT)``: the public class
    (``pulumi/config.py``, ``class Config``) reads one key at a time (``get``, ``get_object``, ``get_secret``,
    ``require*``, all through ``Config._get`` -> ``pulumi.runtime.config.get_config(full_key)``) and has no
    method that lists the keys of a namespace, which the loader needs to report unknown keys and typos, nor one
    that says whether a key is stored as a secret (``get_secret``/``require_secret`` wrap any value, secret or
    not; the only test is ``pulumi/runtime/config.py: is_config_secret``), which it needs to refuse secrets kept
    in plain text. So the key set comes from ``pulumi/runtime/config.py``: ``get_config_env()`` and the
    ``CONFIG`` context variable for the values, ``get_config_secret_keys_env()`` and ``is_config_secret()``
    for the secret keys. ``tests/test_config_sdk.py`` fails if the pinned SDK changes any of them.
    """
    raw = all_config()
    secret_env = set(pulumi_config.get_config_secret_keys_env())
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for full_key, value in raw.items():
        if not full_key.startswith(_PREFIX):
            continue
        key = full_key[len(_PREFIX) :]
        values[key] = value
        if full_key in secret_env or pulumi_config.is_config_secret(full_key):
            secrets.add(key)
    return values, secrets


def provider_region(others: Mapping[str, str]) -> str | None:
    return others.get(REGION_KEY) or os.environ.get(REGION_ENV) or None


def load_settings() -> StackSettings:
    values, secrets = project_config()
    others = {key: value for key, value in all_config().items() if not key.startswith(_PREFIX)}
    settings = parse_settings(values, secrets, others, provider_region(others))
    # Warnings, not errors: the source may be reachable after all (a proxy, a mirror); preview shows them.
    for warning in settings_warnings(settings):
        pulumi.log.warn(str(warning))
    return settings


def parse_settings(
    values: Mapping[str, str],
    secret_keys: Iterable[str] = (),
    others: Mapping[str, str] | None = None,
    region: str | None = None,
) -> StackSettings:
    """Validates raw config values (strings, JSON for structured keys) into settings for `region`
    (`alicloud:region`; None when not known, which takes the mainland-China defaults).

    `others`: the stack's keys outside the project namespace (full keys), checked against what the providers
    read (`stacks/stack_keys.py`); None skips those checks (settings on their own, in tests).
    Raises ``ConfigError`` listing every problem; messages never contain a configured value.
    """
    secret_keys = set(secret_keys)
    fields = _fields_by_alias(StackSettings)
    problems: list[ConfigProblem] = list(namespace_problems(sorted(others or {})))
    data: dict[str, Any] = {}
    for key, raw in values.items():
        field = fields.get(key)
        if field is None:
            problems.append(ConfigProblem((key,), _unknown_key_message(key, fields)))
            continue
        annotation = field.annotation
        if _contains_secret(annotation) and key not in secret_keys:
            problems.append(
                ConfigProblem(
                    (key,),
                    "is stored in plain text but must be a secret; set it with "
                    f"`pulumi config set --secret {PROJECT}:{key} <value>`",
                )
            )
            continue
        data[key] = raw if _is_text(annotation) else _decode(raw)
    try:
        settings = in_region(StackSettings.model_validate(data), region)
    except ValidationError as error:
        raise ConfigError([*problems, *_problems_from(error)]) from None
    if problems:
        raise ConfigError(problems)
    cross_field = list(settings_problems(settings))
    if others is not None:
        cross_field += region_problems(settings, others)
    if cross_field:
        raise ConfigError(cross_field)
    return settings


def _decode(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _is_text(annotation: Any) -> bool:
    """Top-level keys typed as text take the raw string (so `"123"` stays a string)."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in _UNIONS else (annotation,)
    members = tuple(m for m in members if m is not type(None))
    return bool(members) and all(m in (str, SecretStr) or typing.get_origin(m) is typing.Literal for m in members)


def _contains_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_contains_secret(arg) for arg in typing.get_args(annotation))


def _fields_by_alias(model: type[BaseModel]) -> dict[str, Any]:
    return {(field.alias or name): field for name, field in model.model_fields.items()}


def _unknown_key_message(key: str, fields: Mapping[str, Any]) -> str:
    allowed = sorted(fields)
    message = "unknown key"
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    return f"{message}; allowed keys: {', '.join(allowed)}"


def _problems_from(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for detail in error.errors(include_url=False, include_input=False, include_context=True):
        loc = tuple(detail["loc"])
        problems.append(ConfigProblem(loc, _message(detail)))
    return problems


def _message(detail: ErrorDetails) -> str:
    kind = detail["type"]
    loc = tuple(detail["loc"])
    if kind == "extra_forbidden":
        parent = model_at(StackSettings, loc[:-1])
        if parent is not None:
            return _unknown_key_message(str(loc[-1]), _fields_by_alias(parent))
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = detail["msg"]
    if kind == "value_error" and message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message


def model_at(model: Any, loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that a location points into, following lists, dicts, optionals and unions."""
    current = model
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part: str | int) -> Any:
    annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset) and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin in (dict, Mapping) or origin is typing.Mapping:
        return typing.get_args(annotation)[1]
    if origin in _UNIONS:
        for member in typing.get_args(annotation):
            if not (isinstance(member, type) and issubclass(member, BaseModel)):
                continue
            if _tag_of(member) == part:
                return member
            if part in _fields_by_alias(member):
                return _fields_by_alias(member)[part].annotation
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = _fields_by_alias(annotation).get(part)
        return None if field is None else field.annotation
    return None


def _strip_optional(annotation: Any) -> Any:
    typing_origin = typing.get_origin(annotation)
    if typing_origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    if typing_origin in _UNIONS:
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return _strip_optional(members[0])
    return annotation


def _tag_of(model: type[BaseModel]) -> str | None:
    """The literal value of a discriminator field, as pydantic puts it into error locations."""
    for field in model.model_fields.values():
        if typing.get_origin(field.annotation) is typing.Literal:
            args = typing.get_args(field.annotation)
            if len(args) == 1:
                return args[0]
    return None
