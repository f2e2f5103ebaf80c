"""The idempotence check: a second plan against the states the first one left must change nothing.

The engine asks the provider to diff each resource's new inputs against its stored state. Both providers
compare what they read back: the Terraform-bridged alicloud provider its state after Read (which normalises
some inputs, see `READ_BACK` in `tooling/offline/mocks.py`), pulumi-kubernetes the live object pruned to the
shape of the inputs (pulumi-kubernetes `provider/pkg/provider/diff.go`, `provider.go:1494`). So a field differs
when an input's value is not what the provider stored for it; fields the inputs do not set are not compared
(the mocks do not model Optional-not-Computed fields that the API fills, see docs/offline-plan.md).
"""

from __future__ import annotations

from typing import Any

from tooling.offline.mocks import PriorStates, go_string
from tooling.offline.recording import Plan


def prior_states(plan: Plan) -> PriorStates:
    """The states of a plan, keyed as the mocks look them up (type and logical name)."""
    by_urn = {r.urn: r for r in plan.resources}
    return {(by_urn[urn].type, by_urn[urn].name): state for urn, state in plan.states.items()}


def changes(plan: Plan, prior: PriorStates) -> list[str]:
    """`<urn>: <input path>` for every input that differs from the stored state, and every new resource."""
    found = []
    for resource in plan.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        stored = prior.get((resource.type, resource.name))
        if stored is None:
            found.append(f"{resource.urn}: created")
            continue
        found.extend(f"{resource.urn}: {path}" for path in _differences(resource.inputs, stored[1], ""))
    return found


def _differences(wanted: Any, stored: Any, path: str) -> list[str]:
    if isinstance(wanted, dict):
        if not isinstance(stored, dict):
            return [path or "."]
        return [d for key, value in wanted.items() for d in _differences(value, stored.get(key), f"{path}.{key}")]
    if isinstance(wanted, list):
        if not isinstance(stored, list) or len(stored) != len(wanted):
            return [path]
        return [d for index, item in enumerate(wanted) for d in _differences(item, stored[index], f"{path}[{index}]")]
    # A number or boolean set on a string attribute is stored as its string (Terraform's type conversion).
    if isinstance(stored, str) and not isinstance(wanted, str):
        wanted = go_string(wanted)
    return [] if wanted == stored else [path]
