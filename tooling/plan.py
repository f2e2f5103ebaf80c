"""Offline plan: runs the program for one stack under provider mocks and writes what it would apply.

    python -m tooling.plan --stack dev --out build/dev

Writes `kubernetes.yaml` (every Kubernetes object), `plan.json` (every resource, secrets redacted) and
`graph.mmd` (a Mermaid picture of components, resources and dependencies), and prints a summary with the
indicative monthly cost. Needs neither the Pulumi CLI nor cloud credentials.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pulumi
import yaml

from tooling.cost import estimate, prices_of, render
from tooling.graph import render_mermaid
from tooling.offline.recording import Plan, Registration
from tooling.offline.run import PROJECT_DIR, simulate
from tooling.offline.stack_files import StackFileError, load_stack_config

EXIT_CONFIG_ERROR = 2


def render_kubernetes_yaml(plan: Plan) -> str:
    """Every Kubernetes object, one YAML document each, as `yaml.safe_dump_all` writes them.

    A document whose strings are all printable ASCII is written by libyaml's emitter (C, several times faster):
    for those it writes the same bytes as PyYAML's pure-Python one. Only a string with another character (a
    line break, for one) can come out double-quoted, and libyaml folds long double-quoted strings elsewhere, so
    such a document keeps the Python emitter.
    """

    def printable_ascii(value: object) -> bool:
        if isinstance(value, str):
            return value.isascii() and value.isprintable()
        if isinstance(value, dict):
            # An empty key is written as a complex key (`? ''`) by PyYAML only.
            return all(key != "" and printable_ascii(key) and printable_ascii(item) for key, item in value.items())
        if isinstance(value, list):
            return all(printable_ascii(item) for item in value)
        return True

    documents = []
    for index, obj in enumerate(plan.kubernetes_objects()):
        dumper = yaml.CSafeDumper if printable_ascii(obj) else yaml.SafeDumper
        # `explicit_start`: the `---` that `dump_all` writes before every document but the first.
        options = {"sort_keys": False, "default_flow_style": False, "width": 120, "explicit_start": index > 0}
        documents.append(yaml.dump(obj, Dumper=dumper, **options))
    return "".join(documents)


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"


PLAN_FILES = ("kubernetes.yaml", "plan.json", "graph.mmd")


class OutputFolderError(Exception):
    """An `--out` path the plan cannot be written to."""


def check_output_folder(out: Path) -> None:
    """Refuses, before anything runs, an `--out` that is a file or a folder holding more than a plan."""
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and (foreign := sorted(p.name for p in out.iterdir() if p.name not in PLAN_FILES)):
        raise OutputFolderError(
            f"--out {out}: holds files that are not a plan ({', '.join(foreign[:3])}); name another folder"
        )


def write_plan(plan: Plan, out: Path) -> list[Path]:
    """Writes the plan files into a temporary folder beside `out`, then swaps it in: readers see the old
    plan or the new one, never a mix."""
    texts = {
        "kubernetes.yaml": render_kubernetes_yaml(plan),
        "plan.json": render_plan_json(plan),
        "graph.mmd": render_mermaid(plan),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, text in texts.items():
            (staging / name).write_text(text)
        remove_plan(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in texts]


def remove_plan(out: Path) -> None:
    """Removes an earlier plan, so that a failed run never leaves it looking current."""
    if out.is_dir():
        for name in PLAN_FILES:
            (out / name).unlink(missing_ok=True)
        out.rmdir()


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
    parser = argparse.ArgumentParser(prog="python -m tooling.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default build/<stack>)")
    args = parser.parse_args(argv)
    out: Path = args.out or Path("build") / args.stack
    try:
        check_output_folder(out)
        config = load_stack_config(PROJECT_DIR, args.stack)
        plan = simulate(config)
        if plan.duplicates:
            raise pulumi.RunError(f"duplicate resource URNs: {', '.join(plan.duplicates)}")
        collisions = plan.identity_collisions()
        if collisions:
            raise pulumi.RunError(f"Kubernetes objects that already exist: {'; '.join(collisions)}")
        written = write_plan(plan, out)
    except OutputFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except (StackFileError, pulumi.RunError) as error:
        remove_plan(out)
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except OSError as error:
        remove_plan(out)
        print(f"error: cannot write the plan to {out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    print(summary(plan))
    print("\n" + render(estimate(plan.resources, prices_of(config))))
    print("\nWrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    import gc

    import stacks.program  # noqa: F401 - the program's modules, loaded before the heap is frozen

    # What the imports built lives until exit: frozen, the collections during the run no longer walk it.
    gc.freeze()
    status = main()
    # Everything is written; nothing left needs collecting, so the collections at exit walk nothing.
    sys.stdout.flush()
    gc.freeze()
    sys.exit(status)
