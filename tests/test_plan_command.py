"""`python -m tooling.plan` end to end, run the way a user runs it, from a copy of the project."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tooling.offline.checkout import copy_program
from tooling.offline.stack_files import UNDECRYPTED_SECRET


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A user's checkout: the program and its stack files, nothing from the test run."""
    return copy_program(tmp_path_factory.mktemp("checkout"))


def run_plan(project: Path, stack: str, out: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tooling.plan", "--stack", stack, "--out", out],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def planned(project) -> dict[str, dict[str, str]]:
    """dev and prod, each planned twice into separate folders (two plans at a time, one per core)."""
    runs = [(stack, attempt) for stack in ("dev", "prod") for attempt in ("first", "second")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        finished = pool.map(lambda run: run_plan(project, run[0], f"build/{run[0]}-{run[1]}"), runs)
        completed = dict(zip(runs, finished, strict=True))
    results = {}
    for stack in ("dev", "prod"):
        for attempt in ("first", "second"):
            result = completed[stack, attempt]
            assert result.returncode == 0, result.stderr
            results[f"{stack}-{attempt}"] = {
                "stdout": result.stdout,
                "stderr": result.stderr,
                "kubernetes.yaml": (project / f"build/{stack}-{attempt}/kubernetes.yaml").read_text(),
                "plan.json": (project / f"build/{stack}-{attempt}/plan.json").read_text(),
            }
    return results


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_two_runs_write_byte_identical_files(planned, stack):
    first, second = planned[f"{stack}-first"], planned[f"{stack}-second"]
    assert first["kubernetes.yaml"] == second["kubernetes.yaml"]
    assert first["plan.json"] == second["plan.json"]
    assert first["stdout"].replace(f"{stack}-first", "") == second["stdout"].replace(f"{stack}-second", "")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_kubernetes_yaml_holds_complete_objects_in_apply_order(planned, stack):
    documents = list(yaml.safe_load_all(planned[f"{stack}-first"]["kubernetes.yaml"]))
    assert documents, "the stack renders Kubernetes objects"
    kinds = [document["kind"] for document in documents]
    for document in documents:
        assert set(document) >= {"apiVersion", "kind", "metadata"}
        assert list(document)[:3] == ["apiVersion", "kind", "metadata"]
        assert document["metadata"]["name"]
    # Namespaces before anything that lives in them; workloads before the policies that select them.
    if "Namespace" in kinds:
        assert kinds.index("Namespace") == 0
    assert "Deployment" in kinds


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_json_lists_every_resource_with_its_graph_and_options(planned, stack):
    plan = json.loads(planned[f"{stack}-first"]["plan.json"])
    assert plan["project"] == "ack-inference"
    assert plan["stack"] == stack
    by_urn = {resource["urn"]: resource for resource in plan["resources"]}
    stack_urn = f"urn:pulumi:{stack}::ack-inference::pulumi:pulumi:Stack::ack-inference-{stack}"
    components = [r for r in plan["resources"] if not r["custom"]]
    assert components, "components are listed"
    assert all(r["type"].startswith("ack-inference:") for r in components)
    for resource in plan["resources"]:
        assert set(resource) == {
            "urn", "type", "name", "custom", "parent", "provider", "dependencies", "options", "inputs",
        }  # fmt: skip
        assert set(resource["options"]) >= {"protect", "ignoreChanges", "deleteBeforeReplace"}
        assert resource["parent"] == stack_urn or resource["parent"] in by_urn
        assert all(dependency in by_urn for dependency in resource["dependencies"])
        if resource["type"].startswith("kubernetes:"):
            assert by_urn[resource["provider"]]["type"] == "pulumi:providers:kubernetes"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_summary_shows_the_component_tree_and_counts_by_type(planned, stack):
    stdout = planned[f"{stack}-first"]["stdout"]
    plan = json.loads(planned[f"{stack}-first"]["plan.json"])
    assert f"Stack ack-inference/{stack}: {len(plan['resources'])} resources" in stdout
    assert "Component tree:" in stdout
    assert "Resources by type:" in stdout
    for resource in plan["resources"]:
        if not resource["custom"]:
            assert f"- {resource['name']} ({resource['type']}," in stdout
    counts = {}
    for resource in plan["resources"]:
        counts[resource["type"]] = counts.get(resource["type"], 0) + 1
    for type_token, count in counts.items():
        assert f"{count:3d}  {type_token}" in stdout


def test_a_stack_file_a_user_adds_is_planned(project):
    (project / "Pulumi.staging.yaml").write_text(
        "config:\n  pulumi:disable-default-providers: [kubernetes]\n  alicloud:region: cn-hangzhou\n"
        "  ack-inference:tags:\n    team: search\n"
    )
    result = run_plan(project, "staging", "build/staging")
    assert result.returncode == 0, result.stderr
    assert "Stack ack-inference/staging:" in result.stdout
    assert (project / "build/staging/plan.json").is_file()


def test_config_mistakes_exit_non_zero_with_one_line_per_key_and_no_traceback(project):
    (project / "Pulumi.broken.yaml").write_text(
        "config:\n  ack-inference:modles: []\n  ack-inference:tier: 3\n  ack-inference:models:\n    - replicas: 0\n"
    )
    result = run_plan(project, "broken", "build/broken")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "ack-inference:modles: unknown key (did you mean 'models'?)" in result.stderr
    assert "ack-inference:tier: Input should be 'development' or 'production'" in result.stderr
    assert "ack-inference:models[0].replicas: Input should be greater than or equal to 1" in result.stderr
    assert not (project / "build/broken").exists()


def test_an_unknown_stack_is_a_clear_error(project):
    result = run_plan(project, "nosuchstack", "build/nosuchstack")
    assert result.returncode == 2
    assert "no stack file Pulumi.nosuchstack.yaml (stacks with a file: " in result.stderr
    assert "Traceback" not in result.stderr


def test_secure_values_plan_as_redacted_secrets(project):
    (project / "Pulumi.secure.yaml").write_text(
        "config:\n  pulumi:disable-default-providers: [kubernetes]\n  alicloud:region: cn-hangzhou\n"
        "  ack-inference:hfToken:\n    secure: v1:Y2lwaGVydGV4dA==\n"
    )
    result = run_plan(project, "secure", "build/secure")
    assert result.returncode == 0, result.stderr
    written = "".join(path.read_text() for path in (project / "build/secure").iterdir()) + result.stdout
    assert "Y2lwaGVydGV4dA==" not in written
    assert UNDECRYPTED_SECRET not in written


def assert_one_line_error(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and text in result.stderr


def test_a_failed_plan_removes_the_previous_plan_of_that_folder(project):
    stack_file = project / "Pulumi.flaky.yaml"
    stack_file.write_text("config:\n  pulumi:disable-default-providers: [kubernetes]\n  alicloud:region: cn-hangzhou\n")
    assert run_plan(project, "flaky", "build/flaky").returncode == 0
    assert sorted(p.name for p in (project / "build/flaky").iterdir()) == ["graph.mmd", "kubernetes.yaml", "plan.json"]
    stack_file.write_text("config:\n  ack-inference:tier: 3\n")
    result = run_plan(project, "flaky", "build/flaky")
    assert result.returncode == 2
    assert not (project / "build/flaky").exists(), "a stale plan would look current"
    assert not [p for p in (project / "build").iterdir() if p.name.startswith(".flaky")], "no staging folder left"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"config:\n  ack-inference:tags:\n    team: caf\xe9\n", "Pulumi.bytes.yaml: not UTF-8 text (byte 43)"),
        (b"config: [\n", "Pulumi.bytes.yaml: not valid YAML (while parsing a flow node"),
    ],
    ids=["latin-1", "yaml"],
)
def test_an_unreadable_stack_file_is_one_line(project, content, message):
    (project / "Pulumi.bytes.yaml").write_bytes(content)
    assert_one_line_error(run_plan(project, "bytes", "build/bytes"), message)


def test_a_folder_in_the_stack_files_place_is_one_line(project):
    (project / "Pulumi.folder.yaml").mkdir()
    assert_one_line_error(run_plan(project, "folder", "build/folder"), "no stack file Pulumi.folder.yaml")


def test_an_out_path_that_is_a_file_is_one_line_and_left_alone(project):
    (project / "not-a-folder").write_text("mine")
    assert_one_line_error(run_plan(project, "dev", "not-a-folder"), "--out not-a-folder: is a file, not a folder")
    assert (project / "not-a-folder").read_text() == "mine"


def test_an_out_folder_with_other_files_is_refused_and_left_alone(project):
    (project / "mine").mkdir()
    (project / "mine" / "notes.txt").write_text("mine")
    assert_one_line_error(run_plan(project, "dev", "mine"), "--out mine: holds files that are not a plan (notes.txt)")
    assert (project / "mine" / "notes.txt").read_text() == "mine"


def test_a_successful_plan_prints_nothing_on_stderr(planned):
    for run in planned.values():
        assert "Exception ignored" not in run["stderr"] and "Traceback" not in run["stderr"]


def test_unreachable_or_unprovable_stacks_exit_2_naming_each_key(project):
    # A gated repository without a token (outside mainland China), internet sources without a NAT gateway, a
    # one-pod benchmark and a flag the program sets: each one line naming its key, nothing planned.
    (project / "Pulumi.unreachable.yaml").write_text(
        "config:\n  pulumi:disable-default-providers: [kubernetes]\n  alicloud:region: ap-southeast-1\n"
        "  ack-inference:network:\n    natGateway: false\n"
        "  ack-inference:benchmark:\n    enabled: true\n"
        "  ack-inference:models:\n    - extraArgs: ['--port', '9000']\n      env: {HF_TOKEN: x}\n"
    )
    result = run_plan(project, "unreachable", "build/unreachable")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for key in (
        "ack-inference:hfToken: is required",
        "ack-inference:models[0].image: needs the internet",
        "ack-inference:models[0].source.type: `huggingFace` downloads the weights from the internet",
        "ack-inference:models[0].replicas: must be at least 2 while `benchmark.enabled`",
        "ack-inference:models[0].extraArgs[0]: `--port` is set by the program",
        "ack-inference:models[0].env.HF_TOKEN: is set by the program from `hfToken`",
    ):
        assert key in result.stderr, key
    assert not (project / "build/unreachable").exists()


def test_a_users_checkout_checks_extra_args_against_the_vllm_catalogue(project):
    # The catalogues under schemas/vllm are read by the program: a checkout without them would accept any flag.
    (project / "Pulumi.flags.yaml").write_text(
        "config:\n  alicloud:region: cn-hangzhou\n  ack-inference:models:\n    - extraArgs: ['--max-num-seq', '8']\n"
    )
    result = run_plan(project, "flags", "build/flags")
    assert result.returncode == 2
    assert "ack-inference:models[0].extraArgs[0]: `--max-num-seq` is not a flag of vLLM" in result.stderr
