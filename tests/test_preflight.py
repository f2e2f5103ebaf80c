"""Stack files that a real `pulumi up` (or the cluster) would reject fail the offline plan first: exit 2, one
line naming the key, no traceback, nothing written. Each case is a finding of issue 12."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from tooling.offline.checkout import copy_program

DEV = {
    "pulumi:disable-default-providers": ["kubernetes"],
    "alicloud:region": "cn-hangzhou",
    "ack-inference:tier": "development",
}
SIX_ZONES = [{"zoneId": f"cn-hangzhou-{z}", "cidr": f"10.0.{16 * i}.0/20"} for i, z in enumerate("bghijk")]
LORA = {"chatTemplate": "llama-2"}

# (case, config entries added to (or, with None, removed from) the dev stack, the key the one line names)
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("six vswitches", {"ack-inference:network": {"vswitches": SIX_ZONES}}, "ack-inference:network.vswitches:"),
    (
        "EIP bandwidth above 200",
        {"ack-inference:network": {"egressBandwidthMbps": 500}},
        "ack-inference:network.egressBandwidthMbps:",
    ),
    ("cluster name starting with a digit", {"ack-inference:cluster": {"name": "1st"}}, "ack-inference:cluster.name:"),
    ("one-character cluster name", {"ack-inference:cluster": {"name": "a"}}, "ack-inference:cluster.name:"),
    (
        "chat template over 1 MiB",
        {"ack-inference:models": [{"chatTemplate": "{{ x }}" + "x" * (2 * 1024 * 1024)}]},
        "ack-inference:models[0].chatTemplate:",
    ),
    (
        "pod memory below /dev/shm",
        {"ack-inference:models": [{**LORA, "memory": "2Gi", "shmSizeGib": 4}]},
        "ack-inference:models[0].memory:",
    ),
    (
        "maxCpuLoras below maxLoras",
        {"ack-inference:models": [{**LORA, "lora": {"maxLoras": 4, "maxCpuLoras": 2}}]},
        "ack-inference:models[0].lora.maxCpuLoras:",
    ),
    (
        "duplicate adapter names",
        {
            "ack-inference:models": [
                {**LORA, "lora": {"adapters": [{"name": "sql", "path": "a/b"}, {"name": "sql", "path": "c/d"}]}}
            ]
        },
        "ack-inference:models[0].lora.adapters[1].name:",
    ),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, bool]]:
    project = copy_program(tmp_path_factory.mktemp("checkout"))

    def run(case: tuple[str, dict[str, Any], str]) -> tuple[str, tuple[subprocess.CompletedProcess, bool]]:
        name, entries, _ = case
        stack = name.replace(" ", "-").replace("/", "")
        config = {key: value for key, value in {**DEV, **entries}.items() if value is not None}
        (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
        result = subprocess.run(
            [sys.executable, "-m", "tooling.plan", "--stack", stack, "--out", f"build/{stack}"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return name, (result, (project / f"build/{stack}").exists())

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize(("name", "entries", "key"), CASES, ids=[case[0] for case in CASES])
def test_the_plan_fails_where_pulumi_up_would(results, name, entries, key):
    result, wrote = results[name]
    assert result.returncode == 2, result.stdout[-2000:]
    assert not wrote
    assert "Traceback" not in result.stderr + result.stdout
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1 and problems[0].startswith(f"  - {key}"), result.stderr
