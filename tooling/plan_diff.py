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

from stacks.settings.cost import PriceTable
from tooling.cost import LineItem, estimate, prices_of, span
from tooling.graph import render_change_graph
from tooling.offline.recording import Plan, Registration
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import StackFileError, load_stack_config
from tooling.replacement import (
    IGNORED_AFTER_CREATE,
    STATEFUL,
    UPDATE,
    Classification,
    classify,
    ignored_after_create_paths,
    kubernetes_identity,
)

WORKING_TREE = "working tree"
ABSENT = "(absent)"
MAX_CELL = 300
GRAPH_LEGEND = "Green: added; amber: updated in place; red: replaced; dashed red: removed; plain: unchanged."
NEW_STACK = "The {base} has no `Pulumi.{stack}.yaml`: this change creates the stack, every resource is added."


class DiffError(Exception):
    """A revision that cannot be read or planned; `details` is what the failed command printed."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


@dataclass
class Side:
    plan: Plan
    prices: PriceTable | None  # None when the stack's price table cannot be read (or the side has no stack file)


@dataclass
class PlanDiff:
    added: list[Registration]
    removed: list[Registration]
    changed: list[tuple[Registration, Registration]]
    unchanged: int
    moved: list[tuple[Registration, Registration]]  # (base, working tree): the same resource under a new URN


def alias_urns(resource: Registration, by_urn: dict[str, Registration]) -> list[str]:
    """The URNs the engine matches `resource` with: its own aliases, and those it inherits from an aliased parent
    (the parent's old URN as parent, and the parent's old name in place of the new one where the child's name
    starts with it), as the engine derives a child's aliases."""
    urns = list(resource.aliases)
    parent = by_urn.get(resource.parent)
    if parent is None:
        return urns
    for old_parent in alias_urns(parent, by_urn):
        name = resource.name
        if name.startswith(parent.name):
            name = old_parent.rsplit("::", 1)[1] + name[len(parent.name) :]
        chain = old_parent.split("::")[2]
        qualified = resource.type if chain == "pulumi:pulumi:Stack" else f"{chain}${resource.type}"
        urns.append(f"{old_parent.rsplit('::', 2)[0]}::{qualified}::{name}")
    return urns


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
                aliases=options.get("aliases", []),
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
        return Side(plan, prices_of(load_stack_config(run.project_dir, run.stack)))
    except (StackFileError, ValueError):  # a malformed table: pydantic's ValidationError is a ValueError
        return Side(plan, None)


def plan_both(temp_dir: Path, stack: str, base_label: str) -> tuple[Side, Side, str]:
    """The base (extracted into `temp_dir / "base"`) and the working tree, planned by two processes at once.

    Returns both sides and a warning about the base. A base without the stack file is an empty plan (the pull
    request creates the stack); a base that cannot be planned is an empty plan with a warning, so a pull request
    that fixes a broken base still gets the working tree's plan. The working tree failing is an error.
    """
    base_dir = temp_dir / "base"
    if not (base_dir / f"Pulumi.{stack}.yaml").is_file():
        head = finish_plan(start_plan(PROJECT_DIR, stack, temp_dir / "head-plan", WORKING_TREE))
        return Side(Plan(head.plan.project, stack, []), None), head, NEW_STACK.format(base=base_label, stack=stack)
    runs = [
        start_plan(base_dir, stack, temp_dir / "base-plan", base_label),
        start_plan(PROJECT_DIR, stack, temp_dir / "head-plan", WORKING_TREE),
    ]
    try:
        head = finish_plan(runs[1])
        try:
            return finish_plan(runs[0]), head, ""
        except DiffError as error:
            details = f"\n\n```text\n{error.details}\n```" if error.details else ""
            return (
                Side(Plan(head.plan.project, stack, []), None),
                head,
                f"**Warning**: {error}; every resource of the {WORKING_TREE} is listed as added.{details}",
            )
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.process.kill()
            run.process.wait()


def diff_plans(base: Plan, head: Plan) -> PlanDiff:
    before = {r.urn: r for r in base.resources}
    after = {r.urn: r for r in head.resources}
    moved = []
    for urn in sorted(after.keys() - before.keys()):
        old = next((u for u in alias_urns(after[urn], after) if u in before and u not in after), None)
        if old is not None:
            moved.append((before.pop(old), after[urn]))
    pairs = [(before[urn], after[urn]) for urn in sorted(before.keys() & after.keys())] + moved
    changed = [(old, new) for old, new in pairs if _fields(old) != _fields(new)]
    moved_urns = {new.urn for _, new in moved}
    return PlanDiff(
        added=[after[urn] for urn in sorted(after.keys() - before.keys() - moved_urns)],
        removed=[before[urn] for urn in sorted(before.keys() - after.keys())],
        changed=changed,
        unchanged=len(pairs) - len(changed),
        moved=moved,
    )


def _fields(resource: Registration) -> dict[str, Any]:
    """What an update would change: inputs, resource options and the provider (dependencies are not updates)."""
    data = resource.to_json()
    # Aliases say where a resource comes from; they are no change to it.
    options = {key: value for key, value in data["options"].items() if key != "aliases"}
    return {"inputs": data["inputs"], "options": options, "provider": data["provider"]}


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


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (dashboards, chat templates, scripts) as YAML literal blocks, so they diff line by line."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def object_yaml(resource: Registration, plan: Plan) -> list[str]:
    body = Plan(plan.project, plan.stack, [resource]).kubernetes_objects()[0]
    # A JSON document on one line (a dashboard) is pretty-printed first, so a one-field change is one line.
    text = yaml.dump(_expand_json(body), Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=120)
    return text.splitlines(keepends=True)


def _expand_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _expand_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand_json(item) for item in value]
    if isinstance(value, str) and value[:1] in "{[" and "\n" not in value:
        try:
            return json.dumps(json.loads(value), indent=2, sort_keys=True) + "\n"
        except ValueError:
            return value
    return value


def _mapping(value: Any) -> dict[str, Any]:
    """A nested input that may be unknown at plan time (`[unknown]`) or a secret (`[secret]`): {} unless a map."""
    return value if isinstance(value, dict) else {}


def key_inputs(resource: Registration) -> str:
    """What a reviewer checks first on a new resource: images, GPUs, args, replicas, instance types, charts."""
    inputs = resource.inputs
    facts: list[str] = []
    if resource.type == "alicloud:cs/nodePool:NodePool":
        scaling = _mapping(inputs.get("scalingConfig"))
        if scaling.get("enable"):
            size = f"{scaling.get('minSize')}-{scaling.get('maxSize')}"
        else:
            size = inputs.get("desiredSize", inputs.get("nodeCount", "unknown"))
        types = inputs.get("instanceTypes")
        facts += [f"nodes {size}", "instance types " + (", ".join(types) if isinstance(types, list) else str(types))]
    elif resource.type == "alicloud:cs/managedKubernetes:ManagedKubernetes":
        facts += [
            f"{key} {inputs[key]}" for key in ("clusterSpec", "version", "serviceCidr", "podCidr") if key in inputs
        ]
    elif resource.type == "alicloud:vpc/switch:Switch":
        facts += [f"{key} {inputs[key]}" for key in ("zoneId", "cidrBlock") if key in inputs]
    elif resource.type == "kubernetes:helm.sh/v3:Release":
        facts += [f"chart {inputs.get('chart')} {inputs.get('version', '')}".rstrip()]
    spec = _mapping(inputs.get("spec")) if resource.is_kubernetes_object else {}
    if "replicas" in spec:
        facts.append(f"replicas {spec['replicas']}")
    job = _mapping(spec.get("jobTemplate"))
    template = _mapping(_mapping(job.get("spec", spec)).get("template"))
    containers = _mapping(template.get("spec")).get("containers")
    for container in containers if isinstance(containers, list) else []:
        container = _mapping(container)
        limits = _mapping(_mapping(container.get("resources")).get("limits"))
        gpus = {k: v for k, v in limits.items() if "gpu" in k}
        fact = f"{container.get('name')}: image {container.get('image')}"
        if gpus:
            fact += ", " + ", ".join(f"{k} {v}" for k, v in gpus.items())
        args = container.get("args")
        if args:
            fact += ", args " + (" ".join(str(arg) for arg in args) if isinstance(args, list) else str(args))
        facts.append(fact)
    text = "; ".join(facts)
    return text if len(text) <= MAX_CELL * 2 else text[: MAX_CELL * 2 - 1] + "…"


def _cell(value: Any) -> str:
    text = value if value == ABSENT else json.dumps(value, sort_keys=True)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def classify_change(before: Registration, after: Registration) -> Classification:
    return classify(before, after, [path for path, _, _ in changed_fields(before, after)])


def ignored_after_create(before: Registration, after: Registration) -> list[str]:
    return ignored_after_create_paths(after.type, [path for path, _, _ in changed_fields(before, after)])


def warnings(diff: PlanDiff, base: Plan, head: Plan) -> list[str]:
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
        if verdict.action != UPDATE and after.type == "pulumi:providers:kubernetes":
            managed = sum(1 for r in head.resources if r.provider == after.urn)
            lines.append(
                f"- **REPLACE** of the Kubernetes provider `{after.name}` ({verdict.source}): every object it manages "
                f"({managed}) is replaced with it."
            )
    for resource in diff.removed:
        if resource.protect or resource.type in STATEFUL:
            what = STATEFUL.get(resource.type, "protected resource")
            guard = " It is `protect`ed: `pulumi up` refuses to delete it." if resource.protect else ""
            # A protected resource that used it (a cluster on a vSwitch) must let go of it first, in place or not.
            users = sorted(r.name for r in base.resources if r.protect and resource.urn in r.dependencies)
            if users:
                guard += f" Used by protected {', '.join(f'`{name}`' for name in users)}, which must release it first."
            lines.append(f"- **DELETE** of {what} `{resource.name}` (`{resource.type}`).{guard}")
    for old, new in pool_switches(diff):
        lines.append(
            f"- **ROUTING GAP**: InferencePool `{new[2]}/{new[3]}` moves from `{old[0]}` to `{new[0]}`: a new "
            "object, so requests routed through it (the inference-aware listener) fail from the old pool's "
            "deletion until the new pool's endpoint picker is ready. Zero-downtime procedure: docs/runbook.md, "
            "section 5."
        )
    for old, new in same_identity(diff):
        namespace, name = old[1][2], old[1][3]
        lines.append(
            f"- **SAME OBJECT, NEW URN**: {old[1][1]} `{namespace + '/' if namespace else ''}{name}` is removed as "
            f"`{old[0].name}` and added as `{new[0].name}`. Without an alias the create collides with the live "
            "object, or the later delete removes it: add `aliases` to the new resource."
        )
    return lines


def pool_switches(diff: PlanDiff) -> list[tuple[tuple, tuple]]:
    """An InferencePool removed in one API group and added in another under the same namespace and name."""
    removed = {
        identity[2:]: identity
        for identity in map(kubernetes_identity, diff.removed)
        if identity and identity[1] == "InferencePool"
    }
    pairs = []
    for identity in map(kubernetes_identity, diff.added):
        old = removed.get(identity[2:]) if identity and identity[1] == "InferencePool" else None
        if old is not None and old[0] != identity[0]:
            pairs.append((old, identity))
    return pairs


def same_identity(diff: PlanDiff) -> list[tuple[tuple[Registration, tuple], tuple[Registration, tuple]]]:
    removed = {kubernetes_identity(r): r for r in diff.removed if kubernetes_identity(r)}
    pairs = []
    for resource in diff.added:
        identity = kubernetes_identity(resource)
        if identity in removed:
            pairs.append(((removed[identity], identity), (resource, identity)))
    return pairs


def _resource_table(resources: list[Registration], with_inputs: bool = False) -> list[str]:
    if not with_inputs:
        rows = ["| Type | Name |", "| --- | --- |"]
        return rows + [f"| `{r.type}` | `{r.name}` |" for r in sorted(resources, key=lambda r: (r.type, r.name))]
    rows = ["| Type | Name | Key inputs |", "| --- | --- | --- |"]
    for r in sorted(resources, key=lambda r: (r.type, r.name)):
        facts = key_inputs(r)
        rows.append(f"| `{r.type}` | `{r.name}` | {_escape(facts.replace('`', chr(39))) if facts else ''} |")
    return rows


def render_cost(base: Side, head: Side) -> list[str]:
    """Both sides priced with the working tree's table, so only a change of infrastructure moves the total."""
    if head.prices is None:
        return [
            f"**Indicative monthly cost**: not compared (the {WORKING_TREE}'s `ack-inference:prices` cannot be read)."
        ]
    old, new = estimate(base.plan.resources, head.prices), estimate(head.plan.resources, head.prices)
    (base_low, base_high), (head_low, head_high) = old.total, new.total
    delta = span((head_low - base_low, head_high - base_high), signed=True)
    before = {item.key: item for item in old.items}
    after = {item.key: item for item in new.items}
    rows, unpriced = [], 0
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was == now:
            continue
        if (was is not None and was.monthly is None) or (now is not None and now.monthly is None):
            unpriced += 1
        labels = [item.label for item in (was, now) if item is not None]
        label = labels[0] if len(set(labels)) == 1 else f"{labels[0]} -> {labels[1]}"
        rows.append(f"| {_escape(label)} | {_escape(_amount(was))} | {_escape(_amount(now))} |")
    headline = (
        f"**Indicative monthly cost** ({new.currency}, node pools at minimum to maximum size, both sides at the "
        f"{WORKING_TREE}'s prices): {span(old.total)} -> {span(new.total)} ({delta})"
    )
    if unpriced:
        headline += f", **{unpriced} changed item{'s' if unpriced > 1 else ''} not priced**"
    lines = [headline]
    if base.prices is not None and base.prices != head.prices:
        lines += ["", "The price table itself changed: the base is shown at the new prices."]
    if rows:
        lines += ["", f"| Item | Base | {WORKING_TREE.capitalize()} |", "| --- | --- | --- |", *rows]
    missing = sorted({item.missing for item in new.unpriced if item.missing})
    if missing:
        lines += ["", "Not counted: " + "; ".join(missing) + "."]
    return lines


def _escape(text: str) -> str:
    """A Markdown table cell: a `|` would end the cell."""
    return text.replace("|", "\\|")


def _amount(item: LineItem | None) -> str:
    if item is None:
        return "-"
    return span(item.monthly) if item.monthly is not None else "not priced"


def render_markdown(base_label: str, base: Side, head: Side, note: str = "") -> str:
    diff = diff_plans(base.plan, head.plan)
    plan = head.plan
    replacing = sum(1 for before, after in diff.changed if classify_change(before, after).action != UPDATE)
    replaced = f"; **{replacing} of the changes replace{'s' if replacing == 1 else ''}**" if replacing else ""
    lines = [
        f"### Offline plan diff: `{plan.project}/{plan.stack}`",
        "",
        f"Base {base_label} -> {WORKING_TREE}: **{len(diff.added)} to add, {len(diff.changed)} to change, "
        f"{len(diff.removed)} to remove** ({diff.unchanged} unchanged{replaced}). Planned under provider mocks: "
        "values only the cloud knows are absent, secrets are `[secret]`.",
        "",
        *render_cost(base, head),
    ]
    alerts = warnings(diff, base.plan, head.plan)
    if alerts:
        lines[4:4] = ["#### :warning: Destructive changes", "", *alerts, ""]
    if note:
        lines[4:4] = [note, ""]
    if diff.added:
        lines += ["", f"#### Added ({len(diff.added)})", "", *_resource_table(diff.added, with_inputs=True)]
    if diff.removed:
        lines += ["", f"#### Removed ({len(diff.removed)})", "", *_resource_table(diff.removed)]
    if diff.moved:
        lines += ["", f"#### Moved by an alias ({len(diff.moved)}): same resource, new URN, nothing recreated", ""]
        lines += ["| Type | Base name | Working tree name |", "| --- | --- | --- |"]
        lines += [f"| `{new.type}` | `{old.name}` | `{new.name}` |" for old, new in diff.moved]
    if diff.added or diff.removed or diff.changed:
        status = {r.urn: "added" for r in diff.added} | {r.urn: "removed" for r in diff.removed}
        for before, after in diff.changed:
            status[after.urn] = "changed" if classify_change(before, after).action == UPDATE else "replaced"
        graph = render_change_graph(base.plan, head.plan, status)
        lines += ["", "#### Graph of what changed", "", GRAPH_LEGEND, "", "```mermaid", *graph.splitlines(), "```"]
    if diff.changed:
        lines += ["", f"#### Changed ({len(diff.changed)})"]
    for before, after in diff.changed:
        verdict = classify_change(before, after)
        lines += ["", f"##### `{after.type}` `{after.name}`", ""]
        if verdict.action == UPDATE:
            lines += [f"Action: {UPDATE}.", ""]
            inert = ignored_after_create(before, after)
            if inert:
                inputs = ", ".join(f"`{path}`" for path in inert)
                lines += [
                    f"**No effect on an existing resource**: the provider ignores {inputs} after create "
                    f"({IGNORED_AFTER_CREATE[after.type].source}).",
                    "",
                ]
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
            base_label = f"`{args.base}` ({commit[:12]})"
            base, head, note = plan_both(temp_dir, args.stack, f"base `{args.base}`")
        except DiffError as error:
            details = f"\n\n```text\n{error.details}\n```" if error.details else ""
            print(f"### Offline plan diff: stack `{args.stack}`\n\nNot available: {error}.{details}")
            print(f"error: {error}", file=sys.stderr)
            return 1
    if note:
        print(f"warning: {note.splitlines()[0]}", file=sys.stderr)
    markdown = render_markdown(base_label, base, head, note)
    print(truncate(markdown, args.max_chars) if args.max_chars else markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
