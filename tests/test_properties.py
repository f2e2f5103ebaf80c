"""Property-based tests: any configuration either validates or fails with a ConfigError naming its keys.

Documents are generated from the settings models themselves (field names, annotations, constraints, the values
the defaults and stack files use), so a new field is covered without touching this file: random subsets of keys,
values of the right and of wrong types, numbers just outside their bounds, unknown keys, nested models.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from ipaddress import IPv4Network
from typing import Any, NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from stacks.config_loader import parse_settings
from stacks.errors import PROJECT, ConfigError
from stacks.settings import StackSettings
from tests.harness import stack_config
from tooling.offline.run import PROJECT_DIR, try_simulate
from tooling.offline.stack_files import available_stacks, encode_value, load_stack_config

PLANTED = "planted-secret-"
UNKNOWN_KEYS = st.sampled_from(["replica", "enabeld", "Name", "extra", "gpu_count", ""])
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.text(max_size=6),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(0, 3), max_size=2),
)
CIDRS = ["10.0.0.0/16", "10.0.16.0/20", "172.20.0.0/16", "172.21.0.0/20", "0.0.0.0/0", "10.0.0.1/16", "300.0.0.0/8"]
FIELDS = {(field.alias or name): field for name, field in StackSettings.model_fields.items()}
FIELD_NAMES = set(FIELDS)
_UNIONS = (typing.Union, types.UnionType)


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _examples() -> dict[tuple[type[BaseModel], str], list[Any]]:
    """Values each field takes in the defaults and in every stack file: valid strings for patterned fields."""
    found: dict[tuple[type[BaseModel], str], list[Any]] = {}

    def collect(model: type[BaseModel], document: Any) -> None:
        if not isinstance(document, dict):
            return
        for name, field in model.model_fields.items():
            alias = field.alias or name
            if alias not in document:
                continue
            value = document[alias]
            found.setdefault((model, alias), []).append(value)
            for member in _members(field.annotation):
                if _model(member):
                    for item in value if isinstance(value, list) else [value]:
                        collect(member, item)

    collect(StackSettings, StackSettings().model_dump(mode="json", by_alias=True))
    for stack in available_stacks(PROJECT_DIR):
        values, _ = load_stack_config(PROJECT_DIR, stack).project_values()
        collect(StackSettings, {key: _decoded(raw) for key, raw in values.items()})
    return found


def _decoded(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _members(annotation: Any) -> list[Any]:
    """The annotation and every type nested in it (optionals, unions, lists, dict values, Annotated)."""
    members = [annotation]
    for arg in typing.get_args(annotation):
        members += _members(arg)
    return members


EXAMPLES = _examples()


def _bounds(field: FieldInfo) -> list[Any]:
    """Each numeric or length bound and the value just past it."""
    values: list[Any] = []
    for constraint in field.metadata:
        for attribute, outside in (("ge", -1), ("gt", 0), ("le", 1), ("lt", 0)):
            bound = getattr(constraint, attribute, None)
            if isinstance(bound, int | float):
                values += [bound, bound + outside]
    return values


def value_of(annotation: Any) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return value_of(args[0])
    if origin in _UNIONS:
        return st.one_of(*(value_of(arg) for arg in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(value_of(args[0]), max_size=2)
    if origin is dict:
        return st.dictionaries(value_of(args[0]), value_of(args[1]), max_size=2)
    simple = {
        type(None): st.none(),
        bool: st.booleans(),
        int: st.integers(-3, 70) | st.integers(-(2**40), 2**40),
        float: st.floats(-10, 2000, allow_nan=False),
        str: st.text(max_size=16),
        SecretStr: st.text(max_size=24).map(lambda text: PLANTED + text),
        IPv4Network: st.sampled_from(CIDRS),
        typing.Any: JUNK,
    }
    if annotation in simple:
        return simple[annotation]
    if _model(annotation):
        return document(annotation)
    raise TypeError(f"no strategy for {annotation!r}; teach value_of about it")


def field_value(model: type[BaseModel], alias: str, field: FieldInfo) -> st.SearchStrategy[Any]:
    known = [*EXAMPLES.get((model, alias), []), *_bounds(field)]
    typed = value_of(field.annotation)
    return st.one_of(st.sampled_from(known), typed, JUNK) if known else st.one_of(typed, JUNK)


@functools.cache
def document(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    optional = {(f.alias or n): field_value(model, f.alias or n, f) for n, f in model.model_fields.items()}
    keys = st.fixed_dictionaries({}, optional=optional)
    unknown = st.dictionaries(UNKNOWN_KEYS, JUNK, max_size=1)
    return st.builds(lambda known, extra: {**extra, **known}, keys, st.just({}) | unknown)


SECRET_KEYS = {key for key, field in FIELDS.items() if SecretStr in _members(field.annotation)}


@st.composite
def raw_config(draw) -> tuple[dict[str, str], set[str]]:
    """The raw strings the CLI hands over: text as is, structured values as JSON; secret keys mostly encrypted."""
    config = draw(document(StackSettings))
    if draw(st.booleans()):
        config[draw(st.sampled_from(sorted(FIELD_NAMES)))] = draw(st.text(max_size=12))
    secret = {key for key in config if key in SECRET_KEYS and draw(st.integers(0, 4))}
    return {key: encode_value(value) for key, value in config.items()}, secret


def assert_clear(error: ConfigError, given_keys: set[str]) -> None:
    assert error.problems
    for problem in error.problems:
        text = str(problem)
        assert problem.loc and isinstance(problem.loc[0], str), text
        assert problem.loc[0] in FIELD_NAMES | given_keys, text
        assert text.startswith(f"{PROJECT}:{problem.loc[0]}"), text
        assert problem.message, text
        # Only secret fields are generated with the planted prefix; no message may echo one.
        assert PLANTED not in text, text


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw_config())
def test_any_config_validates_or_names_its_keys(config):
    values, secret = config
    try:
        result = parse_settings(values, secret)
    except ConfigError as error:
        assert_clear(error, set(values))
    else:
        assert isinstance(result, StackSettings)


class Leaf(NamedTuple):
    model: type[BaseModel]
    path: tuple[str | int, ...]
    field: FieldInfo


def _leaves(model: type[BaseModel], prefix: tuple[str | int, ...] = ()) -> list[Leaf]:
    """Every leaf field of the settings with its path (lists of models through their first item)."""
    leaves = []
    for name, field in model.model_fields.items():
        path = (*prefix, field.alias or name)
        members = _members(field.annotation)
        nested = next((m for m in members if _model(m)), None)
        if nested is None:
            leaves.append(Leaf(model, path, field))
        else:
            listed = any(typing.get_origin(m) is list for m in members)
            leaves += _leaves(nested, (*path, 0) if listed else path)
    return leaves


LEAVES = _leaves(StackSettings)


def _set(document: Any, path: tuple[str | int, ...], value: Any) -> Any:
    head, *rest = path
    if isinstance(head, int):
        items = list(document) if isinstance(document, list) and document else [{}]
        items[0] = _set(items[0], tuple(rest), value) if rest else value
        return items
    container = dict(document) if isinstance(document, dict) else {}
    container[head] = _set(container.get(head), tuple(rest), value) if rest else value
    return container


@st.composite
def stack_edits(draw) -> tuple[str, dict[str, Any]]:
    """One or two leaves of a real stack's config set to a generated value (valid or not)."""
    stack = draw(st.sampled_from(["dev", "prod"]))
    values, _ = stack_config(stack).project_values()
    overrides: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 2))):
        leaf = draw(st.sampled_from(LEAVES))
        value = draw(field_value(leaf.model, str(leaf.path[-1]), leaf.field))
        key, *rest = leaf.path
        base = overrides.get(key, _decoded(values[key]) if key in values else None)
        overrides[key] = _set(base, tuple(rest), value) if rest else value
    return stack, overrides


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(stack_edits())
def test_edited_stacks_plan_or_fail_before_registering_anything(edit):
    stack, overrides = edit
    config = stack_config(stack, overrides, secrets=SECRET_KEYS & set(overrides))
    plan, error = try_simulate(config)
    try:
        parse_settings(*config.project_values())
    except ConfigError as expected:
        assert isinstance(error, ConfigError), repr(error)
        assert error.problems == expected.problems
        assert plan.resources == []
    else:
        assert error is None, repr(error)
        assert plan.resources and not plan.duplicates
