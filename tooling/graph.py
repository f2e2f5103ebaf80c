"""The plan as a Mermaid flowchart: components as subgraphs, resources as nodes, dependencies as arrows.

An arrow runs from a resource to one that waits for it (a dependency, or a dashed arrow from the provider that
manages it). Arrows implied by a longer path are left out so the picture stays readable. Node ids derive from
the URN only, so an unchanged resource keeps its id when others come and go.
"""

from __future__ import annotations

import hashlib
import re

from tooling.offline.recording import Plan, Registration


def node_id(urn: str, name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:40]
    return f"r_{slug}_{hashlib.sha256(urn.encode()).hexdigest()[:6]}"


def kind(type_token: str) -> str:
    if type_token.startswith("pulumi:providers:"):
        return f"provider {type_token.rsplit(':', 1)[-1]}"
    return type_token.rsplit(":", 1)[-1]


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _shape(resource: Registration) -> str:
    label = _label(f"{resource.name}<br/>{kind(resource.type)}")
    if resource.type.startswith("pulumi:providers:"):
        return "{{" + label + "}}"
    if resource.is_kubernetes_object:
        return f"({label})"
    return f"[{label}]"


def edges(plan: Plan) -> list[tuple[str, str, bool]]:
    """(from, to, via_provider) between custom resources, without those a longer path already implies."""
    custom = {r.urn: r for r in plan.resources if r.custom}
    direct: dict[str, set[str]] = {}
    via_provider: set[tuple[str, str]] = set()
    for resource in custom.values():
        targets = {d for d in resource.dependencies if d in custom and d != resource.urn}
        if resource.provider in custom and resource.provider not in targets:
            via_provider.add((resource.provider, resource.urn))
            targets.add(resource.provider)
        direct[resource.urn] = targets

    reach: dict[str, set[str]] = {}

    def reachable(urn: str) -> set[str]:
        if urn not in reach:
            reach[urn] = set()  # a cycle (never in a valid plan) must not recurse forever
            found: set[str] = set()
            for target in direct[urn]:
                found |= {target, *reachable(target)}
            reach[urn] = found
        return reach[urn]

    kept = []
    for urn, targets in direct.items():
        for target in targets:
            if not any(target in reachable(other) for other in targets - {target}):
                kept.append((target, urn, (target, urn) in via_provider))
    return sorted(kept, key=lambda e: (node_id(e[0], custom[e[0]].name), node_id(e[1], custom[e[1]].name)))


def render_mermaid(plan: Plan) -> str:
    children: dict[str, list[Registration]] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)
    lines = ["flowchart LR"]

    def walk(parent_urn: str, depth: int) -> None:
        indent = "  " * depth
        for resource in sorted(children.get(parent_urn, []), key=lambda r: (r.custom, r.type, r.name)):
            ident = node_id(resource.urn, resource.name)
            if resource.custom:
                lines.append(f"{indent}{ident}{_shape(resource)}")
                walk(resource.urn, depth)
            else:
                lines.append(f"{indent}subgraph {ident}[{_label(f'{resource.name} ({kind(resource.type)})')}]")
                walk(resource.urn, depth + 1)
                lines.append(f"{indent}end")

    walk(plan.stack_urn, 1)
    by_urn = {r.urn: r for r in plan.resources}
    for source, target, provider in edges(plan):
        arrow = "-.->" if provider else "-->"
        lines.append(f"  {node_id(source, by_urn[source].name)} {arrow} {node_id(target, by_urn[target].name)}")
    return "\n".join(lines) + "\n"


# GitHub's Mermaid renders these in pull-request comments: green added, amber changed, red replaced, dashed
# red removed; unchanged resources stay plain so the eye goes to the change.
CHANGE_STYLES = {
    "added": "fill:#e6ffed,stroke:#22863a,stroke-width:2px",
    "changed": "fill:#fff5b1,stroke:#b08800,stroke-width:2px",
    "replaced": "fill:#ffdce0,stroke:#cb2431,stroke-width:3px",
    "removed": "fill:#ffeef0,stroke:#cb2431,stroke-dasharray:5 5",
}


def render_change_graph(base: Plan, head: Plan, status: dict[str, str]) -> str:
    """The working tree's graph plus what the base had and the working tree removes, each node styled by
    `status` (URN -> a key of CHANGE_STYLES); URNs not in `status` are unchanged."""
    current = {r.urn for r in head.resources}
    gone = [r for r in base.resources if r.urn not in current]
    merged = Plan(head.project, head.stack, [*head.resources, *gone])
    lines = render_mermaid(merged).splitlines()
    lines += [f"  classDef {name} {style}" for name, style in CHANGE_STYLES.items()]
    by_urn = {r.urn: r for r in merged.resources}
    for name in CHANGE_STYLES:
        ids = sorted(node_id(urn, by_urn[urn].name) for urn, kind_ in status.items() if kind_ == name and urn in by_urn)
        if ids:
            lines.append(f"  class {','.join(ids)} {name}")
    return "\n".join(lines) + "\n"
