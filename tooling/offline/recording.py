"""A mock monitor that records every registration as the engine would receive it, and the plan built from it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_project, get_stack

from components.constants import PRESET_NAMESPACES

SECRET = "[secret]"
UNKNOWN = "[unknown]"

# The order in which kubectl-like tools apply kinds; everything else follows, by group and kind.
_APPLY_ORDER = [
    "Namespace",
    "PriorityClass",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
]


def plain(value: Any) -> Any:
    """Turns a serialized property value into plain data: secrets redacted, integral numbers as ints."""
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return redacted(plain(value.get("value")))
        if signature == rpc._special_resource_sig:
            return value.get("urn")
        if signature == rpc._special_output_value_sig:
            if value.get("secret"):
                return redacted(plain(value["value"])) if "value" in value else SECRET
            return plain(value["value"]) if "value" in value else UNKNOWN
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        # Protobuf carries every number as a double; the providers send integers as integers.
        return int(value)
    return value


def redacted(value: Any) -> Any:
    """A secret's shape with every value replaced: a Secret's `stringData` keeps its keys, so the rendered
    object still has the type Kubernetes requires (a map of strings) and a reviewer sees which keys change."""
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return SECRET


def _urn_of_ref(reference: str) -> str:
    """A provider reference is `<urn>::<id>`; the URN identifies it across runs."""
    return reference.rsplit("::", 1)[0] if reference else ""


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: list[str]
    protect: bool
    ignore_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    custom_timeouts: dict[str, str]
    inputs: dict[str, Any]
    aliases: list[str] = field(default_factory=list)  # URNs this resource may have had before (`aliases` option)

    @property
    def is_kubernetes_object(self) -> bool:
        return self.type.startswith("kubernetes:") and not self.type.startswith("kubernetes:helm.sh/")

    def to_json(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "protect": self.protect,
            "ignoreChanges": self.ignore_changes,
            "deleteBeforeReplace": self.delete_before_replace,
        }
        if self.retain_on_delete:
            options["retainOnDelete"] = True
        if self.custom_timeouts:
            options["customTimeouts"] = self.custom_timeouts
        if self.aliases:
            options["aliases"] = self.aliases
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "provider": self.provider or None,
            "dependencies": self.dependencies,
            "options": options,
            "inputs": self.inputs,
        }


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.duplicates: list[str] = []
        # URN -> (id, state) as the provider returned them: what an engine would store and diff against.
        self.states: dict[str, tuple[str, dict[str, Any]]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine does: the type chain holds every ancestor's type except the root stack's.
        qualified = type_
        if parent and parent.split("::")[2] != "pulumi:pulumi:Stack":
            qualified = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{get_stack()}::{get_project()}::{qualified}::{name}"

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        dependencies = set(request.dependencies)
        for property_dependencies in request.propertyDependencies.values():
            dependencies.update(property_dependencies.urns)
        timeouts = {
            key: getattr(request.customTimeouts, key)
            for key in ("create", "update", "delete")
            if getattr(request.customTimeouts, key)
        }
        if response.urn in self.registrations:
            # The real engine rejects a second resource with the same URN; mocks silently overwrite it.
            self.duplicates.append(response.urn)
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            provider=_urn_of_ref(request.provider),
            dependencies=sorted(dependencies),
            protect=bool(request.protect),
            ignore_changes=sorted(request.ignoreChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
            retain_on_delete=bool(request.retainOnDelete),
            custom_timeouts=timeouts,
            inputs=plain(json_format.MessageToDict(request.object)),
            aliases=[self._alias_urn(request, alias) for alias in request.aliases],
        )
        if request.custom:
            self.states[response.urn] = (response.id, plain(json_format.MessageToDict(response.object)))
        return response

    def _alias_urn(self, request, alias) -> str:
        """An alias as the engine resolves it: a URN as given, or a spec whose unset fields are the resource's."""
        if alias.WhichOneof("alias") == "urn":
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

    def RegisterResourceOutputs(self, request):
        self.outputs[request.urn] = plain(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


@dataclass
class Plan:
    """What one run of the program registered: resources, stack outputs and Kubernetes objects.

    `component_outputs` (component URN -> what it passed to `register_outputs`, as plain data) is for checks
    only: it is not part of `to_json`, so plan.json carries the stack's outputs alone.
    """

    project: str
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # URN -> (id, state) of each custom resource, as the provider mocks returned them (not part of plan.json).
    states: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:pulumi:Stack::{self.project}-{self.stack}"

    def by_urn(self, urn: str) -> Registration:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Registration:
        matches = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(matches) != 1:
            found = [r.name for r in self.of_type(type_token)]
            raise AssertionError(f"expected one {type_token} named {name!r}, found {found}")
        return matches[0]

    def children(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]

    def ancestors(self, resource: Registration) -> list[Registration]:
        chain = []
        by_urn = {r.urn: r for r in self.resources}
        current = by_urn.get(resource.parent)
        while current is not None:
            chain.append(current)
            current = by_urn.get(current.parent)
        return chain

    def descendants(self, resource: Registration) -> list[Registration]:
        return [r for r in self.resources if resource in self.ancestors(r)]

    def depends_on(self, resource: Registration, other: Registration) -> bool:
        """Whether the engine makes `resource` wait for `other` (or, for a component, its subtree).

        Edges are the recorded dependencies (explicit `depends_on` and those implied by inputs, which the
        SDK already expands to a component's children) and the resource's provider, followed transitively.
        """
        targets = {other.urn, *(r.urn for r in self.descendants(other))}
        by_urn = {r.urn: r for r in self.resources}
        seen: set[str] = set()
        frontier = [resource.urn]
        while frontier:
            current = by_urn.get(frontier.pop())
            if current is None or current.urn in seen:
                continue
            seen.add(current.urn)
            edges = [*current.dependencies, *([current.provider] if current.provider else [])]
            if targets.intersection(edges):
                return True
            frontier.extend(edges)
        return False

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object as the provider would send it, in a stable apply order."""
        objects = []
        for resource in self.resources:
            if not resource.is_kubernetes_object:
                continue
            body = dict(resource.inputs)
            ordered = {key: _sorted(body.pop(key)) for key in ("apiVersion", "kind", "metadata") if key in body}
            ordered.update((key, _sorted(value)) for key, value in sorted(body.items()))
            objects.append(ordered)
        return sorted(objects, key=_apply_key)

    def identity_collisions(self) -> list[str]:
        """Kubernetes objects the API server would refuse as AlreadyExists: two resources claiming one identity
        (apiVersion, kind, namespace, name), or a Namespace every cluster already has."""
        found = []
        owners: dict[tuple[str, str, str, str], str] = {}
        for resource in self.resources:
            if not resource.is_kubernetes_object:
                continue
            metadata = resource.inputs.get("metadata") or {}
            name = metadata.get("name")
            if not isinstance(name, str):
                continue  # auto-named: the provider adds a random suffix
            kind = resource.inputs.get("kind", "")
            identity = (resource.inputs.get("apiVersion", ""), kind, metadata.get("namespace") or "", name)
            if identity in owners:
                found.append(f"{resource.urn} claims {'/'.join(p for p in identity if p)} like {owners[identity]}")
            owners.setdefault(identity, resource.urn)
            if kind == "Namespace" and name in PRESET_NAMESPACES:
                found.append(f"{resource.urn} creates namespace {name}, which every cluster already has")
        return found

    def type_counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in sorted(self.resources, key=lambda r: r.urn)],
            "outputs": self.outputs,
        }


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _apply_key(obj: dict[str, Any]) -> tuple:
    kind = obj.get("kind", "")
    rank = _APPLY_ORDER.index(kind) if kind in _APPLY_ORDER else len(_APPLY_ORDER)
    metadata = obj.get("metadata") or {}
    return (rank, obj.get("apiVersion", ""), kind, metadata.get("namespace") or "", metadata.get("name") or "")
