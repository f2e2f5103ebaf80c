"""Offline plan diff: what a change does to a stack, with neither the Pulumi CLI nor cloud credentials.

    python -m tooling.plan_diff --base origin/main --stack dev

Plans the base revision (extracted with `git archive` into a temporary folder) and the working tree at once, each
with `python -m tooling.plan` under the current interpreter, and prints Markdown: the resources added, changed and
removed, the changed inputs of cloud resources, a unified diff per changed Kubernetes object and the change in
indicative monthly cost. Secrets stay "[secret]", as in the plans.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tooling.cost import CostEstimate, LineItem, estimate, prices_of, span
from tooling.offline.recording import Plan, Registration
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import StackFileError, load_stack_config
from tooling.replacement import STATEFUL, UPDATE, Classification, classify, kubernetes_identity

WORKING_TREE = "working tree"
ABSENT = "(absent)"
MAX_CELL = 300


class DiffError(Exception):
    """A revision that cannot be read or planned; `details` is what the failed command printed."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


@dataclass
class Side:
    plan: Plan
    cost: CostEstimate | None  # None when the stack's price table cannot be read


@dataclass
class PlanDiff:
    added: list[Registration]
    removed: list[Registration]
    changed: list[tuple[Registration, Registration]]
    unchanged: int


def load_plan(path: Path) -> Plan:
    """A plan back from its `plan.json` (the format every revision of `tooling.plan` writes)."""
    data = json.loads(path.read_text())
    resources = []
    for entry in data["resources"]:
        options = entry["options"]
        resources.append(
            Registration(
                urn=entry["urn"],
                type=entry["type"],
                name=entry["name"],
                custom=entry["custom"],
                parent=entry["parent"],
                provider=entry["provider"] or "",
                dependencies=entry["dependencies"],
                protect=options["protect"],
                ignore_changes=options["ignoreChanges"],
                delete_before_replace=options["deleteBeforeReplace"],
                retain_on_delete=options.get("retainOnDelete", False),
                custom_timeouts=options.get("customTimeouts", {}),
                inputs=entry["inputs"],
            )
        )
    return Plan(data["project"], data["stack"], resources, data.get("outputs", {}))


def _git(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False)


def extract_revision(ref: str, destination: Path) -> str:
    """Writes the project as it is at `ref` into `destination`; returns the commit id."""
    resolved = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if resolved.returncode != 0:
        raise DiffError(f"`{ref}` is not a commit of the repository at {PROJECT_DIR}")
    commit = resolved.stdout.decode().strip()
    # The project may sit in a sub-folder of the repository; `git archive` takes its path from the top.
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    top = Path(_git("rev-parse", "--show-toplevel").stdout.decode().strip())
    archive = _git("archive", "--format=tar", f"{commit}:{prefix}", cwd=top)
    if archive.returncode != 0:
        raise DiffError(f"cannot extract `{ref}`: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return commit


@dataclass
class PlanRun:
    """`python -m tooling.plan` of one side, running in the background."""

    project_dir: Path
    stack: str
    out: Path
    label: str
    process: subprocess.Popen
    stderr: Path


def start_plan(project_dir: Path, stack: str, out: Path, label: str) -> PlanRun:
    # stderr goes to a file beside `out`, not to a pipe, so the side read second never blocks on a full pipe.
    stderr = out.with_name(f"{out.name}.stderr")
    with stderr.open("w") as stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "tooling.plan", "--stack", stack, "--out", str(out)],
            cwd=project_dir,
            stdout=subprocess.DEVNULL,
            stderr=stream,
        )
    return PlanRun(project_dir, stack, out, label, process, stderr)


def finish_plan(run: PlanRun) -> Side:
    returncode = run.process.wait()
    if returncode != 0:
        tail = "\n".join(run.stderr.read_text().strip().splitlines()[-20:])
        raise DiffError(f"the {run.label} could not be planned (exit code {returncode})", tail)
    plan = load_plan(run.out / "plan.json")
    try:
        prices = prices_of(load_stack_config(run.project_dir, run.stack))
    except (StackFileError, ValueError):  # a malformed table: pydantic's ValidationError is a ValueError
        return Side(plan, None)
    return Side(plan, estimate(plan.resources, prices))


def plan_both(temp_dir: Path, stack: str, base_label: str) -> tuple[Side, Side]:
    """The base (extracted into `temp_dir / "base"`) and the working tree, planned by two processes at once.

    The base is read first, so when both fail the base's error is the one reported, as when they ran one after
    the other; a base that fails stops the working tree's plan, whose result would not be shown.
    """
    runs = [
        start_plan(temp_dir / "base", stack, temp_dir / "base-plan", base_label),
        start_plan(PROJECT_DIR, stack, temp_dir / "head-plan", WORKING_TREE),
    ]
    try:
        return finish_plan(runs[0]), finish_plan(runs[1])
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.process.kill()
            run.process.wait()


def diff_plans(base: Plan, head: Plan) -> PlanDiff:
    before = {r.urn: r for r in base.resources}
    after = {r.urn: r for r in head.resources}
    changed = [
        (before[urn], after[urn])
        for urn in sorted(before.keys() & after.keys())
        if _fields(before[urn]) != _fields(after[urn])
    ]
    return PlanDiff(
        added=[after[urn] for urn in sorted(after.keys() - before.keys())],
        removed=[before[urn] for urn in sorted(before.keys() - after.keys())],
        changed=changed,
        unchanged=len(before.keys() & after.keys()) - len(changed),
    )


def _fields(resource: Registration) -> dict[str, Any]:
    """What an update would change: inputs, resource options and the provider (dependencies are not updates)."""
    data = resource.to_json()
    return {"inputs": data["inputs"], "options": data["options"], "provider": data["provider"]}


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf values by path (`inputs.scalingConfig.maxSize`, `inputs.instanceTypes[0]`)."""
    if isinstance(value, dict) and value:
        children = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, list) and value:
        children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        return {path: value}
    return {leaf: v for child_path, item in children for leaf, v in flatten(item, child_path).items()}


def changed_fields(before: Registration, after: Registration) -> list[tuple[str, Any, Any]]:
    old, new = flatten(_fields(before)), flatten(_fields(after))
    return [
        (path, old.get(path, ABSENT), new.get(path, ABSENT))
        for path in sorted(old.keys() | new.keys())
        if old.get(path, ABSENT) != new.get(path, ABSENT)
    ]


def object_yaml(resource: Registration, plan: Plan) -> list[str]:
    body = Plan(plan.project, plan.stack, [resource]).kubernetes_objects()[0]
    return yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=120).splitlines(keepends=True)


def _cell(value: Any) -> str:
    text = value if value == ABSENT else json.dumps(value, sort_keys=True)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def classify_change(before: Registration, after: Registration) -> Classification:
    return classify(before, after, [path for path, _, _ in changed_fields(before, after)])


def warnings(diff: PlanDiff) -> list[str]:
    """What a reviewer must not miss, first: destructive changes to protected or stateful resources, and
    Kubernetes objects that would be created under a new URN while the old URN still owns the same object."""
    lines = []
    for before, after in diff.changed:
        verdict = classify_change(before, after)
        if verdict.action != UPDATE and (after.protect or before.protect or after.type in STATEFUL):
            what = STATEFUL.get(after.type, "protected resource")
            guard = " It is `protect`ed: `pulumi up` refuses until it is unprotected." if before.protect else ""
            lines.append(
                f"- **{verdict.action.upper()}** of {what} `{after.name}` (`{after.type}`): "
                f"{', '.join(f'`{r}`' for r in verdict.reasons)} cannot change in place ({verdict.source}).{guard}"
            )
    for resource in diff.removed:
        if resource.protect or resource.type in STATEFUL:
            what = STATEFUL.get(resource.type, "protected resource")
            guard = " It is `protect`ed: `pulumi up` refuses to delete it." if resource.protect else ""
            lines.append(f"- **DELETE** of {what} `{resource.name}` (`{resource.type}`).{guard}")
    for old, new in same_identity(diff):
        namespace, name = old[1][2], old[1][3]
        lines.append(
            f"- **SAME OBJECT, NEW URN**: {old[1][1]} `{namespace + '/' if namespace else ''}{name}` is removed as "
            f"`{old[0].name}` and added as `{new[0].name}`. Without an alias the create collides with the live "
            "object, or the later delete removes it: add `aliases` to the new resource."
        )
    return lines


def same_identity(diff: PlanDiff) -> list[tuple[tuple[Registration, tuple], tuple[Registration, tuple]]]:
    removed = {kubernetes_identity(r): r for r in diff.removed if kubernetes_identity(r)}
    pairs = []
    for resource in diff.added:
        identity = kubernetes_identity(resource)
        if identity in removed:
            pairs.append(((removed[identity], identity), (resource, identity)))
    return pairs


def _resource_table(resources: list[Registration]) -> list[str]:
    rows = ["| Type | Name |", "| --- | --- |"]
    rows += [f"| `{r.type}` | `{r.name}` |" for r in sorted(resources, key=lambda r: (r.type, r.name))]
    return rows


def render_cost(base: CostEstimate | None, head: CostEstimate | None) -> list[str]:
    if base is None or head is None:
        side = "base" if base is None else WORKING_TREE
        return [f"**Indicative monthly cost**: not compared (the {side}'s `ack-inference:prices` cannot be read)."]
    if base.currency != head.currency:
        return [f"**Indicative monthly cost**: not compared (currency {base.currency} -> {head.currency})."]
    (base_low, base_high), (head_low, head_high) = base.total, head.total
    delta = span((head_low - base_low, head_high - base_high), signed=True)
    lines = [
        f"**Indicative monthly cost** ({head.currency}, node pools at minimum to maximum size): "
        f"{span(base.total)} -> {span(head.total)} ({delta})"
    ]
    before = {item.key: item for item in base.items}
    after = {item.key: item for item in head.items}
    rows = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and (old.monthly, old.missing) == (new.monthly, new.missing):
            continue
        label = (new or old).label
        rows.append(f"| {label} | {_amount(old)} | {_amount(new)} |")
    if rows:
        lines += ["", f"| Item | Base | {WORKING_TREE.capitalize()} |", "| --- | --- | --- |", *rows]
    unpriced = sorted({item.missing for item in head.unpriced if item.missing})
    if unpriced:
        lines += ["", "Not counted: " + "; ".join(unpriced) + "."]
    return lines


def _amount(item: LineItem | None) -> str:
    if item is None:
        return "-"
    return span(item.monthly) if item.monthly is not None else item.missing


def render_markdown(base_label: str, base: Side, head: Side) -> str:
    diff = diff_plans(base.plan, head.plan)
    plan = head.plan
    lines = [
        f"### Offline plan diff: `{plan.project}/{plan.stack}`",
        "",
        f"Base {base_label} -> {WORKING_TREE}: **{len(diff.added)} to add, {len(diff.changed)} to change, "
        f"{len(diff.removed)} to remove** ({diff.unchanged} unchanged). Planned under provider mocks: values only "
        "the cloud knows are absent, secrets are `[secret]`.",
        "",
        *render_cost(base.cost, head.cost),
    ]
    alerts = warnings(diff)
    if alerts:
        lines[4:4] = ["#### :warning: Destructive changes", "", *alerts, ""]
    if diff.added:
        lines += ["", f"#### Added ({len(diff.added)})", "", *_resource_table(diff.added)]
    if diff.removed:
        lines += ["", f"#### Removed ({len(diff.removed)})", "", *_resource_table(diff.removed)]
    if diff.changed:
        lines += ["", f"#### Changed ({len(diff.changed)})"]
    for before, after in diff.changed:
        verdict = classify_change(before, after)
        lines += ["", f"##### `{after.type}` `{after.name}`", ""]
        if verdict.action == UPDATE:
            lines += [f"Action: {UPDATE}.", ""]
        else:
            reasons = ", ".join(f"`{reason}`" for reason in verdict.reasons)
            lines += [f"Action: **{verdict.action}**, forced by {reasons} ({verdict.source}).", ""]
        fields = changed_fields(before, after)
        if after.is_kubernetes_object:
            # Inputs as a diff of the object; options and provider (not part of the object) as a table.
            fields = [f for f in fields if not f[0].startswith("inputs.")]
            if before.inputs != after.inputs:
                object_diff = difflib.unified_diff(
                    object_yaml(before, base.plan), object_yaml(after, head.plan), "base", WORKING_TREE
                )
                lines += ["```diff", *"".join(object_diff).rstrip("\n").splitlines(), "```", *([""] if fields else [])]
        if fields:
            lines += [f"| Field | Base | {WORKING_TREE.capitalize()} |", "| --- | --- | --- |"]
            lines += [f"| `{path}` | {_cell(old)} | {_cell(new)} |" for path, old, new in fields]
    if not (diff.added or diff.removed or diff.changed):
        lines += ["", "No resource changes."]
    return "\n".join(lines) + "\n"


def truncate(markdown: str, max_chars: int) -> str:
    """Cuts at a line boundary, closing an open code block, when the text is longer than `max_chars`."""
    if len(markdown) <= max_chars:
        return markdown
    note = "\n\n… truncated: run `python -m tooling.plan_diff` locally for the full diff.\n"
    head = markdown[: max(0, max_chars - len(note) - 4)].rsplit("\n", 1)[0]
    if sum(1 for line in head.splitlines() if line.startswith("```")) % 2:
        head += "\n```"
    return head + note


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tooling.plan_diff", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare with (branch, tag or commit)")
    parser.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml on both sides")
    parser.add_argument("--max-chars", type=int, help="cut the Markdown to this length (a PR comment's limit)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = argument_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plan-diff-") as temp:
        temp_dir = Path(temp)
        try:
            commit = extract_revision(args.base, temp_dir / "base")
            base, head = plan_both(temp_dir, args.stack, f"base `{args.base}`")
        except DiffError as error:
            details = f"\n\n```text\n{error.details}\n```" if error.details else ""
            print(f"### Offline plan diff: stack `{args.stack}`\n\nNot available: {error}.{details}")
            print(f"error: {error}", file=sys.stderr)
            return 1
    markdown = render_markdown(f"`{args.base}` ({commit[:12]})", base, head)
    print(truncate(markdown, args.max_chars) if args.max_chars else markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
