"""An independent scanner: checkov (a pinned dev dependency) on every committed stack's rendered Kubernetes
objects (the plan command's `kubernetes.yaml`), plus `dev` with a self-hosted endpoint picker, which no committed
stack runs. Every remaining finding must be justified in the one reviewed skip list, tests/checkov/skips.yaml."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness import plan_stack
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks
from tooling.plan import render_kubernetes_yaml

SKIPS = Path(__file__).parent / "checkov" / "skips.yaml"
SELF_HOSTED_PICKER = {"routing": {"endpointPicker": {"mode": "selfHosted", "replicas": 2}}}
VARIANTS = {stack: (stack, None) for stack in available_stacks(PROJECT_DIR)} | {
    "self-hosted-picker": ("dev", SELF_HOSTED_PICKER)
}


def skip_list() -> dict[tuple[str, str], str]:
    """(check id, resource) -> reason."""
    return {
        (entry["check"], resource): entry["reason"]
        for entry in yaml.safe_load(SKIPS.read_text())
        for resource in entry["resources"]
    }


@functools.cache
def scan(tmp: Path) -> dict[str, dict]:
    """checkov's report per variant: one folder each, one file per object."""
    for variant, (stack, overrides) in VARIANTS.items():
        folder = tmp / variant
        folder.mkdir(parents=True)
        plan = plan_stack(stack, overrides) if overrides else plan_stack(stack)
        # checkov 3.1.47 reads none of the objects of the multi-document file (0 resources), one per file it reads.
        for index, body in enumerate(yaml.safe_load_all(render_kubernetes_yaml(plan))):
            (folder / f"{index:03d}-{body['kind']}.yaml").write_text(yaml.safe_dump(body))
    command = [sys.executable, "-m", "checkov.main", "--framework", "kubernetes", "--skip-download", "--output", "json"]
    command += ["--directory", str(tmp)]
    # Exit code 1 means findings; the report says which.
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    (kubernetes,) = [r for r in reports if r["check_type"] == "kubernetes"]
    assert kubernetes["summary"]["parsing_errors"] == 0
    per_variant: dict[str, dict] = {variant: {"failed": set(), "resources": set()} for variant in VARIANTS}
    for outcome in ("passed_checks", "failed_checks"):
        for check in kubernetes["results"][outcome]:
            variant = Path(check["repo_file_path"].lstrip("/")).parts[-2]
            per_variant[variant]["resources"].add(check["resource"])
            if outcome == "failed_checks":
                per_variant[variant]["failed"].add((check["check_id"], check["resource"]))
    return per_variant


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> dict[str, dict]:
    return scan(tmp_path_factory.mktemp("checkov"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_finding_is_justified_in_the_skip_list(findings, variant):
    # The scanner read the workloads: a parsing change must not pass silently.
    assert any(r.startswith("Deployment.") for r in findings[variant]["resources"]), findings[variant]["resources"]
    unjustified = sorted(findings[variant]["failed"] - skip_list().keys())
    assert unjustified == []


def test_the_skip_list_holds_no_stale_entry_and_every_entry_says_why(findings):
    needed = set().union(*(f["failed"] for f in findings.values()))
    assert sorted(skip_list().keys() - needed) == []
    assert all(len(reason) > 20 for reason in skip_list().values())


def test_the_picker_and_the_server_pods_pass_the_least_privilege_checks(findings):
    failed = findings["self-hosted-picker"]["failed"]
    picker = "Deployment.default.inference-gateway-ext-proc"
    # Root (23, 40), writable root filesystem (22), a service-account token where none is needed (38: model servers).
    for check in ("CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_40"):
        assert (check, picker) not in failed
    assert ("CKV_K8S_38", "Deployment.default.vllm-llama2-7b-pool") not in failed
    assert picker in findings["self-hosted-picker"]["resources"]
