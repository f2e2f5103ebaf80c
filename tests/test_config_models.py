"""The typed stack configuration: every model rejects typos, wrong types and out-of-range values by key path."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from annotated_types import Ge, Le, MaxLen
from pydantic import BaseModel, SecretStr

from stacks.config_loader import model_at, parse_settings
from stacks.errors import ConfigError, key_path
from stacks.settings import StackSettings
from tests.harness import DECLARED_ADDONS, config_error, messages, stack_config
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

PLANTED = "PLANTED-VALUE-7f3a"
SECRET_KEYS = {
    (field.alias or name)
    for name, field in StackSettings.model_fields.items()
    if SecretStr in (field.annotation, *typing.get_args(field.annotation))
}


def example_documents() -> dict[str, dict[str, Any]]:
    """Each committed stack's settings as plain data (camelCase keys), secrets included as placeholders."""
    documents = {}
    for stack in available_stacks(PROJECT_DIR):
        settings = parse_settings(*stack_config(stack).project_values())
        documents[stack] = settings.model_dump(by_alias=True, mode="json")
    return documents


def model_nodes(data: Any, loc: tuple = ()) -> Iterator[tuple[tuple, type[BaseModel]]]:
    """Every place in a settings document that holds a configuration model."""
    model = model_at(StackSettings, loc) if loc else StackSettings
    if isinstance(data, dict) and model is not None:
        yield loc, model
    if isinstance(data, dict):
        for key, value in data.items():
            yield from model_nodes(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from model_nodes(value, (*loc, index))


def all_model_classes(model: type[BaseModel] = StackSettings, seen=None) -> set[type[BaseModel]]:
    seen = set() if seen is None else seen
    seen.add(model)
    for field in model.model_fields.values():
        for candidate in _classes_in(field.annotation):
            if candidate not in seen:
                all_model_classes(candidate, seen)
    return seen


def _classes_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _classes_in(argument)


def set_at(document: dict, loc: tuple, value: Any) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = value
    return changed


def validate_document(document: dict) -> StackSettings:
    values = {key: value if isinstance(value, str) else _json(value) for key, value in document.items()}
    return parse_settings(values, SECRET_KEYS & set(values))


def _json(value: Any) -> str:
    return json.dumps(value)


def problem_at(document: dict, loc: tuple) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_document(document)
    found = {problem.loc: problem.message for problem in caught.value.problems}
    assert loc in found, f"no problem at {key_path(loc)}; got {messages(caught.value)}"
    return found[loc]


DOCUMENTS = example_documents()
NODES = [(stack, loc, model) for stack, document in DOCUMENTS.items() for loc, model in model_nodes(document)]


def test_defaults_validate_and_are_development():
    settings = parse_settings({})
    assert settings.tier == "development"
    assert not settings.production
    assert len(settings.models) == 1


def test_every_configuration_model_appears_in_a_committed_stack():
    """So that the per-model checks below reach every model (add an example stack file otherwise)."""
    covered = {model for _, _, model in NODES}
    missing = sorted(cls.__name__ for cls in all_model_classes() - covered)
    assert not missing, f"models not reached by any committed stack file: {missing}"


@pytest.mark.parametrize(("stack", "loc", "model"), NODES, ids=[f"{s}:{key_path(loc)}" for s, loc, _ in NODES])
def test_a_typo_in_any_model_is_rejected_with_its_path_and_the_allowed_keys(stack, loc, model):
    document = DOCUMENTS[stack]
    typo_loc = (*loc, "replicsa")
    message = problem_at(set_at(document, typo_loc, 1), typo_loc)
    allowed = sorted(field.alias or name for name, field in model.model_fields.items())
    assert message.startswith("unknown key")
    assert f"allowed keys: {', '.join(allowed)}" in message


def present_fields() -> Iterator[tuple[str, tuple, Any, Any]]:
    """(stack, key location, field, value) of every key a committed stack's settings hold."""
    for stack, loc, model in NODES:
        node = DOCUMENTS[stack]
        for part in loc:
            node = node[part]
        for name, field in model.model_fields.items():
            key = field.alias or name
            if key in node:
                yield stack, (*loc, key), field, node[key]


def scalar_fields() -> list[tuple[str, tuple]]:
    return [(stack, loc) for stack, loc, _, value in present_fields() if isinstance(value, str | int | float | bool)]


SCALARS = scalar_fields()


@pytest.mark.parametrize(("stack", "loc"), SCALARS, ids=[f"{s}:{key_path(loc)}" for s, loc in SCALARS])
def test_a_wrong_type_in_any_scalar_key_is_rejected_without_echoing_the_value(stack, loc):
    message = problem_at(set_at(DOCUMENTS[stack], loc, {"unexpected": PLANTED}), loc)
    assert PLANTED not in message


def bounded_fields() -> list[tuple[str, tuple, Any]]:
    cases = []
    for stack, loc, field, value in present_fields():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        for meta in field.metadata:
            if isinstance(meta, Ge):
                cases.append((stack, loc, meta.ge - 1))
            if isinstance(meta, Le):
                cases.append((stack, loc, meta.le + 1))
    return cases


BOUNDED = bounded_fields()


@pytest.mark.parametrize(("stack", "loc", "value"), BOUNDED, ids=[f"{s}:{key_path(loc)}={v}" for s, loc, v in BOUNDED])
def test_an_out_of_range_value_is_rejected_with_the_allowed_range(stack, loc, value):
    message = problem_at(set_at(DOCUMENTS[stack], loc, value), loc)
    assert "greater than" in message or "less than" in message


def sized_lists() -> list[tuple[str, tuple, int]]:
    """(stack, key, limit) of every list key with a maximum length that a committed stack fills."""
    return [
        (stack, loc, meta.max_length)
        for stack, loc, field, value in present_fields()
        if isinstance(value, list) and value
        for meta in field.metadata
        if isinstance(meta, MaxLen)
    ]


SIZED = sized_lists()


@pytest.mark.parametrize(("stack", "loc", "limit"), SIZED, ids=[f"{s}:{key_path(loc)}" for s, loc, _ in SIZED])
def test_a_list_longer_than_its_limit_is_rejected(stack, loc, limit):
    node = DOCUMENTS[stack]
    for part in loc:
        node = node[part]
    message = problem_at(set_at(DOCUMENTS[stack], loc, [node[0]] * (limit + 1)), loc)
    assert f"at most {limit} item" in message


def test_unknown_top_level_key_suggests_the_closest_one():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"modles": "[]"})
    (problem,) = caught.value.problems
    assert str(problem).startswith("ack-inference:modles: unknown key (did you mean 'models'?); allowed keys: ")


def test_problems_are_reported_together_one_line_each():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"tier": "prd", "models": '[{"replicas": 0}]', "tagz": "{}"})
    assert messages(caught.value) == [
        "ack-inference:models[0].replicas: Input should be greater than or equal to 1",
        "ack-inference:tagz: unknown key (did you mean 'tags'?); allowed keys: " + ", ".join(sorted(DOCUMENTS["dev"])),
        "ack-inference:tier: Input should be 'development' or 'production'",
    ]
    assert str(caught.value).startswith("Invalid stack configuration (3 problems):\n  - ack-inference:")


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_a_secret_stored_in_plain_text_is_rejected_without_echoing_it(key):
    with pytest.raises(ConfigError) as caught:
        parse_settings({key: PLANTED})
    (problem,) = caught.value.problems
    assert problem.loc == (key,)
    assert "must be a secret" in problem.message
    assert f"pulumi config set --secret ack-inference:{key}" in problem.message
    assert PLANTED not in str(caught.value)


# Secrets that are valid only as a URL and only beside another setting (the planted value stays inside).
PLANTED_IN_CONTEXT = {
    "alertWebhookUrl": (f"https://alerts.example/{PLANTED}", {"observability": '{"selfManaged": {"enabled": true}}'})
}


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_secrets_stay_masked_in_the_settings(key):
    value, context = PLANTED_IN_CONTEXT.get(key, (PLANTED, {}))
    # A kubeconfig alone means `cluster.mode: kubeconfig`, which must declare the add-ons it finds installed.
    declared = {"addons": json.dumps(DECLARED_ADDONS)} if key == "kubeconfig" else {}
    settings = parse_settings({**context, **declared, key: value}, {key})
    assert getattr(settings, _field_name(key)).get_secret_value() == value
    assert PLANTED not in repr(settings)
    assert PLANTED not in str(settings.model_dump())


def _field_name(alias: str) -> str:
    return next(name for name, field in StackSettings.model_fields.items() if (field.alias or name) == alias)


def test_text_keys_keep_their_raw_string():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"tier": "123"})
    assert messages(caught.value) == ["ack-inference:tier: Input should be 'development' or 'production'"]


def test_a_config_error_ends_the_program_before_any_resource():
    error = config_error("dev", {"models": [{"name": "Bad_Name", "replicas": 0}]})
    assert messages(error)[0].startswith("ack-inference:models[0].name: String should match pattern")
    assert messages(error)[1] == "ack-inference:models[0].replicas: Input should be greater than or equal to 1"


def test_the_config_models_load_without_the_cloud_sdks():
    """The settings package (config reference, validation) stays light: no Kubernetes or Alibaba Cloud SDK."""
    sdks = ("pulumi_kubernetes", "pulumi_alicloud")
    check = f"import stacks.settings, sys; print(sorted(m for m in {sdks!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
