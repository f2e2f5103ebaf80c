"""Every ComponentResource under `components/` declares its outputs as typed class attributes, registers each of
them (under its name in lowerCamelCase) and carries a type token `ack-inference:<area>:<ClassName>`.

The outputs are what the layers (`stacks/layers/*.py`) read from a component. They are typed `pulumi.Output[...]`
or a plain type: a value known when the component is built (name, port, labels, command; `str`, `int`, `float`,
`bool`, and lists or string-keyed dicts of them) or the handle of a child resource the layers wait for (a
`pulumi.Resource` subclass, alone or in a list or string-keyed dict).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
import textwrap
import typing
from typing import Any

import pulumi
import pytest

import components
from tests.harness import plan_stack
from tests.test_conformance import planned
from tooling.offline.recording import Plan
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

AREAS = ("cloud", "inference", "observability")
# The gateway's protection and the model servers' network isolation live with the inference components but are
# typed as security components (changing a type token changes every child's URN, i.e. replaces them).
SECURITY_COMPONENTS = {"GatewaySecurity", "NetworkIsolation"}
# Registered outputs that are informational only, not attributes.
INFORMATIONAL_OUTPUTS: dict[str, set[str]] = {"Namespace": {"name"}}
PLAIN_TYPES = (str, int, float, bool)


def _component_classes() -> list[type[pulumi.ComponentResource]]:
    found = []
    for module_info in pkgutil.walk_packages(components.__path__, prefix="components."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, pulumi.ComponentResource):
                found.append(cls)
    return sorted(found, key=lambda cls: cls.__qualname__)


COMPONENTS = _component_classes()
BY_NAME = {cls.__name__: cls for cls in COMPONENTS}


def _declared(cls: type) -> dict[str, Any]:
    """The class's own annotations, evaluated in its module (the modules use postponed annotations)."""
    module_globals = vars(sys.modules[cls.__module__])
    annotations = inspect.get_annotations(cls)
    return {name: eval(hint, module_globals) if isinstance(hint, str) else hint for name, hint in annotations.items()}


def _is_output_type(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is pulumi.Output:
        return True
    if origin is list:
        return _is_output_type(typing.get_args(hint)[0])
    if origin is dict:
        key, value = typing.get_args(hint)
        return key is str and _is_output_type(value)
    return hint in PLAIN_TYPES or (isinstance(hint, type) and issubclass(hint, pulumi.Resource))


def _is_resource_type(hint: Any) -> bool:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (list, dict):
        return _is_resource_type(args[-1])
    return isinstance(hint, type) and issubclass(hint, pulumi.Resource)


def _handles(value: Any) -> list[Any]:
    """A recorded resource output as URNs: resource references are recorded as their URN."""
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else [value]


def _class_tree(cls: type) -> ast.ClassDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    (node,) = tree.body
    assert isinstance(node, ast.ClassDef)
    return node


def _public_self_assignments(cls: type) -> set[str]:
    assigned = set()
    for node in ast.walk(_class_tree(cls)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(element, ast.Attribute)
                    and isinstance(element.value, ast.Name)
                    and element.value.id == "self"
                    and not element.attr.startswith("_")
                ):
                    assigned.add(element.attr)
    return assigned


def _type_token(cls: type) -> str:
    """The first argument of the class's `super().__init__(...)` call."""
    for node in ast.walk(_class_tree(cls)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "super"
        ):
            (token, *_) = node.args
            assert isinstance(token, ast.Constant) and isinstance(token.value, str), ast.dump(token)
            return token.value
    raise AssertionError(f"{cls.__qualname__} never calls super().__init__")


def _output_key(attribute: str) -> str:
    first, *rest = attribute.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _area(cls: type) -> str:
    return cls.__module__.split(".")[1]


def test_every_component_is_found():
    # The import-based discovery against the source text, so a module it failed to import cannot hide a component.
    in_source = {
        match
        for path in (PROJECT_DIR / "components").rglob("*.py")
        for match in re.findall(r"^class (\w+)\(pulumi\.ComponentResource\)", path.read_text(), re.MULTILINE)
    }
    assert set(BY_NAME) == in_source
    assert {_area(cls) for cls in COMPONENTS} == set(AREAS)
    assert SECURITY_COMPONENTS | set(INFORMATIONAL_OUTPUTS) <= set(BY_NAME)


@pytest.mark.parametrize("cls", COMPONENTS, ids=lambda cls: cls.__name__)
def test_type_token_names_area_and_class(cls):
    area = "security" if cls.__name__ in SECURITY_COMPONENTS else _area(cls)
    assert _type_token(cls) == f"ack-inference:{area}:{cls.__name__}"


@pytest.mark.parametrize("cls", COMPONENTS, ids=lambda cls: cls.__name__)
def test_outputs_are_declared_as_typed_attributes(cls):
    declared = _declared(cls)
    untyped = {name: hint for name, hint in declared.items() if not _is_output_type(hint)}
    assert not untyped, f"{cls.__name__}: outputs must be pulumi.Output[...] or a plain type: {untyped}"
    # Every public attribute is a declared output, and every declared output is set.
    assert _public_self_assignments(cls) == set(declared), cls.__name__


def _plans() -> dict[str, Plan]:
    plans = {stack: plan_stack(stack) for stack in available_stacks(PROJECT_DIR)}
    # Turns on what no committed stack uses: own namespace, self-hosted pickers, the benchmark.
    plans["everything"] = planned("everything")[0]
    return plans


def test_registered_outputs_are_the_declared_attributes():
    by_token = {_type_token(cls): cls for cls in COMPONENTS}
    seen: set[str] = set()
    for variant, plan in _plans().items():
        urns = {resource.urn for resource in plan.resources}
        for resource in plan.resources:
            cls = by_token.get(resource.type)
            if cls is None:
                continue
            seen.add(cls.__name__)
            where = f"{variant}: {resource.urn}"
            assert resource.urn in plan.component_outputs, f"{where}: register_outputs was not called"
            outputs = plan.component_outputs[resource.urn]
            declared = {_output_key(name): hint for name, hint in _declared(cls).items()}
            assert set(declared) <= set(outputs), f"{where}: missing {sorted(set(declared) - set(outputs))}"
            extra = set(outputs) - set(declared) - INFORMATIONAL_OUTPUTS.get(cls.__name__, set())
            assert not extra, f"{where}: outputs that are no attribute: {sorted(extra)}"
            for key, hint in declared.items():
                if _is_resource_type(hint):
                    assert set(_handles(outputs[key])) <= urns, f"{where}: {key} is no resource of the plan"
    assert seen == set(BY_NAME), f"no planned stack registers {sorted(set(BY_NAME) - seen)}"


def test_component_outputs_stay_out_of_the_plan_file():
    plan = plan_stack("dev")
    assert plan.component_outputs
    assert "component_outputs" not in plan.to_json()
    assert plan.to_json()["outputs"] == plan.outputs
