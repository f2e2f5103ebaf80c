"""Offline plan: runs the program for one stack under provider mocks and writes what it would apply.

    python -m stacks.plan --stack dev --out build/dev

Writes `kubernetes.yaml` (every Kubernetes object), `plan.json` (every resource, secrets redacted) and
`graph.mmd` (a Mermaid picture of components, resources and dependencies), and prints a summary with the
indicative monthly cost. Needs neither the Pulumi CLI nor cloud credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pulumi
import yaml

from stacks.cost import estimate, prices_of, render
from stacks.graph import render_mermaid
from stacks.offline.recording import Plan, Registration
from stacks.offline.run import PROJECT_DIR, simulate
from stacks.offline.stack_files import StackFileError, load_stack_config

EXIT_CONFIG_ERROR = 2


def render_kubernetes_yaml(plan: Plan) -> str:
    return yaml.safe_dump_all(plan.kubernetes_objects(), sort_keys=False, default_flow_style=False, width=120)


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"


def write_plan(plan: Plan, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / "kubernetes.yaml": render_kubernetes_yaml(plan),
        out / "plan.json": render_plan_json(plan),
        out / "graph.mmd": render_mermaid(plan),
    }
    for path, text in files.items():
        path.write_text(text)
    return list(files)


def summary(plan: Plan) -> str:
    lines = [f"Stack {plan.project}/{plan.stack}: {len(plan.resources)} resources", "", "Component tree:"]
    children: dict[str, list[Registration]] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)

    def walk(parent_urn: str, depth: int) -> None:
        for resource in sorted(children.get(parent_urn, []), key=lambda r: (r.custom, r.type, r.name)):
            if resource.custom:
                continue
            counts = sum(1 for child in children.get(resource.urn, []) if child.custom)
            lines.append(f"{'  ' * depth}- {resource.name} ({resource.type}, {counts} resources)")
            walk(resource.urn, depth + 1)

    walk(plan.stack_urn, 1)
    lines += ["", "Resources by type:"]
    for type_token, count in sorted(plan.type_counts().items()):
        lines.append(f"  {count:3d}  {type_token}")
    kubernetes = len(plan.kubernetes_objects())
    lines += ["", f"{kubernetes} Kubernetes objects; outputs: {', '.join(sorted(plan.outputs)) or 'none'}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default build/<stack>)")
    args = parser.parse_args(argv)
    out: Path = args.out or Path("build") / args.stack
    try:
        config = load_stack_config(PROJECT_DIR, args.stack)
        plan = simulate(config)
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if plan.duplicates:
        print(f"error: duplicate resource URNs: {', '.join(plan.duplicates)}", file=sys.stderr)
        return 1
    written = write_plan(plan, out)
    print(summary(plan))
    print("\n" + render(estimate(plan.resources, prices_of(config))))
    print("\nWrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
