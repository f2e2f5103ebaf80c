"""`python -m tooling.plan_diff` between revisions of a git repository holding a copy of this project.

The copies run a small test program (the file `__main__.py` of each revision) through the project's own plan
command, so each revision is planned exactly as a user's checkout would be.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from stacks.settings.compute import GpuPoolSettings
from tests.harness import stack_config
from tests.test_offline_recording import program as recording_program
from tooling.offline.checkout import copy_program
from tooling.offline.run import simulate
from tooling.plan import write_plan
from tooling.plan_diff import Side, load_plan, render_markdown, truncate

GPU = "ecs.gn7i-c8g1.2xlarge"
GPU_PRICE, EIP_PRICE, HOURS = 2.0, 0.01, 730
ACK_PRO_LIST_PRICE = 0.09
STACK_FILE = f"""config:
  pulumi:disable-default-providers: [kubernetes]
  ack-inference:prices:
    instanceTypes:
      {GPU}: {GPU_PRICE}
    eip: {EIP_PRICE}
"""

PROGRAM = '''"""Test program, revision {revision}."""
import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

cluster = alicloud.cs.ManagedKubernetes("ack", cluster_spec="ack.pro.small", vswitch_ids=["vsw-a"])
alicloud.cs.NodePool(
    "gpu",
    cluster_id=cluster.id,
    instance_types=["{gpu}"],
    scaling_config=alicloud.cs.NodePoolScalingConfigArgs(enable=True, min_size=1, max_size={max_size}),
)
if {with_eip}:
    alicloud.ecs.EipAddress("eip", bandwidth="100")
provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig-text"))
on_cluster = pulumi.ResourceOptions(provider=provider)
namespace = k8s.core.v1.Namespace("ns", metadata={{"name": "llm"}}, opts=on_cluster)
k8s.core.v1.Secret(
    "token",
    metadata={{"name": "token", "namespace": "llm"}},
    string_data={{"token": pulumi.Output.secret("{token}")}},
    opts=on_cluster,
)
k8s.apps.v1.Deployment(
    "vllm",
    metadata={{"name": "vllm", "namespace": "llm"}},
    spec={{
        "replicas": {replicas},
        "selector": {{"matchLabels": {{"app": "vllm"}}}},
        "template": {{
            "metadata": {{"labels": {{"app": "vllm"}}}},
            "spec": {{"containers": [{{"name": "vllm", "image": "vllm/vllm-openai:v0.8.5.post1"}}]}},
        }},
    }},
    opts=on_cluster,
)
if {with_extra}:
    k8s.core.v1.ConfigMap("extra", metadata={{"name": "extra", "namespace": "llm"}}, data={{"a": "b"}}, opts=on_cluster)
'''
BASE = {"max_size": 2, "with_eip": True, "token": "first-s3cret", "replicas": 1, "with_extra": False}
HEAD = {"max_size": 4, "with_eip": False, "token": "second-s3cret", "replicas": 2, "with_extra": True}


def program(revision: str, **shape) -> str:
    return PROGRAM.format(revision=revision, gpu=GPU, **shape)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def make_repository(root: Path, project: Path) -> Path:
    """Three revisions: a program that fails, the base, and the change; the project may sit in a sub-folder."""
    copy_program(project)
    (project / "Pulumi.dev.yaml").write_text(STACK_FILE)
    git(root, "init", "-q")
    (project / "__main__.py").write_text('import pulumi\n\nraise pulumi.RunError("broken on purpose")\n')
    commit(root, "a revision that cannot be planned")
    (project / "__main__.py").write_text(program("base", **BASE))
    commit(root, "base")
    (project / "__main__.py").write_text(program("head", **HEAD))
    commit(root, "change")
    return project


def plan_diff(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tooling.plan_diff", "--stack", "dev", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    return make_repository(root, root)


@pytest.fixture(scope="module")
def diff(repo) -> str:
    result = plan_diff(repo, "--base", "HEAD~1")
    assert result.returncode == 0, result.stderr
    return result.stdout


def section(markdown: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ", maxsplit=1)[0]
    start = markdown.index(heading + "\n")
    ends = [markdown.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    ends = [end for end in ends if end != -1]
    return markdown[start : min(ends) if ends else len(markdown)]


def test_the_summary_counts_what_is_added_changed_removed_and_unchanged(diff, repo):
    assert diff.startswith("### Offline plan diff: `ack-inference/dev`\n")
    assert "Base `HEAD~1` (" in diff
    # Added: the ConfigMap; removed: the EIP; changed: the node pool and the Deployment. The Secret's new value
    # is redacted in both plans, so it is unchanged, like the cluster, provider and namespace.
    assert "**1 to add, 2 to change, 1 to remove** (4 unchanged)" in diff


def test_added_and_removed_resources_are_listed_by_type_and_name(diff):
    added = section(diff, "#### Added (1)")
    assert "| `kubernetes:core/v1:ConfigMap` | `extra` |" in added
    removed = section(diff, "#### Removed (1)")
    assert "| `alicloud:ecs/eipAddress:EipAddress` | `eip` |" in removed


def test_a_changed_cloud_resource_shows_its_changed_inputs(diff):
    node_pool = section(diff, "##### `alicloud:cs/nodePool:NodePool` `gpu`")
    rows = [line for line in node_pool.splitlines() if line.startswith("| `")]
    assert rows == ["| `inputs.scalingConfig.maxSize` | `2` | `4` |"]


def test_a_changed_kubernetes_object_shows_a_unified_diff_of_its_manifest(diff):
    deployment = section(diff, "##### `kubernetes:apps/v1:Deployment` `vllm`")
    block = deployment.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert block[:2] == ["--- base", "+++ working tree"]
    assert [line for line in block if line[:1] in "+-" and line[:3] not in ("---", "+++")] == [
        "-  replicas: 1",
        "+  replicas: 2",
    ]
    assert " spec:" in block and "   name: vllm" in block, "unchanged lines around the change give context"


def test_secrets_stay_redacted(diff):
    for secret in ("first-s3cret", "second-s3cret", "kubeconfig-text"):
        assert secret not in diff
    assert "`token`" not in diff, "a secret whose value changed shows no change"


def test_the_cost_delta_of_the_change(diff):
    cluster = ACK_PRO_LIST_PRICE * HOURS
    base = (cluster + 1 * GPU_PRICE * HOURS + EIP_PRICE * HOURS, cluster + 2 * GPU_PRICE * HOURS + EIP_PRICE * HOURS)
    head = (cluster + 1 * GPU_PRICE * HOURS, cluster + 4 * GPU_PRICE * HOURS)
    assert (
        f"{base[0]:,.2f} to {base[1]:,.2f} -> {head[0]:,.2f} to {head[1]:,.2f} "
        f"({head[0] - base[0]:+,.2f} to {head[1] - base[1]:+,.2f})"
    ) in diff
    assert (
        f"| node pool gpu (1-2 x {GPU}) -> node pool gpu (1-4 x {GPU}) "
        f"| {GPU_PRICE * HOURS:,.2f} to {2 * GPU_PRICE * HOURS:,.2f} "
        f"| {GPU_PRICE * HOURS:,.2f} to {4 * GPU_PRICE * HOURS:,.2f} |"
    ) in diff
    assert f"| EIP eip | {EIP_PRICE * HOURS:,.2f} | - |" in diff
    # The cluster costs the same on both sides, so it is no row of the table.
    assert "| cluster ack" not in diff
    assert "Not counted: no price configured for load balancers." in diff


def test_the_working_tree_is_compared_with_uncommitted_edits(repo):
    main = repo / "__main__.py"
    committed = main.read_text()
    try:
        main.write_text(program("edited", **{**HEAD, "replicas": 3}))
        result = plan_diff(repo, "--base", "HEAD")
    finally:
        main.write_text(committed)
    assert result.returncode == 0, result.stderr
    assert "**0 to add, 1 to change, 0 to remove** (6 unchanged)" in result.stdout
    assert "-  replicas: 2\n+  replicas: 3" in result.stdout
    assert "(+0.00)" in result.stdout


def test_an_identical_revision_has_no_changes(repo):
    result = plan_diff(repo, "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "**0 to add, 0 to change, 0 to remove** (7 unchanged)" in result.stdout
    assert result.stdout.rstrip().endswith("No resource changes.")


def test_a_base_that_cannot_be_planned_shows_the_working_trees_plan_with_a_warning(repo):
    """A pull request that fixes a broken main still gets a diff: everything in the working tree, as added."""
    result = plan_diff(repo, "--base", "HEAD~2")
    assert result.returncode == 0, result.stderr
    assert (
        "**Warning**: the base `HEAD~2` could not be planned (exit code 2); every resource of the working tree "
        "is listed as added."
    ) in result.stdout
    assert "broken on purpose" in result.stdout
    assert "Traceback" not in result.stdout
    assert "**7 to add, 0 to change, 0 to remove** (0 unchanged)" in result.stdout
    assert result.stderr.startswith("warning: **Warning**: the base `HEAD~2` could not be planned")


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x"])
def test_an_unknown_revision_is_a_clear_error(repo, ref):
    result = plan_diff(repo, f"--base={ref}")
    assert result.returncode == 1
    assert f"Not available: `{ref}` is not a commit of the repository at {repo}." in result.stdout
    assert result.stderr.startswith("error: ")


def test_a_project_in_a_sub_folder_of_the_repository(tmp_path):
    project = make_repository(tmp_path, tmp_path / "infra")
    result = plan_diff(project, "--base", "HEAD~1")
    assert result.returncode == 0, result.stderr
    assert "**1 to add, 2 to change, 1 to remove** (4 unchanged)" in result.stdout


def test_a_plan_reads_back_from_its_json_unchanged(tmp_path):
    plan = simulate(stack_config("dev"), program=recording_program)
    write_plan(plan, tmp_path)
    assert load_plan(tmp_path / "plan.json").to_json() == plan.to_json()


def test_long_output_is_cut_at_a_line_with_its_code_block_closed():
    markdown = "### Offline plan diff\n\n```diff\n" + "".join(f"+line {n}\n" for n in range(5000)) + "```\n"
    cut = truncate(markdown, 2000)
    assert len(cut) <= 2000
    assert cut.count("```") % 2 == 0
    assert cut.endswith("truncated: run `python -m tooling.plan_diff` locally for the full diff.\n")
    assert truncate(markdown, len(markdown)) == markdown


def test_between_two_revisions_of_this_project(tmp_path):
    """The real program: a bigger GPU pool and a shorter backend timeout, priced from the stack's price table."""
    project = copy_program(tmp_path)
    stack_path = project / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_path.read_text())
    gpu = GpuPoolSettings()
    stack["config"]["ack-inference:prices"] = {"instanceTypes": dict.fromkeys(gpu.instance_types, GPU_PRICE)}
    stack_path.write_text(yaml.safe_dump(stack))
    git(project, "init", "-q")
    commit(project, "base")
    stack["config"]["ack-inference:nodePools"] = {"gpu": {"maxSize": gpu.max_size + 2}}
    stack["config"]["ack-inference:gateway"] = {"backendRequestTimeout": "1h"}
    stack_path.write_text(yaml.safe_dump(stack))

    result = plan_diff(project, "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    diff = result.stdout
    assert f"| `inputs.scalingConfig.maxSize` | `{gpu.max_size}` | `{gpu.max_size + 2}` |" in diff
    routes = diff.split("##### `kubernetes:gateway.networking.k8s.io/v1:HTTPRoute`")[1:]
    assert routes, "the routes carry the timeout"
    for route in routes:
        assert "```diff\n" in route and "-      backendRequest: 24h\n+      backendRequest: 1h\n" in route
    assert f"**0 to add, {1 + len(routes)} to change, 0 to remove**" in diff
    assert f"(+0.00 to +{2 * GPU_PRICE * HOURS:,.2f})" in diff


def test_options_of_a_kubernetes_object_show_beside_its_manifest_diff():
    def namespace(protect: bool, label: str):
        def program() -> None:
            provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig-text"))
            k8s.core.v1.Namespace(
                "ns",
                metadata={"name": "llm", "labels": {"team": label}},
                opts=pulumi.ResourceOptions(provider=provider, protect=protect),
            )

        return simulate(stack_config("dev"), program=program)

    base, head = namespace(False, "a"), namespace(True, "b")
    markdown = render_markdown("`main`", Side(base, None), Side(head, None))
    change = section(markdown, "##### `kubernetes:core/v1:Namespace` `ns`")
    assert "-    team: a\n+    team: b\n" in change
    assert "```\n\n| Field | Base | Working tree |" in change
    assert "| `options.protect` | `false` | `true` |" in change
    assert "not compared (the working tree's `ack-inference:prices` cannot be read)" in markdown


def test_a_graph_of_what_changed_styles_added_changed_and_removed_nodes(diff):
    graph = section(diff, "#### Graph of what changed").split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    assert graph.startswith("flowchart LR\n")
    classes = dict(
        (line.split()[-1], line.split()[1].split(","))
        for line in graph.splitlines()
        if line.strip().startswith("class ")
    )
    labels = {m.group(1): m.group(2) for m in re.finditer(r'^\s*(r_\w+)[\[(]"(\w+)<br/>', graph, re.M)}
    named = {style: sorted(labels[ident] for ident in ids) for style, ids in classes.items()}
    assert named == {"added": ["extra"], "changed": ["gpu", "vllm"], "removed": ["eip"]}
    assert "classDef removed fill:#ffeef0,stroke:#cb2431,stroke-dasharray:5 5" in graph
